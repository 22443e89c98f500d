"""The advisor's model: from an unlabeled pool's label-free measures to each strategy's expected gain.

Why this model: the training set is small (one row per (dataset, embedding) cell of our own grid, a
few dozen), the features are correlated geometric measures, and the answer must come with an honest
error. So each strategy gets a ridge regression of its AULC gain over random on standardised features
(closed form, no iteration, bit-stable), and its uncertainty is the root-mean-square error of that
regression *on datasets it did not see* (leave-one-dataset-out within the training grid), not the
in-sample fit, which on a few dozen rows would be far too optimistic.

The model is a JSON document (``MODEL_FORMAT``) holding everything needed to predict and to audit: the
features and their scaling, the coefficients, the out-of-sample errors, the training cells and the
digests of the results files it was built from. It is verified on read: a file whose payload does not
match its recorded sha256 is refused, not trusted.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["MODEL_FORMAT", "RIDGE_ALPHA", "AdvisorModel", "TrainingCell", "fit_model", "load_model"]

MODEL_FORMAT = 1
#: Ridge penalty on standardised features: with ~40 rows and ~10 correlated features an unpenalised
#: fit interpolates noise; 3.0 keeps the coefficients of the LODO-validated model small.
RIDGE_ALPHA = 3.0
#: The strategy every gain is measured against; its gain is 0 by definition.
BASELINE = "random"


@dataclass(frozen=True)
class TrainingCell:
    """One (dataset, embedding) pool of the grid: its label-free features and per-strategy results."""

    dataset: str
    embedding: str
    features: Mapping[str, float]
    gains: Mapping[str, float]  # strategy -> mean AULC gain over random
    aulcs: Mapping[str, float]  # strategy -> mean AULC (random included): the regret needs levels


@dataclass
class AdvisorModel:
    """Per strategy a ridge regression of the gain on the standardised features (see module docstring)."""

    features: list[str]
    means: list[float]
    scales: list[float]
    strategies: list[str]
    intercepts: dict[str, float]
    coefficients: dict[str, list[float]]
    errors: dict[str, float]  # leave-one-dataset-out RMSE of each strategy's predicted gain
    cells: list[dict[str, str]] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)
    alpha: float = RIDGE_ALPHA

    def predict(self, features: Mapping[str, float]) -> dict[str, float]:
        """Predicted gain over random per strategy (random itself: 0)."""
        missing = [f for f in self.features if not _finite(features.get(f))]
        if missing:
            raise ConfigError(
                f"the advisor needs the label-free measures {missing} of the pool, got {sorted(features)}; "
                "compute them with pytest_albench.engine.label_free.label_free_measures"
            )
        z = (np.array([float(features[f]) for f in self.features]) - self.means) / self.scales
        out = {s: float(self.intercepts[s] + z @ np.asarray(self.coefficients[s])) for s in self.strategies}
        out[BASELINE] = 0.0
        return out

    def to_document(self) -> dict[str, Any]:
        payload = {
            "features": self.features,
            "means": self.means,
            "scales": self.scales,
            "strategies": self.strategies,
            "intercepts": self.intercepts,
            "coefficients": self.coefficients,
            "errors": self.errors,
            "cells": self.cells,
            "sources": self.sources,
            "alpha": self.alpha,
        }
        return {"format": MODEL_FORMAT, "sha256": _digest(payload), "model": payload}

    def save(self, path: str | Path) -> None:
        from ..storage.atomic import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_document(), indent=1, sort_keys=True) + "\n")


def load_model(path: str | Path) -> AdvisorModel:
    """Read and verify a model file; a changed or foreign file is refused with the way to rebuild it."""
    rebuild = "rebuild it with `albench-advise build RESULTS.json ... --out FILE`"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"advisor model {path}: cannot be read ({exc}); {rebuild}") from None
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT or "model" not in document:
        raise ConfigError(f"advisor model {path}: not an advisor model of format {MODEL_FORMAT}; {rebuild}")
    payload = document["model"]
    if _digest(payload) != document.get("sha256"):
        raise ConfigError(f"advisor model {path}: its content does not match its sha256 (edited or damaged); {rebuild}")
    return AdvisorModel(**payload)


def fit_model(
    cells: Sequence[TrainingCell], features: Sequence[str], *, alpha: float = RIDGE_ALPHA, with_errors: bool = True
) -> AdvisorModel:
    """Fit one ridge regression per strategy (every strategy with a gain in at least 3 cells).

    ``with_errors`` also measures each strategy's leave-one-dataset-out RMSE (NaN with < 2 datasets).
    """
    usable = [c for c in cells if all(_finite(c.features.get(f)) for f in features)]
    if len(usable) < 3:
        raise ConfigError(
            f"the advisor needs at least 3 cells with every label-free measure ({', '.join(features)}), "
            f"got {len(usable)} of {len(cells)}; the results need the measures (record quality) or --data-dir"
        )
    x = np.array([[float(c.features[f]) for f in features] for c in usable])
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    z = (x - means) / scales
    strategies = sorted({s for c in usable for s in c.gains if s != BASELINE})
    intercepts, coefficients = {}, {}
    for strategy in strategies:
        rows = [i for i, c in enumerate(usable) if _finite(c.gains.get(strategy))]
        if len(rows) < 3:
            continue
        y = np.array([float(usable[i].gains[strategy]) for i in rows])
        intercepts[strategy], beta = _ridge(z[rows], y, alpha)
        coefficients[strategy] = [float(b) for b in beta]
    model = AdvisorModel(
        features=list(features),
        means=[float(m) for m in means],
        scales=[float(s) for s in scales],
        strategies=sorted(intercepts),
        intercepts={s: float(v) for s, v in intercepts.items()},
        coefficients=coefficients,
        errors=dict.fromkeys(intercepts, math.nan),
        cells=[{"dataset": c.dataset, "embedding": c.embedding} for c in usable],
        alpha=alpha,
    )
    if with_errors:
        model.errors = _lodo_errors(usable, features, alpha, model.strategies)
    return model


def _ridge(z: np.ndarray, y: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Intercept (unpenalised) and coefficients of ridge regression on centred data, closed form."""
    z_mean, y_mean = z.mean(axis=0), float(y.mean())
    zc = z - z_mean
    beta = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ (y - y_mean))
    return y_mean - float(z_mean @ beta), beta


def _lodo_errors(
    cells: Sequence[TrainingCell], features: Sequence[str], alpha: float, strategies: Sequence[str]
) -> dict[str, float]:
    squared: dict[str, list[float]] = {s: [] for s in strategies}
    datasets = sorted({c.dataset for c in cells})
    if len(datasets) < 2:
        return dict.fromkeys(strategies, math.nan)
    for held_out in datasets:
        train = [c for c in cells if c.dataset != held_out]
        try:
            fold = fit_model(train, features, alpha=alpha, with_errors=False)
        except ConfigError:
            continue
        for cell in (c for c in cells if c.dataset == held_out):
            predicted = fold.predict(cell.features)
            for s in strategies:
                if s in fold.intercepts and _finite(cell.gains.get(s)):
                    squared[s].append((predicted[s] - float(cell.gains[s])) ** 2)
    return {s: float(math.sqrt(np.mean(v))) if v else math.nan for s, v in squared.items()}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _digest(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
