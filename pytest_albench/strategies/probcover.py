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
   still covers the pool, only with smaller balls.
2. **Ball graph.** Built once per run and kept in ``inputs.memo["probcover"]`` under a
   fingerprint of the embeddings and settings, so later cycles reuse it. It is stored as CSR
   (row pointer + int32 column indices), built in row blocks whose size keeps each N-wide block of
   distances near 2^24 entries. Entries within rounding distance of δ are recomputed exactly in
   float64 from coordinate differences, which makes the graph exactly symmetric — the greedy relies
   on that to update gains from out-edges.
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

from .._torch_ops import DEFAULT_CHUNK, kmeans, sq_norms, sqdist_block, torch_generator
from ._common import argmax_in_order, as_indices, random_fill
from .base import QueryInputs, register_strategy

#: Entries per N-wide distance block while scanning the pool (float32: 64 MiB).
BLOCK_ENTRIES = 2**24
#: Rows per batch when collecting neighbours of many points at once.
ROW_BATCH = 1024
#: k-means restarts for the pseudo-labels (lowest inertia kept): one start often merges two classes.
KMEANS_RESTARTS = 3
#: Pseudo-label clusters when the number of classes is unknown (cold-start initial pools).
FALLBACK_CLUSTERS = 10


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


def _row_blocks(x: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (start, squared distances of a block of rows to all N rows), bounded by BLOCK_ENTRIES."""
    n = x.shape[0]
    rows = max(1, min(DEFAULT_CHUNK, BLOCK_ENTRIES // max(n, 1)))
    x_sq = sq_norms(x)
    for start in range(0, n, rows):
        yield start, sqdist_block(x[start : start + rows], x, x_sq)


def scan_distances(
    x: torch.Tensor, pseudo: torch.Tensor, k: int | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One pass over all pairs for everything δ needs.

    Returns
    -------
    other : (N,) Euclidean distance from each point to the nearest point of another pseudo-label
        (+inf when there is none).
    kth : (N,) Euclidean distance to the k-th nearest row, the row itself counted first; ``None``
        when ``k`` is ``None``.
    """
    other = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    kth = torch.empty_like(other) if k is not None else None
    for start, block in _row_blocks(x):
        stop = start + block.shape[0]
        if kth is not None and k is not None:
            kth[start:stop] = block.topk(k, dim=1, largest=False).values[:, -1]
        same = pseudo[start:stop, None] == pseudo[None, :]
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
    values = torch.sort(other_dist.double().cpu()).values
    allowed_impure = int(np.floor((1.0 - purity) * values.shape[0] + 1e-9))
    upper = float(values[min(allowed_impure, values.shape[0] - 1)])
    below = values[values < upper]
    lower = float(below[-1]) if below.numel() else 0.0
    return 0.5 * (lower + upper)  # +inf when a single pseudo-label leaves every ball pure


def _within_radius(
    block: torch.Tensor, rows: torch.Tensor, x: torch.Tensor, x_sq: torch.Tensor, radius_sq: float
) -> torch.Tensor:
    """Mask of ``block`` (squared distances of ``rows`` to all of ``x``) within ``radius_sq``.

    Entries that rounding could put on either side are recomputed in float64 from coordinate
    differences, which gives d(i, j) == d(j, i) bit for bit and hence a symmetric graph.
    """
    if not np.isfinite(radius_sq):
        return torch.ones_like(block, dtype=torch.bool)
    # per-row bound (largest column norm) instead of a per-entry one: one block-sized temporary less
    tol = 2048.0 * torch.finfo(x.dtype).eps * (sq_norms(rows) + x_sq.max() + radius_sq)
    mask = block <= radius_sq
    unsure = torch.nonzero((block - radius_sq).abs_() <= tol[:, None])
    step = max(1, 2**22 // max(x.shape[1], 1))
    for start in range(0, unsure.shape[0], step):
        r, c = unsure[start : start + step].unbind(1)
        exact = (rows[r].double() - x[c].double()).square().sum(dim=1)
        mask[r, c] = exact <= radius_sq
    return mask


def build_ball_graph(x: torch.Tensor, delta: float) -> BallGraph:
    """The δ-ball graph of the rows of ``x`` (N, d), in row blocks; memory O(edges + block)."""
    x_sq = sq_norms(x)
    radius_sq = delta * delta
    counts: list[torch.Tensor] = []
    cols: list[torch.Tensor] = []
    for start, block in _row_blocks(x):
        rows = x[start : start + block.shape[0]]
        mask = _within_radius(block, rows, x, x_sq, radius_sq)
        counts.append(mask.sum(dim=1))
        cols.append(torch.nonzero(mask)[:, 1].to(torch.int32))  # row-major, so grouped by row
    ptr = torch.cat([torch.zeros(1, dtype=torch.long, device=x.device), torch.cumsum(torch.cat(counts), 0)])
    return BallGraph(delta, ptr, torch.cat(cols))


def choose_delta(
    x: torch.Tensor, n_clusters: int, purity: float, max_degree: int | None, gen: torch.Generator
) -> float:
    """δ by the purity rule on a k-means pseudo-labeling, optionally capped (see the module doc)."""
    pseudo, _ = kmeans(x, n_clusters, gen, n_init=KMEANS_RESTARTS)
    capped = max_degree is not None and max_degree < x.shape[0]
    other, kth = scan_distances(x, pseudo, max_degree if capped else None)
    delta = purity_radius(other, purity)
    return min(delta, float(kth.median())) if kth is not None else delta


def _fingerprint(x: torch.Tensor, settings: tuple[object, ...]) -> tuple[object, ...]:
    """Identifies the embeddings (shape, dtype, device, two checksums) together with the settings."""
    checksum = (float(x.sum()), float(sq_norms(x).sum()))
    return (tuple(x.shape), str(x.dtype), str(x.device), checksum, settings)


def ball_graph_for(
    inputs: QueryInputs,
    gen: torch.Generator,
    *,
    delta: float | None,
    n_clusters: int | None,
    purity: float,
    max_degree: int | None,
) -> BallGraph:
    """The run's ball graph from ``inputs.memo``, building (and storing) it on first use."""
    x = inputs.embeddings
    clusters = n_clusters or (inputs.n_classes if inputs.n_classes >= 2 else FALLBACK_CLUSTERS)
    clusters = min(clusters, x.shape[0])
    key = _fingerprint(x, (delta, clusters, purity, max_degree))
    graphs: dict[tuple[object, ...], BallGraph] = inputs.memo.setdefault("probcover", {})
    if key not in graphs:
        radius = delta if delta is not None else choose_delta(x, clusters, purity, max_degree, gen)
        graphs[key] = build_ball_graph(x, radius)
    return graphs[key]


def greedy_cover(
    graph: BallGraph, labeled: torch.Tensor, batch_size: int, gen: torch.Generator
) -> torch.Tensor:
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


@register_strategy("probcover", cold_start=True)
def probcover(
    inputs: QueryInputs,
    batch_size: int,
    rng: np.random.Generator,
    *,
    delta: float | None = None,
    n_clusters: int | None = None,
    purity: float = 0.95,
    max_degree: int | None = 256,
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

    Returns
    -------
    (batch_size,) int64 pool indices, greedy picks first.
    """
    graph_gen, pick_gen = torch_generator(rng), torch_generator(rng)  # picks same whether memo hit
    graph = ball_graph_for(
        inputs, graph_gen, delta=delta, n_clusters=n_clusters, purity=purity, max_degree=max_degree
    )
    return as_indices(greedy_cover(graph, inputs.labeled, batch_size, pick_gen))
