"""Input checks shared by the rank statistics: one place that says what a score matrix must be."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

ScoreMatrix = np.ndarray | Sequence[Sequence[float]]


def score_matrix(scores: ScoreMatrix, treatments: Sequence[str], *, min_blocks: int) -> np.ndarray:
    """``scores`` as a finite blocks × treatments float matrix, or a ConfigError naming what is wrong."""
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


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")


def pair_key(a: str, b: str) -> tuple[str, str]:
    """The sorted pair: post-hoc p-values are symmetric, so each pair is stored once."""
    return (a, b) if a <= b else (b, a)
