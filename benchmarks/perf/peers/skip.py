"""The skip rule: whether a peer is run at a larger pool size, from what it cost at a smaller one.

Why: some peers grow quadratically (small-text's GreedyCoreset, scikit-activeml's ProbCover) and
would take hours or run out of memory at 40,000 points; they are skipped by a stated, tested
extrapolation instead of by a timeout that would waste the time it caps.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.memory import GIB
from . import adapters as pa


@dataclass(frozen=True)
class Cost:
    """What one side cost at one size: measured, or extrapolated when it was skipped there (an
    estimate may lack the time, when only the a-priori memory bound skipped it)."""

    n: int
    time_s: float | None
    peak_bytes: float | None
    measured: bool = True


@dataclass(frozen=True)
class SkipDecision:
    """Whether to run a peer at a size, and the estimates that decided it."""

    run: bool
    reason: str = ""
    est_time_s: float | None = None
    est_bytes: float | None = None


def growth_word(exponent: int) -> str:
    return {1: "linear", 2: "quadratic"}.get(exponent, f"N^{exponent}")


def decide_peer(
    spec: pa.PeerSpec, n: int, d: int, c: int, previous: Cost | None, cap_s: float, cap_bytes: float
) -> SkipDecision:
    """Skip a peer at size ``n`` when its extrapolated time or memory exceeds the caps.

    Time and memory at the previous (smaller) size are scaled by (n / n_prev)^growth with the
    spec's exponents (linear or quadratic). With no previous size, only the spec's a-priori memory
    lower bound (arrays the peer is known to allocate) can skip it. Ours is never skipped.
    """
    est_s: float | None = None
    est_b: float | None = None
    basis = ""
    if previous is not None and n > previous.n:
        ratio = n / previous.n
        if previous.time_s is not None:
            est_s = previous.time_s * ratio**spec.time_growth
        if previous.peak_bytes is not None:
            est_b = previous.peak_bytes * ratio**spec.memory_growth
        basis = (
            f"{growth_word(spec.time_growth)} time / {growth_word(spec.memory_growth)} memory "
            f"from N={previous.n}{'' if previous.measured else ' (itself estimated)'}"
        )
    if spec.min_bytes is not None:
        prior = spec.min_bytes(n, d, c)
        if est_b is None or prior > est_b:
            est_b = prior
            basis = (basis + "; " if basis else "") + "memory: a-priori size of its arrays"
    if est_s is not None and est_s > cap_s:
        return SkipDecision(False, f"est. {est_s:,.3g} s > cap {cap_s:g} s ({basis})", est_s, est_b)
    if est_b is not None and est_b > cap_bytes:
        return SkipDecision(False, f"est. {est_b / GIB:,.1f} GiB > cap {cap_bytes / GIB:g} GiB ({basis})", est_s, est_b)
    return SkipDecision(True, "", est_s, est_b)
