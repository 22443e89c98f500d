"""TypiClust: in the low-budget regime, label typical points of distinct, not-yet-covered clusters.

The pool is clustered by k-means into min(|labeled| + batch, ``max_clusters``) clusters. Each pick
takes the cluster with the fewest labeled or already-picked points — ties going to the larger
cluster, then the lower cluster id, so the order is deterministic — and from it the available point
of highest typicality, 1 / mean distance to its k nearest neighbours inside the cluster (k = 20 as in
the paper, capped at cluster size − 1). Clusters smaller than ``min_cluster_size`` are skipped while
any larger one has an available point: tiny clusters are mostly outliers. When every cluster already
holds a labeled point (|labeled| + batch > ``max_clusters``), the "fewest points" rule keeps the
batch spread over clusters instead of failing.

Duplicated points are fine: they are at distance 0 from each other and simply look very typical;
k-means leaves duplicated centres' clusters empty, and empty clusters are never picked.

References
----------
Hacohen, Dekel & Weinshall (2022), "Active learning on a budget: opposite strategies suit high and
low budgets", ICML.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ._common import as_indices, embedding_fingerprint
from .base import QueryInputs, register_strategy
from .kernels import kmeans, knn_sqdist, top_k, torch_generator
from .params import Param

#: What a case may set (``strategy_params``).
PARAMS = (
    Param(
        "max_clusters",
        "int",
        low=1,
        optional=True,
        doc="cap on the number of k-means clusters (paper: 500); None: |labeled| + batch (scikit-activeml)",
    ),
    Param("min_cluster_size", "int", low=1, doc="clusters below this size are skipped while larger ones remain"),
    Param("k_neighbors", "int", low=1, doc="neighbours in the typicality estimate (paper: 20)"),
    Param("n_init", "int", low=1, doc="k-means restarts, the lowest inertia kept"),
)


def mean_knn_distance(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean Euclidean distance from each row of ``x`` (M, d) to its ``k`` nearest other rows; (M,).

    The inverse of TypiClust's typicality; with k = 0 (a single point) every value is 0.
    """
    if k == 0:
        return x.new_zeros(x.shape[0])
    sqdist, _ = knn_sqdist(x, x, k, exclude_self=True)
    return sqdist.sqrt().mean(dim=1)


def next_cluster(sizes: np.ndarray, taken: np.ndarray, free: np.ndarray, min_size: int) -> int:
    """The cluster to pick from next: fewest taken points, then largest, then lowest id.

    Parameters
    ----------
    sizes : (K,) points per cluster.
    taken : (K,) labeled or already-picked points per cluster.
    free : (K,) points still available per cluster; clusters with none are never returned.
    min_size : clusters smaller than this are used only when no larger cluster has free points.
    """
    eligible = free > 0
    big = eligible & (sizes >= min_size)
    if big.any():
        eligible = big
    ids = np.flatnonzero(eligible)
    order = np.lexsort((ids, -sizes[ids], taken[ids]))  # last key is primary
    return int(ids[order[0]])


@dataclass
class Clustering:
    """One k-means of the pool and the typicality of each cluster's members, filled lazily.

    Both depend only on the embeddings and the number of clusters, so a run keeps them in
    ``inputs.memo``: once the cluster count reaches ``max_clusters`` (|L| + B above it), later
    cycles reuse the first one's k-means instead of clustering the pool again.
    """

    assign: np.ndarray
    spread: dict[int, tuple[np.ndarray, torch.Tensor]] = field(default_factory=dict)


def _clustering_for(
    inputs: QueryInputs, n_clusters: int, n_init: int, k_neighbors: int, gen: torch.Generator
) -> Clustering:
    x = inputs.embeddings
    key = embedding_fingerprint(x, (n_clusters, n_init, k_neighbors))
    memo: dict[tuple[object, ...], Clustering] = inputs.memo.setdefault("typiclust", {})
    if key not in memo:
        memo.clear()  # a smaller cluster count is never asked for again within a run
        assign, _ = kmeans(x, n_clusters, gen, n_init=n_init)
        memo[key] = Clustering(assign.cpu().numpy())
    return memo[key]


@register_strategy("typiclust", cold_start=True, params=PARAMS)
def typiclust(
    inputs: QueryInputs,
    batch_size: int,
    rng: np.random.Generator,
    *,
    max_clusters: int | None = 500,
    min_cluster_size: int = 5,
    k_neighbors: int = 20,
    n_init: int = 1,
) -> np.ndarray:
    """Query the most typical point of each of the largest uncovered clusters (TypiClust).

    Parameters
    ----------
    inputs : reads ``embeddings`` (N, d) and ``labeled`` (N,).
    batch_size : number of points to return.
    rng : seeds k-means and breaks typicality ties.
    max_clusters : cap on the number of k-means clusters (the paper's 500), bounding k-means cost;
        ``None``: no cap, always |labeled| + batch clusters (scikit-activeml 1.0.1's setting, with
        ``min_cluster_size=1`` and ``k_neighbors=5``).
    min_cluster_size : clusters below this size are skipped while larger ones remain.
    k_neighbors : neighbours in the typicality estimate (paper: 20).
    n_init : k-means restarts, the lowest inertia kept. One k-means++ start followed by Lloyd
        iterations until the inertia changes by < 0.1 % (scikit-learn also starts once) is enough here: with ~|L| + B
        clusters, a locally worse split moves a few boundary points, and each restart costs as
        much as the whole rest of the query.

    Returns
    -------
    (batch_size,) int64 pool indices, in pick order.
    """
    x = inputs.embeddings
    cluster_gen, gen = torch_generator(rng), torch_generator(rng)  # picks same whether memo hit
    wanted = int(inputs.labeled.sum()) + batch_size
    n_clusters = min(wanted if max_clusters is None else min(wanted, max_clusters), x.shape[0])
    clustering = _clustering_for(inputs, n_clusters, n_init, k_neighbors, cluster_gen)
    assign_np, spread = clustering.assign, clustering.spread
    available = ~inputs.labeled.cpu().numpy()
    sizes = np.bincount(assign_np, minlength=n_clusters)
    free = np.bincount(assign_np[available], minlength=n_clusters)
    taken = sizes - free
    picks: list[int] = []
    for _ in range(batch_size):
        c = next_cluster(sizes, taken, free, min_cluster_size)
        if c not in spread:
            members = np.flatnonzero(assign_np == c)
            k = min(k_neighbors, members.size - 1)
            spread[c] = members, mean_knn_distance(x[torch.from_numpy(members).to(x.device)], k)
        members, dist = spread[c]
        open_rows = np.flatnonzero(available[members])
        best = open_rows[int(top_k(dist[torch.from_numpy(open_rows).to(x.device)], 1, gen, largest=False))]
        pick = int(members[best])
        picks.append(pick)
        available[pick] = False
        taken[c] += 1
        free[c] -= 1
    return as_indices(torch.tensor(picks, dtype=torch.long))
