"""The floor of a query: the products no implementation of the strategy can skip, timed on this CPU.

Why: "ours is 2× faster than a peer" says little when both may be far from what the machine can
do, and a ratio against a peer moves with the peer's own bottlenecks. The floor is timed in the same
process and the same rounds as the sides, with numpy's BLAS (the faster BLAS of the process on the
CPUs measured; ``strategies.blas``), so "ours / floor" shows how much of our time is overhead.

What each floor contains, for a pool X (N × d), L labeled rows, C classes and a query of B:

- least confidence, margin, entropy: the logits, one (N × d) @ (d × C) GEMM; scoring and top-k
  are left out, so the floor is below what any exact query can reach. The weights are padded with
  zero columns as our head pads them (``blas.padded_width``), since that is the faster rate of this
  BLAS for such a product: the floor is the best rate we know, not the rate of the naive call.
- CoreSet (k-center greedy): the distances to the labeled set, one (N × d) @ (d × L) GEMM, then B
  matrix-vector products X @ x_j, one per pick (each pick needs the distances to the last one).
- BADGE (k-means++ on gradient embeddings, closed form): the logits GEMM, then B pairs of
  matrix-vector products X @ x_j and A @ a_j with A the (N × C) class factors.

Strategies whose work depends on their settings (TypiClust's k-means, ProbCover's graph) or that do
no arithmetic on the pool (random) have no floor here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pytest_albench.strategies.blas import pad_columns, padded_width

from . import adapters as pa

#: What each floor times, for the table's notes.
FLOOR_WHAT = {
    "least_confidence": "logits GEMM",
    "margin": "logits GEMM",
    "entropy": "logits GEMM",
    "coreset": "GEMM to the labeled set + B GEMVs",
    "badge": "logits GEMM + B × 2 GEMVs",
}


def floor_kernel(strategy: str, cycle: pa.CycleInputs) -> Callable[[], None] | None:
    """A callable doing ``strategy``'s unavoidable products on ``cycle``'s pool; None without a floor."""
    if strategy not in FLOOR_WHAT:
        return None
    x = np.ascontiguousarray(cycle.x, dtype=np.float32)
    n_classes = cycle.clf.coef_.shape[0]
    w = pad_columns(cycle.clf.coef_.T.astype(np.float32), padded_width(n_classes))
    picks = np.random.default_rng(0).choice(np.flatnonzero(~cycle.labeled), cycle.batch, replace=False)

    def logits() -> None:
        np.matmul(x, w)

    if strategy in ("least_confidence", "margin", "entropy"):
        return logits
    if strategy == "coreset":
        centres = np.ascontiguousarray(x[cycle.labeled])

        def coreset() -> None:
            np.matmul(x, centres.T)
            for j in picks:
                np.matmul(x, x[j])

        return coreset
    factors = np.random.default_rng(1).random((x.shape[0], n_classes), dtype=np.float32)

    def badge() -> None:
        np.matmul(x, w)
        for j in picks:
            np.matmul(x, x[j])
            np.matmul(factors, factors[j])

    return badge
