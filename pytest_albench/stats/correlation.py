"""Rank correlation of embedding quality with AL gains, with the reason when it is undefined."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["Correlation", "spearman"]


@dataclass(frozen=True)
class Correlation:
    """Spearman's rank correlation; ``note`` says why rho is NaN when it is."""

    rho: float
    p_value: float
    n: int
    note: str = ""


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> Correlation:
    """Spearman's rho and scipy's two-sided p-value (a t approximation: rough for a handful of points).

    scipy returns NaN with a warning for too few points or constant input; here the NaN comes with a
    note a table can print, and no warning (suites run with warnings as errors).
    """
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
