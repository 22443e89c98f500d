"""Embedding transforms: a quality dial that holds the dataset fixed.

Comparing encoders mixes "a better encoder" with everything else that differs between two models.
Degrading *one* good encoder in controlled steps keeps the texts, the tokenizer and the model fixed and
changes only the property under study, so a change in which strategy wins is caused by that property.

An embedding name may carry a chain of transforms after the encoder, applied left to right::

    minilm-l6|pca:32            the top 32 principal components of the pool
    minilm-l6|truncate:64       the first 64 coordinates (Matryoshka-style truncation)
    minilm-l6|noise:0.5         isotropic Gaussian noise at noise power = 0.5 x the pool's signal power
    minilm-l6|noise:0.5,seed=3  the same with another noise draw (seed 0 by default)
    minilm-l6|whiten            PCA whitening: decorrelated coordinates of unit variance
    minilm-l6|normalize         unit-length rows
    minilm-l6|pca:64|noise:1    chains compose

Every statistic a transform needs (mean, principal axes, variances, the signal power that scales the
noise) is **fitted on the pool only** -- the train split as the engine passes it, after subsampling and
any validation carve -- and then applied unchanged to validation and test, so the test split never
shapes the features. The transform chain and its parameters enter the embedding's identity, which keys
the cache, so ``pca:32`` and ``pca:64`` of one encoder never share an entry.

Noise is drawn from a generator seeded by ``seed`` and the split's name, so reruns are bit-identical
and the test rows get draws independent of the pool's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, EmbeddingError

__all__ = ["TRANSFORM_VERSION", "Transform", "apply_transforms", "parse_embedding_name", "split_transforms"]

#: Bumped when a transform's arithmetic changes, so cached transformed embeddings are recomputed.
TRANSFORM_VERSION = 1
#: Separates the encoder from its transforms and one transform from the next.
SEPARATOR = "|"
#: Eigenvalues below this share of the largest count as zero (a rank-deficient pool) when whitening.
_WHITEN_RCOND = 1e-6

_USAGE = "pca:K, truncate:K, noise:R[,seed=S], whiten, normalize"


@dataclass(frozen=True)
class Transform:
    """One step of a chain: ``op`` with its positional ``value`` (if any) and keyword ``options``."""

    op: str
    value: float | int | None = None
    options: Mapping[str, int] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What the step is, for the cache key and the case record."""
        return {"op": self.op, "value": self.value, **dict(self.options)}

    def __str__(self) -> str:
        text = self.op if self.value is None else f"{self.op}:{_number_text(self.value)}"
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{text},{extra}" if extra else text


def _number_text(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"


def split_transforms(name: str) -> tuple[str, tuple[str, ...]]:
    """``"minilm-l6|pca:32"`` -> ``("minilm-l6", ("pca:32",))``: the encoder and the raw steps."""
    base, *steps = (part.strip() for part in name.split(SEPARATOR))
    return base, tuple(steps)


def parse_embedding_name(name: str) -> tuple[str, tuple[Transform, ...]]:
    """The encoder name and the validated transform chain of an embedding name.

    Raises :class:`ConfigError` naming the bad step and the accepted forms.
    """
    base, steps = split_transforms(name)
    if not base:
        raise ConfigError(f"embedding {name!r} names no encoder before {SEPARATOR!r}; write e.g. 'minilm-l6|pca:32'")
    return base, tuple(_parse_step(step, name) for step in steps)


def _parse_step(step: str, name: str) -> Transform:
    head, _, rest = step.partition(",")
    op, _, raw_value = head.partition(":")
    op = op.strip().lower()
    parser = _PARSERS.get(op)
    if parser is None:
        raise ConfigError(f"unknown transform {op!r} in embedding {name!r}; use one of: {_USAGE}")
    options: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, text = item.partition("=")
        if op != "noise" or key != "seed" or not text.strip().isdigit():
            raise ConfigError(
                f"transform {step!r} in embedding {name!r}: unexpected option {item!r}; only noise takes "
                "seed=<non-negative integer>"
            )
        options["seed"] = int(text)
    value = parser(raw_value.strip(), step, name)
    if op == "noise":
        options.setdefault("seed", 0)
    return Transform(op, value, options)


def _dimension(text: str, step: str, name: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"transform {step!r} in embedding {name!r} needs a dimension K >= 1, e.g. 'pca:32'")
    return int(text)


def _ratio(text: str, step: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"transform {step!r} in embedding {name!r} needs a noise-to-signal power ratio R >= 0, e.g. "
            "'noise:0.5' (signal-to-noise ratio 2)"
        )
    return value


def _no_value(text: str, step: str, name: str) -> None:
    if text:
        raise ConfigError(f"transform {step!r} in embedding {name!r} takes no value; write it bare")
    return None


_PARSERS: dict[str, Callable[[str, str, str], Any]] = {
    "pca": _dimension,
    "truncate": _dimension,
    "noise": _ratio,
    "whiten": _no_value,
    "normalize": _no_value,
}


# --- applying a chain --------------------------------------------------------------------------------


def apply_transforms(
    transforms: tuple[Transform, ...], splits: Mapping[str, np.ndarray], *, fit_on: str = "train", where: str = ""
) -> dict[str, np.ndarray]:
    """Every split through the chain, each step fitted on ``splits[fit_on]`` as the previous step left it.

    Returns float32 arrays, row-aligned with the inputs. ``where`` names the embedding in errors.
    """
    arrays = {name: np.asarray(array, dtype=np.float64) for name, array in splits.items()}
    for step in transforms:
        arrays = _STEPS[step.op](step, arrays, fit_on, where or str(step))
    return {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in arrays.items()}


def _principal_axes(pool: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool mean, eigenvalues (descending) and unit axes (columns) of the pool covariance.

    Each axis's sign is fixed (largest-magnitude entry positive) so the result does not depend on the
    LAPACK build's sign convention.
    """
    mean = pool.mean(axis=0)
    centred = pool - mean
    covariance = centred.T @ centred / max(len(pool) - 1, 1)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    signs = np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(vectors.shape[1])])
    return mean, values, vectors * np.where(signs == 0, 1.0, signs)


def _pca(step: Transform, arrays: dict[str, np.ndarray], fit_on: str, where: str) -> dict[str, np.ndarray]:
    pool = arrays[fit_on]
    k = int(step.value or 0)
    limit = min(pool.shape[1], len(pool))
    if k > limit:
        raise EmbeddingError(
            f"{where}: {step} asks for {k} components but the pool has {len(pool)} rows of width "
            f"{pool.shape[1]} (at most {limit}); use pca:{limit} or less"
        )
    mean, _, axes = _principal_axes(pool)
    return {name: (array - mean) @ axes[:, :k] for name, array in arrays.items()}


def _truncate(step: Transform, arrays: dict[str, np.ndarray], fit_on: str, where: str) -> dict[str, np.ndarray]:
    k, width = int(step.value or 0), arrays[fit_on].shape[1]
    if k > width:
        raise EmbeddingError(
            f"{where}: {step} keeps {k} coordinates of {width}-d vectors; use truncate:{width} or less"
        )
    return {name: array[:, :k] for name, array in arrays.items()}


def _noise(step: Transform, arrays: dict[str, np.ndarray], fit_on: str, where: str) -> dict[str, np.ndarray]:
    """Add N(0, s^2 I) with d s^2 = R x the pool's total variance (trace of its covariance)."""
    pool = arrays[fit_on]
    ratio = float(step.value or 0.0)
    signal_power = float(pool.var(axis=0, ddof=1).sum()) if len(pool) > 1 else 0.0
    if ratio > 0 and signal_power == 0.0:
        raise EmbeddingError(f"{where}: {step} scales noise by the pool's variance, and the pool has none")
    scale = math.sqrt(ratio * signal_power / pool.shape[1])
    seed = int(step.options.get("seed", 0))
    out = {}
    for name, array in arrays.items():  # each split its own stream, named by the split, not its position
        rng = np.random.default_rng(np.random.SeedSequence([seed, *name.encode()]))
        out[name] = array + scale * rng.standard_normal(array.shape) if ratio > 0 else array
    return out


def _whiten(step: Transform, arrays: dict[str, np.ndarray], fit_on: str, where: str) -> dict[str, np.ndarray]:
    """Project on the pool's principal axes and divide by their standard deviations (rank-deficient
    axes, with variance below ``_WHITEN_RCOND`` x the largest, are dropped rather than blown up)."""
    mean, values, axes = _principal_axes(arrays[fit_on])
    if values.size == 0 or values[0] <= 0:
        raise EmbeddingError(f"{where}: {step} needs a pool with variance; every pool row is the same")
    keep = values > _WHITEN_RCOND * values[0]
    projection = axes[:, keep] / np.sqrt(values[keep])
    return {name: (array - mean) @ projection for name, array in arrays.items()}


def _normalize(step: Transform, arrays: dict[str, np.ndarray], fit_on: str, where: str) -> dict[str, np.ndarray]:
    out = {}
    for name, array in arrays.items():
        norms = np.linalg.norm(array, axis=1, keepdims=True)
        out[name] = array / np.where(norms > 0, norms, 1.0)
    return out


_STEPS: dict[str, Callable[[Transform, dict[str, np.ndarray], str, str], dict[str, np.ndarray]]] = {
    "pca": _pca,
    "truncate": _truncate,
    "noise": _noise,
    "whiten": _whiten,
    "normalize": _normalize,
}
