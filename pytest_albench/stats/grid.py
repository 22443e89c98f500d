"""Rank statistics for comparing several strategies over many blocks (datasets, or dataset × seed pairs).

Pure functions on arrays, following Demšar (2006, JMLR 7, "Statistical comparisons of classifiers over
multiple data sets"): the Friedman test on ranks within blocks (with its tie correction and the less
conservative Iman–Davenport F form), then a post-hoc test. Two post-hoc tests are offered:

* ``nemenyi``: all pairs against one critical difference of mean ranks (the classic CD diagram);
* ``wilcoxon-holm``: pairwise two-sided Wilcoxon signed-rank tests on the scores with Holm's step-down
  correction (Benavoli et al. 2016 argue mean-rank post-hocs depend on which other treatments are in
  the comparison; the pairwise test does not). Zero differences are *kept* and their ranks split
  between signs (``zsplit``); the study dropped ties, which reviewers questioned.

Conventions: a score matrix is blocks × treatments, a HIGHER score is better, rank 1 is best and tied
scores share the average rank.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from ..errors import ConfigError

__all__ = [
    "POSTHOC_METHODS",
    "Correlation",
    "FriedmanResult",
    "GainCI",
    "PostHoc",
    "cd_groups",
    "friedman",
    "holm",
    "mean_gain_ci",
    "nemenyi",
    "nemenyi_q",
    "rank_blocks",
    "spearman",
    "wilcoxon_holm",
]

POSTHOC_METHODS: dict[str, str] = {
    "nemenyi": "Nemenyi test on mean ranks (studentized range, infinite df)",
    "wilcoxon-holm": "pairwise two-sided Wilcoxon signed-rank tests, zero differences split (zsplit), "
                     "Holm step-down adjusted",
}


@dataclass(frozen=True)
class FriedmanResult:
    """The omnibus test: do the treatments' mean ranks differ more than chance would make them?"""

    statistic: float  # Friedman's chi-square, tie-corrected
    df: int
    p_value: float
    iman_davenport_f: float
    iman_davenport_p: float
    n_blocks: int
    n_treatments: int
    mean_ranks: dict[str, float]


@dataclass(frozen=True)
class PostHoc:
    """Pairwise decisions after the omnibus test, and the groups a critical-difference diagram draws.

    ``p_values`` are family-wise adjusted (Nemenyi's are by construction, Wilcoxon's by Holm) and keyed
    by the sorted pair. ``groups`` are maximal runs of treatments, contiguous in mean-rank order, with
    no significant pair inside; a group of one means the treatment differs from both neighbours (CD
    diagrams draw bars only for groups of two or more).
    """

    method: str
    alpha: float
    mean_ranks: dict[str, float]
    critical_difference: float | None
    p_values: dict[tuple[str, str], float]
    groups: list[tuple[str, ...]] = field(default_factory=list)

    def p_value(self, a: str, b: str) -> float:
        key = _pair(a, b)
        if key not in self.p_values:
            raise ConfigError(f"no post-hoc p-value for {a!r} vs {b!r}; treatments are {sorted(self.mean_ranks)}")
        return self.p_values[key]

    def significant(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` differ at ``alpha`` after the multiple-comparison correction."""
        return a != b and self.p_value(a, b) < self.alpha

    @property
    def order(self) -> list[str]:
        """Treatments from best (lowest mean rank) to worst; names break ties."""
        return sorted(self.mean_ranks, key=lambda t: (self.mean_ranks[t], t))


@dataclass(frozen=True)
class GainCI:
    """Mean gain with a two-sided t confidence interval; with n = 1 the bounds are -inf/+inf."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def bounded(self) -> bool:
        """False when the interval is unbounded (one value: there is no spread to estimate)."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def excludes_zero(self) -> bool:
        return self.bounded and (self.low > 0 or self.high < 0)


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation; ``note`` says why rho is NaN when it is."""

    rho: float
    p_value: float
    n: int
    note: str = ""


def rank_blocks(scores: np.ndarray) -> np.ndarray:
    """Ranks within each block (row): 1 = highest score, ties averaged."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(-np.asarray(scores, dtype=float), method="average", axis=1), dtype=float)


def friedman(scores: np.ndarray | Sequence[Sequence[float]], treatments: Sequence[str]) -> FriedmanResult:
    """Friedman's test with the tie correction, and the Iman–Davenport F statistic (Demšar 2006, §3.2.2).

    chi² = 12 N / (k (k+1)) · Σ_j (R_j − (k+1)/2)², divided by 1 − Σ (t³ − t) / (N k (k² − 1)) over the
    tie groups t of every block; F_ID = (N − 1) chi² / (N (k − 1) − chi²) on (k − 1, (k − 1)(N − 1)) df.
    Blocks where every treatment ties carry no information; if all blocks do, chi² = 0 and p = 1.
    """
    from scipy.stats import chi2, f as f_dist

    matrix = _matrix(scores, treatments, min_blocks=2)
    n, k = matrix.shape
    ranks = rank_blocks(matrix)
    mean = ranks.mean(axis=0)
    ties = sum(float(t**3 - t) for row in ranks for t in np.unique(row, return_counts=True)[1])
    correction = 1.0 - ties / (n * k * (k * k - 1))
    spread = float(((mean - (k + 1) / 2) ** 2).sum())
    if correction <= 1e-12 or spread <= 1e-15:
        statistic = 0.0
    else:
        statistic = 12.0 * n / (k * (k + 1)) * spread / correction
    df = k - 1
    p_value = float(chi2.sf(statistic, df))
    denominator = n * (k - 1) - statistic
    if denominator <= 1e-12 * max(1.0, statistic):
        f_stat, f_p = math.inf, 0.0  # perfect agreement of every block: F is unbounded
    else:
        f_stat = (n - 1) * statistic / denominator
        f_p = float(f_dist.sf(f_stat, df, df * (n - 1)))
    return FriedmanResult(
        statistic=float(statistic), df=int(df), p_value=p_value, iman_davenport_f=float(f_stat),
        iman_davenport_p=f_p, n_blocks=int(n), n_treatments=int(k),
        mean_ranks={t: float(r) for t, r in zip(treatments, mean)},
    )


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Demšar's q_alpha: the studentized range quantile for k means at infinite df, divided by sqrt(2)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def nemenyi(scores: np.ndarray | Sequence[Sequence[float]], treatments: Sequence[str], alpha: float = 0.05) -> PostHoc:
    """Nemenyi's test: two treatments differ when their mean ranks differ by more than
    CD = q_alpha · sqrt(k (k+1) / (6 N)); the p-value of a pair is the studentized-range tail of
    |ΔR| · sqrt(2) / sqrt(k (k+1) / (6 N)), which equals alpha exactly at |ΔR| = CD.
    """
    from scipy.stats import studentized_range

    _check_alpha(alpha)
    matrix = _matrix(scores, treatments, min_blocks=1)
    n, k = matrix.shape
    mean = rank_blocks(matrix).mean(axis=0)
    ranks = {t: float(r) for t, r in zip(treatments, mean)}
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    p_values = {}
    for (i, a), (j, b) in combinations(enumerate(treatments), 2):
        q = abs(mean[i] - mean[j]) * math.sqrt(2.0) / se
        p_values[_pair(a, b)] = float(min(1.0, studentized_range.sf(q, k, np.inf))) if q > 0 else 1.0
    return _posthoc("nemenyi", alpha, ranks, nemenyi_q(k, alpha) * se, p_values)


def wilcoxon_holm(scores: np.ndarray | Sequence[Sequence[float]], treatments: Sequence[str], alpha: float = 0.05) -> PostHoc:
    """Pairwise two-sided Wilcoxon signed-rank tests over blocks, Holm-adjusted across all pairs.

    Zero differences stay in the test (``zero_method="zsplit"``: their ranks are split evenly between
    the signs), so ties count as evidence of no difference instead of vanishing; a pair identical on
    every block gets p = 1. scipy (>= 1.13) uses the exact null distribution without ties or zeros, an
    exhaustive (so deterministic) sign-flip permutation test with them up to 13 blocks, and the normal
    approximation beyond. With N blocks the smallest two-sided p is 2 / 2**N (0.25 for N = 3), before
    Holm's correction: few blocks cannot show a significant pair, whatever the effect.
    """
    _check_alpha(alpha)
    matrix = _matrix(scores, treatments, min_blocks=1)
    ranks = {t: float(r) for t, r in zip(treatments, rank_blocks(matrix).mean(axis=0))}
    pairs = list(combinations(range(len(treatments)), 2))
    raw = [_wilcoxon_two_sided(matrix[:, i] - matrix[:, j]) for i, j in pairs]
    adjusted = holm(raw)
    p_values = {_pair(treatments[i], treatments[j]): p for (i, j), p in zip(pairs, adjusted)}
    return _posthoc("wilcoxon-holm", alpha, ranks, None, p_values)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment, in the input order: the i-th smallest of m p-values becomes
    max over j ≤ i of min(1, (m − j + 1) · p_(j)), so adjusted values never decrease with raw ones.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return [float(v) for v in adjusted]


def cd_groups(order: Sequence[str], significant: dict[tuple[str, str], bool]) -> list[tuple[str, ...]]:
    """Maximal runs of ``order`` (best to worst) with no significant pair inside; contained runs dropped.

    Every pair inside a run is checked, not only its ends: a pairwise post-hoc (Wilcoxon–Holm) need
    not be monotone in rank distance the way Nemenyi is.
    """
    names = list(order)
    ends = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and not any(significant.get(_pair(names[m], names[j + 1]), False) for m in range(i, j + 1)):
            j += 1
        ends.append(j)
    groups = []
    for i, j in enumerate(ends):
        contained = any(i2 <= i and j <= j2 and (i2, j2) != (i, j) for i2, j2 in enumerate(ends))
        if not contained:
            groups.append(tuple(names[i : j + 1]))
    return groups


def mean_gain_ci(deltas: Sequence[float] | np.ndarray, confidence: float = 0.95) -> GainCI:
    """Mean of ``deltas`` with a two-sided Student-t interval (mean ± t · s / sqrt(n)).

    One value has no spread to estimate, so its interval is (-inf, +inf), never a fake zero-width one;
    values that are all equal give a zero-width interval, which is what the data say.
    """
    from scipy.stats import t as student_t

    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    values = np.asarray(deltas, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ConfigError(
            f"a gain interval needs at least one finite value, got {values.tolist()!r}; drop NaN runs first"
        )
    n = int(values.size)
    mean = float(values.mean())
    if n == 1:
        return GainCI(mean, -math.inf, math.inf, 1, confidence)
    half = float(student_t.ppf(0.5 + confidence / 2.0, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return GainCI(mean, mean - half, mean + half, n, confidence)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> Correlation:
    """Spearman's rho and scipy's two-sided p-value (a t approximation: rough for a handful of points)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if a.shape != b.shape:
        raise ConfigError(f"spearman needs paired values, got {a.size} and {b.size}")
    n = int(a.size)
    if n < 3:
        return Correlation(math.nan, math.nan, n, f"only {n} point(s); a rank correlation needs at least 3")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return Correlation(math.nan, math.nan, n, "NaN or inf values; drop them before correlating")
    constant = [name for name, v in (("x", a), ("y", b)) if np.all(v == v[0])]
    if constant:
        return Correlation(math.nan, math.nan, n, f"constant {' and '.join(constant)}: rank correlation undefined")
    result = spearmanr(a, b)
    return Correlation(float(result.statistic), float(result.pvalue), n)


def _wilcoxon_two_sided(delta: np.ndarray) -> float:
    from scipy.stats import wilcoxon

    if delta.size == 0 or np.all(delta == 0):
        return 1.0
    with warnings.catch_warnings():
        # Small-sample and tie warnings are about the normal approximation scipy then uses; the p-value
        # is still the documented one, and suites run with warnings as errors.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(min(1.0, wilcoxon(delta, zero_method="zsplit", alternative="two-sided").pvalue))


def _posthoc(method: str, alpha: float, ranks: dict[str, float], cd: float | None,
             p_values: dict[tuple[str, str], float]) -> PostHoc:
    order = sorted(ranks, key=lambda t: (ranks[t], t))
    significant = {pair: p < alpha for pair, p in p_values.items()}
    return PostHoc(method, float(alpha), ranks, cd, p_values, cd_groups(order, significant))


def _matrix(scores: np.ndarray | Sequence[Sequence[float]], treatments: Sequence[str], *, min_blocks: int) -> np.ndarray:
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != len(treatments):
        raise ConfigError(
            f"scores must be a blocks × treatments matrix with one column per treatment "
            f"({len(treatments)}), got shape {matrix.shape}"
        )
    if len(set(treatments)) != len(treatments):
        raise ConfigError(f"treatment names must be unique, got {list(treatments)}")
    if matrix.shape[1] < 2:
        raise ConfigError(f"comparing treatments needs at least 2, got {list(treatments)}")
    if matrix.shape[0] < min_blocks:
        raise ConfigError(f"this test needs at least {min_blocks} blocks, got {matrix.shape[0]}")
    if not np.isfinite(matrix).all():
        raise ConfigError("scores contain NaN or inf; drop incomplete blocks before ranking")
    return matrix


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)
