"""Paired statistics for comparing runs that share seeds.

Why a paired t-test is the default one-sided test for baselines: with the 3–5 seeds a benchmark can
afford, the exact one-sided Wilcoxon signed-rank test cannot reach p < 0.05 below n = 5 (its smallest
attainable p is 1/2**n: 0.125 for 3 seeds), so a gate built on it could never fire. The t-test can,
and the tolerance on the mean drop guards against flagging tiny but consistent differences.
Wilcoxon and the sign test stay available for users with more seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

PAIRED_TESTS = {
    "ttest": "one-sided paired t-test",
    "wilcoxon": "one-sided Wilcoxon signed-rank test (exact, zero differences split)",
    "sign": "one-sided sign test (binomial, ties split)",
}


@dataclass(frozen=True)
class PairedComparison:
    """Current minus baseline, paired by seed."""

    n: int
    mean_delta: float
    p_worse: float
    p_better: float
    test: str

    @property
    def test_name(self) -> str:
        return PAIRED_TESTS[self.test]


def paired_test(current: Sequence[float], baseline: Sequence[float], test: str = "ttest") -> PairedComparison:
    """One-sided p-values for "current is worse" and "current is better" than baseline."""
    if test not in PAIRED_TESTS:
        raise ConfigError(f"unknown paired test {test!r}; choose one of {sorted(PAIRED_TESTS)}")
    cur = np.asarray(current, dtype=float)
    base = np.asarray(baseline, dtype=float)
    if cur.shape != base.shape or cur.size == 0:
        raise ValueError("paired samples must be non-empty and of equal length")
    delta = cur - base
    p_worse, p_better = _one_sided(delta, test)
    return PairedComparison(int(delta.size), float(delta.mean()), p_worse, p_better, test)


def _one_sided(delta: np.ndarray, test: str) -> tuple[float, float]:
    if np.allclose(delta, 0.0, atol=1e-12):
        return 1.0, 1.0
    if test == "ttest":
        return _ttest(delta)
    if test == "wilcoxon":
        from scipy.stats import wilcoxon

        if delta.size < 2:
            return 1.0, 1.0
        worse = wilcoxon(delta, alternative="less", zero_method="zsplit").pvalue
        better = wilcoxon(delta, alternative="greater", zero_method="zsplit").pvalue
        return float(worse), float(better)
    return _sign_test(delta)


def _ttest(delta: np.ndarray) -> tuple[float, float]:
    """Paired t-test; a constant non-zero difference is treated as certain (p = 0)."""
    from scipy.stats import t as student_t

    n = delta.size
    if n < 2:
        return 1.0, 1.0
    sd = float(delta.std(ddof=1))
    mean = float(delta.mean())
    if sd <= 1e-15 * max(1.0, abs(mean)):
        return (0.0, 1.0) if mean < 0 else (1.0, 0.0)
    stat = mean / (sd / math.sqrt(n))
    return float(student_t.cdf(stat, n - 1)), float(student_t.sf(stat, n - 1))


def _sign_test(delta: np.ndarray) -> tuple[float, float]:
    from scipy.stats import binomtest

    wins = float((delta > 0).sum()) + 0.5 * float((delta == 0).sum())
    losses = float(delta.size) - wins
    k_loss = int(round(losses))
    n = int(delta.size)
    worse = binomtest(k_loss, n, 0.5, alternative="greater").pvalue
    better = binomtest(n - k_loss, n, 0.5, alternative="greater").pvalue
    return float(worse), float(better)


@dataclass(frozen=True)
class WinTieLoss:
    wins: int
    ties: int
    losses: int
    p_value: float


WIN_TIE_LOSS_TEST = "two-sided Wilcoxon signed-rank test, zero differences split between ranks ('zsplit')"


def win_tie_loss(a: Sequence[float], b: Sequence[float], tie_margin: float = 1e-3) -> WinTieLoss:
    """Count A's wins, ties and losses against B over paired values, ties kept in the test.

    A tie is a difference within ``tie_margin`` (AULC points / 100 by default); tied pairs enter the
    test as zero differences whose ranks are split, rather than being dropped as in the study.
    """
    delta = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    tied = np.abs(delta) <= tie_margin
    wins = int(((delta > 0) & ~tied).sum())
    losses = int(((delta < 0) & ~tied).sum())
    ties = int(tied.sum())
    if delta.size < 2 or np.allclose(np.where(tied, 0.0, delta), 0.0):
        p = 1.0
    else:
        from scipy.stats import wilcoxon

        p = float(wilcoxon(np.where(tied, 0.0, delta), zero_method="zsplit").pvalue)
    return WinTieLoss(wins, ties, losses, p)


def mean_ranks(scores: dict[str, Sequence[float]]) -> dict[str, float]:
    """Mean rank (1 = best, ties averaged) of each key over aligned score lists (e.g. per dataset)."""
    from scipy.stats import rankdata

    names = sorted(scores)
    matrix = np.array([scores[n] for n in names], dtype=float)  # strategies × blocks
    ranks = np.apply_along_axis(lambda col: rankdata(-col, method="average"), 0, matrix)
    return {name: float(ranks[i].mean()) for i, name in enumerate(names)}
