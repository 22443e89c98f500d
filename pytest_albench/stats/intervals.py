"""Confidence intervals for a mean gain (a strategy's AULC minus random's, over blocks)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["GainCI", "mean_gain_ci"]


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
