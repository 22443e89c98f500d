"""Post-hoc tests after the Friedman test: which pairs of treatments differ?

Two are offered (Demšar 2006; Benavoli et al. 2016):

* ``nemenyi``: all pairs against one critical difference of mean ranks (the classic CD diagram);
* ``wilcoxon-holm``: pairwise two-sided Wilcoxon signed-rank tests on the scores with Holm's step-down
  correction (Benavoli et al. argue mean-rank post-hocs depend on which other treatments are in the
  comparison; the pairwise test does not). Zero differences are *kept* and their ranks split between
  signs (``zsplit``); the study dropped ties, which reviewers questioned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from ..choices import POSTHOC_METHODS
from ..errors import ConfigError
from ._checks import ScoreMatrix, check_alpha, pair_key, score_matrix
from .paired import wilcoxon_two_sided
from .ranks import rank_treatments

__all__ = ["POSTHOC_METHODS", "PostHoc", "cd_groups", "holm", "nemenyi", "nemenyi_q", "wilcoxon_holm"]


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
        key = pair_key(a, b)
        if key not in self.p_values:
            raise ConfigError(f"no post-hoc p-value for {a!r} vs {b!r}; treatments are {sorted(self.mean_ranks)}")
        return self.p_values[key]

    def significant(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` differ at ``alpha`` after the multiple-comparison correction."""
        return a != b and self.p_value(a, b) < self.alpha

    @property
    def order(self) -> list[str]:
        """Treatments from best (lowest mean rank) to worst; names break ties (as :attr:`Ranking.order`)."""
        return sorted(self.mean_ranks, key=lambda t: (self.mean_ranks[t], t))


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Demšar's q_alpha: the studentized range quantile for k means at infinite df, divided by sqrt(2)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0))


def nemenyi(scores: ScoreMatrix, treatments: Sequence[str], alpha: float = 0.05) -> PostHoc:
    """Nemenyi's test: two treatments differ when their mean ranks differ by more than
    CD = q_alpha · sqrt(k (k+1) / (6 N)); the p-value of a pair is the studentized-range tail of
    |ΔR| · sqrt(2) / sqrt(k (k+1) / (6 N)), which equals alpha exactly at |ΔR| = CD.
    """
    from scipy.stats import studentized_range

    check_alpha(alpha)
    matrix = score_matrix(scores, treatments, min_blocks=1)
    n, k = matrix.shape
    ranks = rank_treatments(matrix, treatments).mean_ranks
    se = math.sqrt(k * (k + 1) / (6.0 * n))
    p_values = {}
    for a, b in combinations(treatments, 2):
        q = abs(ranks[a] - ranks[b]) * math.sqrt(2.0) / se
        p_values[pair_key(a, b)] = float(min(1.0, studentized_range.sf(q, k, np.inf))) if q > 0 else 1.0
    return _posthoc("nemenyi", alpha, ranks, nemenyi_q(k, alpha) * se, p_values)


def wilcoxon_holm(scores: ScoreMatrix, treatments: Sequence[str], alpha: float = 0.05) -> PostHoc:
    """Pairwise two-sided Wilcoxon signed-rank tests over blocks, Holm-adjusted across all pairs.

    Zero differences stay in the test (``zero_method="zsplit"``: their ranks are split evenly between
    the signs), so ties count as evidence of no difference instead of vanishing; a pair identical on
    every block gets p = 1. scipy (>= 1.13) uses the exact null distribution without ties or zeros, an
    exhaustive (so deterministic) sign-flip permutation test with them up to 13 blocks, and the normal
    approximation beyond. With N blocks the smallest two-sided p is 2 / 2**N (0.25 for N = 3), before
    Holm's correction: few blocks cannot show a significant pair, whatever the effect.
    """
    check_alpha(alpha)
    matrix = score_matrix(scores, treatments, min_blocks=1)
    ranks = rank_treatments(matrix, treatments).mean_ranks
    pairs = list(combinations(range(len(treatments)), 2))
    raw = [wilcoxon_two_sided(matrix[:, i] - matrix[:, j]) for i, j in pairs]
    adjusted = holm(raw)
    p_values = {pair_key(treatments[i], treatments[j]): p for (i, j), p in zip(pairs, adjusted, strict=True)}
    return _posthoc("wilcoxon-holm", alpha, ranks, None, p_values)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment, in the input order: the i-th smallest of m p-values becomes
    max over j ≤ i of min(1, (m − j + 1) · p_(j)), so adjusted values never decrease with raw ones.

    (``scipy.stats.false_discovery_control`` offers only Benjamini–Hochberg/Yekutieli, not Holm.)
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

    def extends(i: int, j: int) -> bool:
        return not any(significant.get(pair_key(names[m], names[j + 1]), False) for m in range(i, j + 1))

    ends = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and extends(i, j):
            j += 1
        ends.append(j)
    groups = []
    for i, j in enumerate(ends):
        contained = any(i2 <= i and j <= j2 and (i2, j2) != (i, j) for i2, j2 in enumerate(ends))
        if not contained:
            groups.append(tuple(names[i : j + 1]))
    return groups


def _posthoc(
    method: str, alpha: float, ranks: dict[str, float], cd: float | None, p_values: dict[tuple[str, str], float]
) -> PostHoc:
    order = sorted(ranks, key=lambda t: (ranks[t], t))
    significant = {pair: p < alpha for pair, p in p_values.items()}
    return PostHoc(method, float(alpha), ranks, cd, p_values, cd_groups(order, significant))
