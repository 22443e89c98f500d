"""The Friedman omnibus test on ranks within blocks, with its Iman–Davenport F form (Demšar 2006, §3.2.2)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import ScoreMatrix, score_matrix
from .ranks import rank_treatments

__all__ = ["FriedmanResult", "friedman"]


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


def friedman(scores: ScoreMatrix, treatments: Sequence[str]) -> FriedmanResult:
    """Friedman's test with the tie correction, and the Iman–Davenport F statistic.

    chi² = 12 N / (k (k+1)) · Σ_j (R_j − (k+1)/2)², divided by 1 − Σ (t³ − t) / (N k (k² − 1)) over the
    tie groups t of every block; F_ID = (N − 1) chi² / (N (k − 1) − chi²) on (k − 1, (k − 1)(N − 1)) df.
    Blocks where every treatment ties carry no information; if all blocks do, chi² = 0 and p = 1.
    """
    from scipy.stats import chi2

    matrix = score_matrix(scores, treatments, min_blocks=2)
    n, k = matrix.shape
    ranking = rank_treatments(matrix, treatments)
    statistic = _chi_square(matrix, ranking.ranks)
    df = k - 1
    f_stat, f_p = _iman_davenport(statistic, n, k)
    return FriedmanResult(
        statistic=statistic,
        df=int(df),
        p_value=float(chi2.sf(statistic, df)),
        iman_davenport_f=f_stat,
        iman_davenport_p=f_p,
        n_blocks=int(n),
        n_treatments=int(k),
        mean_ranks=ranking.mean_ranks,
    )


def _chi_square(matrix: np.ndarray, ranks: np.ndarray) -> float:
    """Tie-corrected chi²: scipy's for k ≥ 3, the same formula here for k = 2 and the degenerate cases."""
    from scipy.stats import friedmanchisquare

    n, k = ranks.shape
    ties = sum(float(t**3 - t) for row in ranks for t in np.unique(row, return_counts=True)[1])
    correction = 1.0 - ties / (n * k * (k * k - 1))
    spread = float(((ranks.mean(axis=0) - (k + 1) / 2) ** 2).sum())
    if correction <= 1e-12 or spread <= 1e-15:
        # Every block tied (no information) or equal mean ranks: scipy would divide 0 by 0 here.
        return 0.0
    if k >= 3:
        return max(0.0, float(friedmanchisquare(*matrix.T).statistic))
    # scipy.stats.friedmanchisquare refuses fewer than 3 treatments, but the statistic is defined for
    # k = 2 (a strategy against random on an IPS side grid), so the formula stays for that case.
    return float(12.0 * n / (k * (k + 1)) * spread / correction)


def _iman_davenport(statistic: float, n: int, k: int) -> tuple[float, float]:
    """F_ID and its p-value. scipy has no Iman–Davenport form; Demšar recommends it as less conservative."""
    from scipy.stats import f as f_dist

    df = k - 1
    denominator = n * df - statistic
    if denominator <= 1e-12 * max(1.0, statistic):
        return math.inf, 0.0  # perfect agreement of every block: F is unbounded
    f_stat = (n - 1) * statistic / denominator
    return float(f_stat), float(f_dist.sf(f_stat, df, df * (n - 1)))
