"""Paired statistics for comparing runs that share seeds.

Why a paired t-test is the default one-sided test for baselines: with the 3–5 seeds a benchmark can
afford, the exact one-sided Wilcoxon signed-rank test cannot reach p < 0.05 below n = 5 (its smallest
attainable p is 1/2**n: 0.125 for 3 seeds), so a gate built on it could never fire. The t-test can,
and the tolerance on the mean drop guards against flagging tiny but consistent differences.
Wilcoxon and the sign test stay available for users with more seeds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..choices import PAIRED_TESTS
from ..errors import ConfigError


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
    p_worse, p_better = _one_sided(cur, base, test)
    return PairedComparison(int(delta.size), float(delta.mean()), p_worse, p_better, test)


def _one_sided(cur: np.ndarray, base: np.ndarray, test: str) -> tuple[float, float]:
    delta = cur - base
    if np.allclose(delta, 0.0, atol=1e-12):
        return 1.0, 1.0
    if test == "ttest":
        return _ttest(cur, base)
    if test == "wilcoxon":
        from scipy.stats import wilcoxon

        if delta.size < 2:
            return 1.0, 1.0
        worse = wilcoxon(delta, alternative="less", zero_method="zsplit").pvalue
        better = wilcoxon(delta, alternative="greater", zero_method="zsplit").pvalue
        return float(worse), float(better)
    return _sign_test(delta)


def _ttest(cur: np.ndarray, base: np.ndarray) -> tuple[float, float]:
    """scipy's paired t-test, except that a constant non-zero difference is treated as certain (p = 0):
    scipy divides by the zero spread there and returns NaN (with a warning), which would never gate."""
    from scipy.stats import ttest_rel

    delta = cur - base
    if delta.size < 2:
        return 1.0, 1.0
    sd = float(delta.std(ddof=1))
    mean = float(delta.mean())
    if sd <= 1e-15 * max(1.0, abs(mean)):
        return (0.0, 1.0) if mean < 0 else (1.0, 0.0)
    worse = ttest_rel(cur, base, alternative="less").pvalue
    better = ttest_rel(cur, base, alternative="greater").pvalue
    return float(worse), float(better)


def _sign_test(delta: np.ndarray) -> tuple[float, float]:
    """Exact binomial sign test with ties split evenly between the sides (Demšar 2006, §3.1.3).

    An odd tie cannot be split, so it is left out (n drops by one), as Demšar prescribes. Rounding
    half a tie instead (as this test once did, half to even) sent it to the losses or the wins
    depending on their parity, so swapping current and baseline did not swap the two p-values.
    """
    from scipy.stats import binomtest

    ties = int((delta == 0).sum())
    losses = int((delta < 0).sum()) + ties // 2
    n = int(delta.size) - ties % 2
    worse = binomtest(losses, n, 0.5, alternative="greater").pvalue
    better = binomtest(n - losses, n, 0.5, alternative="greater").pvalue
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
    signed = np.where(tied, 0.0, delta)
    p = 1.0 if delta.size < 2 or np.allclose(signed, 0.0) else wilcoxon_two_sided(signed)
    return WinTieLoss(wins, ties, losses, p)


def wilcoxon_two_sided(delta: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value with zero differences kept and their ranks split
    (``zsplit``); p = 1 when there is no non-zero difference (scipy would warn and return NaN), and
    NaN when a difference is NaN (a run without an AULC)."""
    from scipy.stats import wilcoxon

    if delta.size == 0 or np.all(delta == 0):
        return 1.0
    with warnings.catch_warnings():
        # Small-sample and tie warnings are about the normal approximation scipy then uses; the p-value
        # is still the documented one, and suites run with warnings as errors.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(wilcoxon(delta, zero_method="zsplit", alternative="two-sided").pvalue)
    return p if math.isnan(p) else min(1.0, p)  # NaN differences give NaN: no verdict, not p = 1
