"""ProbCover: cover the pool with δ-balls around labeled points, δ as large as class purity allows.

Pipeline, and why each step is shaped as it is:

1. **δ.** Pseudo-label the pool with k-means (``n_clusters`` = number of classes by default). A
   point's δ-ball is *pure* when it holds no point of another pseudo-label, i.e. when δ is below
   that point's distance to the nearest point of another pseudo-label. Purity(δ) is therefore the
   fraction of these distances that exceed δ, and the largest δ with purity ≥ ``purity`` (0.95, as
   in the paper) is read off their sorted values exactly — the limit of the paper's grid search,
   without a grid. δ is placed midway between two consecutive sorted values so that no distance
   sits on the boundary. Optionally (``max_degree``) δ is capped at the median distance to the
   ``max_degree``-th nearest neighbour, so that the median ball holds at most that many points:
   a documented safeguard against a graph with ~N² edges on well-separated data; the greedy then
   still covers the pool, only with smaller balls. On pools above ``DELTA_SAMPLE_ROWS`` points both
   statistics come from a seeded sample of rows (each against every point), not from every row.
2. **Ball graph.** Built once per run and kept in ``inputs.memo["probcover"]`` under a
   fingerprint of the embeddings and settings, so later cycles reuse it. It is stored as CSR
   (row pointer + int32 column indices), built in row blocks whose size keeps each N-wide block of
   distances near 2^24 entries. Only pairs i < j are compared and each decided pair adds both
   edges, which halves the distance work and makes the graph exactly symmetric — the greedy
   relies on that to update gains from out-edges.
3. **Greedy max coverage.** Points covered by labeled balls are removed; each pick is the available
   point whose ball covers the most uncovered points (seeded tie-break), after which the gains of
   the neighbours of newly covered points drop. When no pick would cover anything new, the rest of
   the batch is drawn uniformly from the unlabeled points (seeded).

References
----------
Yehuda, Dekel, Hacohen & Weinshall (2022), "Active learning through a covering lens", NeurIPS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from . import blas
from ._common import argmax_in_order, as_indices, embedding_fingerprint, random_fill
from .base import QueryInputs, register_strategy
from .kernels import DEFAULT_CHUNK, kmeans, sq_norms, sqdist_block, torch_generator
from .params import Param

#: Entries per N-wide distance block while scanning the pool (float32: 64 MiB).
BLOCK_ENTRIES = 2**24
#: Rows per batch when collecting neighbours of many points at once.
ROW_BATCH = 1024
#: Above this many points, δ's two statistics (the purity quantile and the median k-th neighbour
#: distance) are estimated from this many seeded rows against all points instead of from every row:
#: a 5 % quantile and a median from 2,048 rows pin δ to within a few per cent, far below the spread
#: of δ across k-means seeds, and the all-rows scan was the costliest step of the first query.
DELTA_SAMPLE_ROWS = 2048
#: k-means restarts for the pseudo-labels (lowest inertia kept). Lloyd runs until the inertia changes
#: by < 0.1 %, so one
#: k-means++ start is enough (scikit-learn's default); δ depends on the pseudo-labels only through
#: a 5 % quantile, which a locally worse split barely moves.
KMEANS_RESTARTS = 1
#: Pseudo-label clusters when the number of classes is unknown (cold-start initial pools).
FALLBACK_CLUSTERS = 10
#: What a case may set (``strategy_params``).
PARAMS = (
    Param("delta", "float", low=0.0, low_inclusive=False, optional=True, doc="a fixed radius, no purity rule"),
    Param("n_clusters", "int", low=1, optional=True, doc="pseudo-label clusters; default: the number of classes"),
    Param("purity", "float", low=0.0, high=1.0, low_inclusive=False, doc="required fraction of pure balls (0.95)"),
    Param("max_degree", "int", low=1, optional=True, doc="cap δ so the median ball holds at most this many points"),
    Param(
        "delta_grid",
        "floats",
        low=0.0,
        low_inclusive=False,
        optional=True,
        doc="candidate radii: the largest with enough purity (scikit-activeml: 0.2, 0.4, ..., 2.0); None: exact",
    ),
)
#: scikit-activeml 1.0.1's candidate radii (``np.arange(0.2, 2.2, 0.2)``), for its protocol.
SKACTIVEML_DELTA_GRID = tuple(round(0.2 * i, 1) for i in range(1, 11))


@dataclass(frozen=True)
class BallGraph:
    """The δ-ball graph in CSR form: ball(i) = col[ptr[i]:ptr[i+1]], itself included.

    Attributes
    ----------
    delta : the radius δ (Euclidean).
    ptr : (N + 1,) int64 row pointer.
    col : (E,) int32 column indices.
    """

    delta: float
    ptr: torch.Tensor
    col: torch.Tensor

    @property
    def degree(self) -> torch.Tensor:
        """(N,) int64 ball sizes."""
        return self.ptr[1:] - self.ptr[:-1]

    def neighbours(self, rows: torch.Tensor) -> torch.Tensor:
        """All members of the balls of ``rows`` (with repeats), as int64 indices."""
        starts = self.ptr[rows]
        lengths = self.ptr[rows + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return torch.empty(0, dtype=torch.long, device=self.ptr.device)
        shift = torch.repeat_interleave(starts - (torch.cumsum(lengths, 0) - lengths), lengths)
        return self.col[torch.arange(total, device=self.ptr.device) + shift].long()


def _row_blocks(queries: torch.Tensor, x: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start, squared distances of a block of query rows to all N rows of ``x``), bounded by
    BLOCK_ENTRIES."""
    n = x.shape[0]
    rows = max(1, min(DEFAULT_CHUNK, BLOCK_ENTRIES // max(n, 1)))
    x_sq = sq_norms(x)
    for start in range(0, queries.shape[0], rows):
        yield start, sqdist_block(queries[start : start + rows], x, x_sq)


def scan_distances(
    x: torch.Tensor, pseudo: torch.Tensor, k: int | None, rows: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pass over the pairs (``rows`` × all points; all × all by default) for everything δ needs.

    Returns
    -------
    other : (R,) Euclidean distance from each of the rows to the nearest point of another
        pseudo-label (+inf when there is none).
    kth : (R,) Euclidean distance to the k-th nearest point, the row itself counted first; ``None``
        when ``k`` is ``None``.
    """
    queries = x if rows is None else x[rows]
    query_labels = pseudo if rows is None else pseudo[rows]
    other = torch.empty(queries.shape[0], dtype=x.dtype, device=x.device)
    kth = torch.empty_like(other) if k is not None else None
    for start, block in _row_blocks(queries, x):
        stop = start + block.shape[0]
        if kth is not None and k is not None:
            kth[start:stop] = block.topk(k, dim=1, largest=False).values[:, -1]
        same = query_labels[start:stop, None] == pseudo[None, :]
        other[start:stop] = block.masked_fill_(same, float("inf")).min(dim=1).values
    return other.sqrt(), kth.sqrt() if kth is not None else None


def nearest_other_label(x: torch.Tensor, pseudo: torch.Tensor) -> torch.Tensor:
    """(N,) Euclidean distance from each point to the nearest point with a different pseudo-label."""
    return scan_distances(x, pseudo, None)[0]


def purity_radius(other_dist: torch.Tensor, purity: float) -> float:
    """The largest δ whose balls are pure for at least ``purity`` of the points.

    Parameters
    ----------
    other_dist : (N,) distance of each point to the nearest point of another pseudo-label; the
        δ-ball of i is pure iff ``other_dist[i] > δ``.
    purity : required fraction of pure balls, in (0, 1].

    Returns
    -------
    δ midway between two consecutive distinct sorted distances (or half the smallest one), so
    that purity(δ) ≥ ``purity`` while any δ at or past the upper one would fall below it.
    """
    if not 0.0 < purity <= 1.0:  # outside (0, 1] the index below would wrap around or run past the end
        raise ConfigError(f"probcover: purity must be in (0, 1], got {purity!r}")
    values = torch.sort(other_dist.double().cpu()).values
    allowed_impure = int(np.floor((1.0 - purity) * values.shape[0] + 1e-9))
    upper = float(values[min(allowed_impure, values.shape[0] - 1)])
    below = values[values < upper]
    lower = float(below[-1]) if below.numel() else 0.0
    return 0.5 * (lower + upper)  # +inf when a single pseudo-label leaves every ball pure


def build_ball_graph(x: torch.Tensor, delta: float) -> BallGraph:
    """The δ-ball graph of the rows of ``x`` (N, d), in row blocks; memory O(edges + block).

    Only pairs i < j are compared (the upper triangle, half the distance work), and each decided
    pair becomes both edges i→j and j→i, so the graph is symmetric by construction whatever the
    rounding of an entry near δ — the greedy relies on symmetry to update gains from out-edges.
    """
    n = x.shape[0]
    every = torch.arange(n, device=x.device)
    if not np.isfinite(delta):  # a single pseudo-label: every ball holds the whole pool
        ptr = torch.arange(n + 1, device=x.device) * n
        return BallGraph(delta, ptr, every.repeat(n).to(torch.int32))
    x_sq = sq_norms(x)
    radius_sq = delta * delta
    rows_per_block = max(1, min(DEFAULT_CHUNK, BLOCK_ENTRIES // max(n, 1)))
    sources: list[torch.Tensor] = [every]
    targets: list[torch.Tensor] = [every]
    for start in range(0, n, rows_per_block):
        stop = min(n, start + rows_per_block)
        # ||a||² - 2a·b + ||b||² <= δ²  <=>  -2a·b + ||b||² <= δ² - ||a||²: one GEMM, one compare
        partial = blas.addmm(x_sq[None, start:], x[start:stop], x[start:].T, alpha=-2.0)
        within = partial <= (radius_sq - x_sq[start:stop])[:, None]
        r, c = torch.nonzero(torch.triu(within, diagonal=1)).unbind(1)  # column offset = row offset
        sources += [r + start, c + start]
        targets += [c + start, r + start]
    src = torch.cat(sources)
    dst = torch.cat(targets)
    order = torch.argsort(src * n + dst)  # CSR: grouped by row, columns ascending
    counts = torch.bincount(src, minlength=n)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long, device=x.device), torch.cumsum(counts, 0)])
    return BallGraph(delta, ptr, dst[order].to(torch.int32))


def grid_radius(other_dist: torch.Tensor, purity: float, grid: tuple[float, ...]) -> float:
    """The largest radius of ``grid`` whose balls are pure for at least ``purity`` of the points.

    scikit-activeml's rule: a ball includes its boundary (``distance <= δ``), the candidates are tried
    in increasing order, and when none is pure enough the smallest is used.
    """
    if not 0.0 < purity <= 1.0:
        raise ConfigError(f"probcover: purity must be in (0, 1], got {purity!r}")
    candidates = sorted(grid)
    chosen = candidates[0]
    for delta in candidates:
        if float((other_dist > delta).double().mean()) < purity:
            break
        chosen = delta
    return float(chosen)


def choose_delta(
    x: torch.Tensor,
    n_clusters: int,
    purity: float,
    max_degree: int | None,
    gen: torch.Generator,
    grid: tuple[float, ...] | None = None,
) -> float:
    """δ by the purity rule on a k-means pseudo-labeling (exact, or the best of ``grid``), optionally
    capped (see the module doc)."""
    pseudo, _ = kmeans(x, n_clusters, gen, n_init=KMEANS_RESTARTS)
    capped = max_degree is not None and max_degree < x.shape[0]
    rows = None
    if x.shape[0] > DELTA_SAMPLE_ROWS:
        rows = torch.randperm(x.shape[0], generator=gen)[:DELTA_SAMPLE_ROWS].sort().values.to(x.device)
    other, kth = scan_distances(x, pseudo, max_degree if capped else None, rows)
    delta = purity_radius(other, purity) if grid is None else grid_radius(other, purity, grid)
    return min(delta, float(kth.median())) if kth is not None else delta


def ball_graph_for(
    inputs: QueryInputs,
    gen: torch.Generator,
    *,
    delta: float | None,
    n_clusters: int | None,
    purity: float,
    max_degree: int | None,
    delta_grid: tuple[float, ...] | None = None,
) -> BallGraph:
    """The run's ball graph from ``inputs.memo``, building (and storing) it on first use."""
    x = inputs.embeddings
    clusters = n_clusters or (inputs.n_classes if inputs.n_classes >= 2 else FALLBACK_CLUSTERS)
    clusters = min(clusters, x.shape[0])
    key = embedding_fingerprint(x, (delta, clusters, purity, max_degree, delta_grid))
    graphs: dict[tuple[object, ...], BallGraph] = inputs.memo.setdefault("probcover", {})
    if key not in graphs:
        radius = delta if delta is not None else choose_delta(x, clusters, purity, max_degree, gen, delta_grid)
        graphs[key] = build_ball_graph(x, radius)
    return graphs[key]


def greedy_cover(graph: BallGraph, labeled: torch.Tensor, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """Greedy maximum coverage on ``graph``; the batch is filled at random once nothing is left.

    Parameters
    ----------
    graph : symmetric δ-ball graph over N points.
    labeled : (N,) bool; their balls count as covered and they are never picked.
    batch_size : number of picks.
    gen : seeded generator for tie-breaks and the random fill.

    Returns
    -------
    (batch_size,) int64 indices, greedy picks first.
    """
    n = labeled.shape[0]
    order = torch.randperm(n, generator=gen).to(labeled.device)
    covered = torch.zeros(n, dtype=torch.bool, device=labeled.device)
    gain = graph.degree.clone()
    available = ~labeled
    _cover(graph, torch.nonzero(labeled).flatten(), covered, gain)
    picks: list[int] = []
    while len(picks) < batch_size:
        scores = torch.where(available, gain, torch.full_like(gain, -1))
        pick = argmax_in_order(scores, order)
        if int(scores[pick]) <= 0:
            break
        picks.append(pick)
        available[pick] = False
        _cover(graph, torch.tensor([pick], device=labeled.device), covered, gain)
    greedy = torch.tensor(picks, dtype=torch.long, device=labeled.device)
    return torch.cat([greedy, random_fill(available, batch_size - len(picks), gen)])


def _cover(graph: BallGraph, centres: torch.Tensor, covered: torch.Tensor, gain: torch.Tensor) -> None:
    """Mark the balls of ``centres`` covered and lower every gain by the newly covered points it held.

    A point j counted towards gain[i] iff j ∈ ball(i) iff i ∈ ball(j) (symmetry), so the gains to
    lower are exactly the ball members of the newly covered points.
    """
    for start in range(0, centres.shape[0], ROW_BATCH):
        members = torch.unique(graph.neighbours(centres[start : start + ROW_BATCH]))
        fresh = members[~covered[members]]
        covered[fresh] = True
        for f_start in range(0, fresh.shape[0], ROW_BATCH):
            hit = graph.neighbours(fresh[f_start : f_start + ROW_BATCH])
            gain -= torch.bincount(hit, minlength=gain.shape[0])


@register_strategy("probcover", cold_start=True, params=PARAMS)
def probcover(
    inputs: QueryInputs,
    batch_size: int,
    rng: np.random.Generator,
    *,
    delta: float | None = None,
    n_clusters: int | None = None,
    purity: float = 0.95,
    max_degree: int | None = 256,
    delta_grid: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Query the points whose δ-balls cover the most not-yet-covered pool points (ProbCover).

    Parameters
    ----------
    inputs : reads ``embeddings`` (N, d), ``labeled`` (N,), ``n_classes``; caches the ball graph in
        ``memo["probcover"]``.
    batch_size : number of points to return.
    rng : seeds the pseudo-labeling k-means, tie-breaks and the random fill.
    delta : a fixed radius instead of the purity rule.
    n_clusters : pseudo-label clusters; default ``inputs.n_classes`` (10 if unknown).
    purity : required fraction of pure balls (paper: 0.95).
    max_degree : cap δ so that the median ball holds at most this many points; ``None``: no cap.
    delta_grid : candidate radii; δ is then the largest of them with purity ≥ ``purity`` (the smallest
        when none qualifies), as scikit-activeml 1.0.1 does with :data:`SKACTIVEML_DELTA_GRID` and no
        ``max_degree``. ``None`` (default): the exact largest δ, the limit of a fine grid.

    Returns
    -------
    (batch_size,) int64 pool indices, greedy picks first.
    """
    graph_gen, pick_gen = torch_generator(rng), torch_generator(rng)  # picks same whether memo hit
    graph = ball_graph_for(
        inputs,
        graph_gen,
        delta=delta,
        n_clusters=n_clusters,
        purity=purity,
        max_degree=max_degree,
        delta_grid=delta_grid,
    )
    return as_indices(greedy_cover(graph, inputs.labeled, batch_size, pick_gen))
