"""Torch kernels shared by the strategies: chunked distances, seeded k-means, top-k with tie-breaks.

Everything here runs on whatever device its inputs live on and processes the pool in row chunks, so
peak memory is O(chunk × M) instead of O(N × M) for an N-point pool against M centres.
Randomness comes only from an explicit ``torch.Generator`` (CPU) derived from the caller's numpy
generator, so results are reproducible for a seed on a given device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch

from . import blas

#: Rows per chunk for N × M distance blocks; 4096 × 4096 float32 ≈ 64 MiB.
DEFAULT_CHUNK = 4096
#: k-means++ seeds from a seeded sample of this many rows per centre when the data is larger (as
#: scikit-learn's MiniBatchKMeans does with ``init_size``): sequential D² seeding is one pass over
#: the rows per centre, which for TypiClust's hundreds of centres cost more than all Lloyd
#: iterations together, and Lloyd's iterations on the full data then move the centres anyway.
KMEANS_SEED_SAMPLE = 4
#: ... but never from fewer rows than this: with few centres the sample is what k-means++ sees of
#: the modes, and seeding a handful of centres from all rows is cheap anyway.
KMEANS_SEED_MIN_ROWS = 2048


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU torch generator seeded from the numpy stream, so one seed drives both libraries."""
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return gen


def sq_norms(x: torch.Tensor, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """Squared row norms, in row chunks so that no N × d temporary (x * x) is ever allocated."""
    if x.shape[0] <= chunk:
        return (x * x).sum(dim=1)
    return torch.cat([sq_norms(x[start : start + chunk], chunk) for start in range(0, x.shape[0], chunk)])


def sqdist_block(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances between rows of ``a`` (n × d) and ``b`` (m × d), clamped at 0."""
    if b_sq is None:
        b_sq = sq_norms(b)
    d = blas.addmm(b_sq[None, :], a, b.T, alpha=-2.0)  # the column norms ride along in the GEMM
    return d.add_(sq_norms(a)[:, None]).clamp_min_(0.0)


def _center_blocks(
    centers: torch.Tensor, c_sq: torch.Tensor, chunk: int
) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Yield (offset, centres, their squared norms) in blocks, so a block is at most chunk × chunk."""
    for start in range(0, centers.shape[0], chunk):
        yield start, centers[start : start + chunk], c_sq[start : start + chunk]


def min_sqdist(x: torch.Tensor, centers: torch.Tensor, chunk: int = DEFAULT_CHUNK) -> torch.Tensor:
    """For each row of ``x``, the squared distance to its nearest row of ``centers`` (inf if none).

    Centres are chunked too, so a large labeled set (CoreSet's start) never builds N × L at once.
    """
    out = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
    if centers.shape[0] == 0:
        return out
    c_sq = sq_norms(centers)
    for start in range(0, x.shape[0], chunk):
        rows = x[start : start + chunk]
        rows_sq = sq_norms(rows)
        for _, cen, cen_sq in _center_blocks(centers, c_sq, chunk):
            # ||a||² is the same along a row and rounding is monotone, so adding it (and clamping)
            # after the min gives the same values as before it, at two passes over the block less
            block = blas.addmm(cen_sq[None, :], rows, cen.T, alpha=-2.0).amin(dim=1)
            block_min = block.add_(rows_sq).clamp_min_(0.0)
            out[start : start + chunk] = torch.minimum(out[start : start + chunk], block_min)
    return out


def nearest_center(
    x: torch.Tensor, centers: torch.Tensor, chunk: int = DEFAULT_CHUNK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of, and squared distance to, the nearest centre for every row of ``x``."""
    idx = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    dist = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
    c_sq = sq_norms(centers)
    for start in range(0, x.shape[0], chunk):
        rows = x[start : start + chunk]
        rows_sq = sq_norms(rows)
        for offset, cen, cen_sq in _center_blocks(centers, c_sq, chunk):
            # ||x||² is the same for every centre, so it is added after the min: one pass less
            d, i = blas.addmm(cen_sq[None, :], rows, cen.T, alpha=-2.0).min(dim=1)
            d = d.add_(rows_sq).clamp_min_(0.0)
            better = d < dist[start : start + chunk]
            dist[start : start + chunk] = torch.where(better, d, dist[start : start + chunk])
            idx[start : start + chunk] = torch.where(better, i + offset, idx[start : start + chunk])
    return idx, dist


def kmeans_pp_init(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding; returns the indices of the k chosen rows (distinct whenever possible).

    The first row is uniform; each further row costs one matrix-vector pass (squared norms are
    computed once), which keeps seeding cheap next to the Lloyd iterations even for k in the hundreds.
    """
    n = x.shape[0]
    if k > n:
        raise ValueError(f"cannot seed {k} centres from {n} points")
    first = int(torch.randint(n, (1,), generator=gen).item())
    x_sq = sq_norms(x)
    eligible = torch.ones(n, dtype=torch.bool, device=x.device)
    chosen = d2_seeding(first, k, lambda j: sqdist_to_point(x, x_sq, j), eligible, gen)
    return torch.tensor(chosen, dtype=torch.long, device=x.device)


def kmeans(
    x: torch.Tensor, k: int, gen: torch.Generator, n_iter: int = 50, tol: float = 1e-3, n_init: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with k-means++ seeding; returns (labels (N,), centres (k × d)).

    Lloyd stops when an iteration lowers the inertia by less than ``tol`` (0.1 %) of its value, or
    after ``n_iter`` iterations: the assignments that the strategies use stop changing long before
    the inertia converges to machine precision, and each iteration is a full N × k distance pass.
    Empty clusters are re-seeded at the point farthest from its centre, so exactly k clusters exist.
    With ``n_init`` > 1 the run with the lowest inertia wins: one k-means++ start splits a large
    cluster and merges two small ones often enough to matter where clusters are the output
    (TypiClust, ProbCover's pseudo-labels).
    """
    best: tuple[float, torch.Tensor, torch.Tensor] | None = None
    for _ in range(max(1, n_init)):
        labels, centers, inertia = _lloyd(x, k, gen, n_iter, tol)
        if best is None or inertia < best[0]:
            best = (inertia, labels, centers)
    assert best is not None
    return best[1], best[2]


def _lloyd(
    x: torch.Tensor, k: int, gen: torch.Generator, n_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One k-means run from one k-means++ seeding; returns labels, centres and the final inertia."""
    k = min(k, x.shape[0])
    seed_rows = x
    sample_size = max(KMEANS_SEED_SAMPLE * k, KMEANS_SEED_MIN_ROWS)
    if x.shape[0] > sample_size:
        seed_rows = x[torch.randperm(x.shape[0], generator=gen)[:sample_size].to(x.device)]
    centers = seed_rows[kmeans_pp_init(seed_rows, k, gen)].clone()
    labels = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    prev_inertia = float("inf")
    for _ in range(n_iter):
        labels, dist = nearest_center(x, centers)
        sums = torch.zeros_like(centers).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        empty = counts == 0
        centers = sums / counts.clamp_min(1.0)[:, None]
        if bool(empty.any()):
            far = torch.argsort(dist, descending=True)[: int(empty.sum())]
            centers[empty] = x[far]
        inertia = float(dist.sum())
        converged = math.isfinite(prev_inertia) and prev_inertia - inertia <= tol * max(prev_inertia, 1e-12)
        if converged and not bool(empty.any()):
            break
        prev_inertia = inertia
    labels, dist = nearest_center(x, centers)
    return labels, centers, float(dist.sum())


def top_k(scores: torch.Tensor, k: int, gen: torch.Generator, largest: bool = True) -> torch.Tensor:
    """Indices of the k best scores, best first; exact ties are broken by a seeded random permutation.

    The answer is the first k of a stable sort of the permuted scores. Sorting all N to keep k is
    most of an uncertainty query's selection cost, so only the rows that can be among the first k
    (at least as good as the k-th best value) are sorted; that gives the same k in the same order.
    """
    perm = torch.randperm(scores.shape[0], generator=gen).to(scores.device)
    permuted = scores[perm]
    k = min(k, permuted.shape[0])
    if k == 0 or not scores.is_floating_point() or bool(torch.isnan(permuted).any()):
        return perm[torch.argsort(permuted, descending=largest, stable=True)[:k]]
    key = -permuted if largest else permuted  # ascending key; negation is exact
    kth = torch.kthvalue(key, k).values
    contenders = torch.nonzero(key <= kth).flatten()  # ascending positions: ties stay in perm order
    order = torch.argsort(key[contenders], stable=True)[:k]
    return perm[contenders[order]]


def sqdist_to_point(x: torch.Tensor, x_sq: torch.Tensor, i: int) -> torch.Tensor:
    """Squared distances from every row of ``x`` to row ``i``: one matrix-vector product, O(N) memory.

    Greedy selectors (CoreSet) update running minima with this after each pick; ``x_sq`` is
    precomputed once so each pick is a single pass over the pool.
    """
    d = blas.matmul(x, x[i]).mul_(-2.0).add_(x_sq).add_(x_sq[i])
    return d.clamp_min_(0.0)


def knn_sqdist(
    query: torch.Tensor,
    ref: torch.Tensor,
    k: int,
    *,
    exclude_self: bool = False,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest squared distances from each query row to the rows of ``ref``, ascending.

    Both sides are chunked and a running top-k is kept, so memory is O(chunk × (chunk + k)) however
    large ``ref`` is. With ``exclude_self`` (``query`` is ``ref``) row i never counts itself, but an
    exact duplicate of it does: duplicates really are at distance 0.

    Returns
    -------
    dist : (Q, k) squared distances, ascending per row.
    index : (Q, k) int64 row indices into ``ref``.
    """
    n_ref = ref.shape[0] - (1 if exclude_self else 0)
    if not 0 <= k <= n_ref:
        raise ValueError(f"cannot take {k} neighbours among {n_ref} reference rows")
    ref_sq = sq_norms(ref)
    dist = torch.empty((query.shape[0], k), dtype=query.dtype, device=query.device)
    index = torch.empty((query.shape[0], k), dtype=torch.long, device=query.device)
    for start in range(0, query.shape[0], chunk):
        rows = query[start : start + chunk]
        best_d = rows.new_empty((rows.shape[0], 0))
        best_i = torch.empty((rows.shape[0], 0), dtype=torch.long, device=query.device)
        for offset, cen, cen_sq in _center_blocks(ref, ref_sq, chunk):
            block = sqdist_block(rows, cen, cen_sq)
            cols = torch.arange(offset, offset + cen.shape[0], device=query.device)
            if exclude_self:
                own = torch.arange(start, start + rows.shape[0], device=query.device)
                block.masked_fill_(own[:, None] == cols[None, :], float("inf"))
            cand_d = torch.cat([best_d, block], dim=1)
            cand_i = torch.cat([best_i, cols.expand(rows.shape[0], -1)], dim=1)
            best_d, pos = cand_d.topk(min(k, cand_d.shape[1]), dim=1, largest=False, sorted=True)
            best_i = cand_i.gather(1, pos)
        dist[start : start + chunk] = best_d
        index[start : start + chunk] = best_i
    return dist, index


def device_generator(gen: torch.Generator, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from ``gen``, for large random masks drawn where they are used.

    On CPU this is ``gen`` itself; on CUDA a fresh generator seeded from it, so a seed still fixes
    the result on a given device without copying N × d masks from host memory.
    """
    if device.type == "cpu":
        return gen
    dev_gen = torch.Generator(device=device)
    dev_gen.manual_seed(int(torch.randint(0, 2**62, (1,), generator=gen).item()))
    return dev_gen


def sample_proportional(weights: torch.Tensor, gen: torch.Generator) -> int:
    """One index drawn with probability proportional to ``weights`` (non-negative, positive sum).

    Inverse-CDF sampling on the weights' device with one uniform from ``gen``: a zero-weight index is
    never returned (its cumulative sum equals its predecessor's), which k-means++ relies on to never
    pick a chosen point twice.
    """
    cum = torch.cumsum(weights.double(), dim=0)
    u = torch.rand((), generator=gen, dtype=torch.float64).to(cum.device)
    target = u * cum[-1]
    pos = int(torch.searchsorted(cum, target.reshape(1), right=True).item())
    if pos >= cum.shape[0] or float(weights[pos]) <= 0.0:  # rounding at the very top
        pos = int(torch.nonzero(weights > 0).flatten()[-1].item())
    return pos


def d2_seeding(
    first: int,
    k: int,
    sqdist_to: Callable[[int], torch.Tensor],
    eligible: torch.Tensor,
    gen: torch.Generator,
) -> list[int]:
    """k-means++ (D²) seeding with a caller-supplied distance, so the points need not exist as rows.

    BADGE seeds on gradient embeddings it never materialises; it passes ``sqdist_to(j)``, the (N,)
    squared distances to point j from a closed form. Only ``eligible`` points can be drawn; a chosen
    point becomes ineligible. If every eligible point coincides with a centre (all weights 0), the
    next one is drawn uniformly among the eligible.
    """
    eligible = eligible.clone()
    eligible[first] = False
    chosen = [first]
    closest = sqdist_to(first)
    for _ in range(1, k):
        weights = torch.where(eligible, closest, torch.zeros_like(closest))
        if float(weights.sum()) > 0.0:
            nxt = sample_proportional(weights, gen)
        else:
            pool = torch.nonzero(eligible).flatten()
            nxt = int(pool[int(torch.randint(pool.shape[0], (1,), generator=gen).item())].item())
        chosen.append(nxt)
        eligible[nxt] = False
        closest = torch.minimum(closest, sqdist_to(nxt))
    return chosen
