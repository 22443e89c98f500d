"""``advise()``: rank the candidate strategies for an unlabeled pool before any label is bought.

It builds the pool exactly as a benchmark case would (the dataset's train split, subsampled with the
fixed subsample seed when ``max_pool`` is given; nothing is carved and no label is read), embeds it
through the cache, computes the label-free measures, and asks the shipped model (or ``model``) for each
strategy's expected AULC gain over random. The answer carries the model's out-of-sample error per
strategy, and the probability that the strategy beats random under a normal error of that size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .model import BASELINE, AdvisorModel, load_model
from .training import pool_features

__all__ = ["SHIPPED_MODEL", "Advice", "advise", "advise_features", "shipped_model"]

#: The model file shipped with the package (rebuilt by ``albench-advise build``).
SHIPPED_MODEL = "model.json"


@dataclass(frozen=True)
class Advice:
    """Strategies best first, each with its predicted gain, its error and P(gain > 0)."""

    ranking: list[str]
    predicted_gain: dict[str, float]
    error: dict[str, float]
    p_beats_random: dict[str, float]
    features: dict[str, float]
    pool: dict[str, Any]
    model: str

    def to_json(self) -> dict[str, Any]:
        return {
            "ranking": self.ranking,
            "predicted_gain": self.predicted_gain,
            "error": self.error,
            "p_beats_random": self.p_beats_random,
            "features": self.features,
            "pool": self.pool,
            "model": self.model,
        }


def shipped_model() -> tuple[AdvisorModel, str]:
    """The packaged model and where it was read from."""
    path = resources.files(__package__).joinpath(SHIPPED_MODEL)
    if not path.is_file():
        raise ConfigError(
            "this installation has no advisor model file; build one with `albench-advise build RESULTS.json "
            "--out model.json` and pass --model model.json"
        )
    return load_model(str(path)), str(path)


def advise_features(
    features: dict[str, float], model: AdvisorModel, strategies: Sequence[str] | None = None
) -> tuple[list[str], dict[str, float], dict[str, float], dict[str, float]]:
    """The ranking, gains, errors and P(beats random) of ``strategies`` (default: every modelled one)."""
    predicted = model.predict(features)
    wanted = list(strategies) if strategies else [*model.strategies, BASELINE]
    unknown = [s for s in wanted if s not in predicted]
    if unknown:
        raise ConfigError(f"the advisor's model has no results for {unknown}; it knows {', '.join(sorted(predicted))}")
    gains = {s: predicted[s] for s in wanted}
    errors = {s: (0.0 if s == BASELINE else float(model.errors.get(s, math.nan))) for s in wanted}
    p_beats = {s: _p_positive(gains[s], errors[s]) for s in wanted}
    ranking = sorted(wanted, key=lambda s: (-gains[s], s))
    return ranking, gains, errors, p_beats


def advise(
    dataset: str,
    embedding: str,
    *,
    data_dir: str | None = None,
    strategies: Sequence[str] | None = None,
    model: str | Path | None = None,
    max_pool: int | None = None,
    cache_dir: str | None = None,
    device: str = "auto",
) -> Advice:
    """Rank ``strategies`` for the pool of ``dataset`` × ``embedding`` (see the module docstring)."""
    from ..engine.config import ALConfig
    from ..engine.engine import Engine
    from ..engine.label_free import label_free_measures

    fitted, source = (load_model(model), str(model)) if model is not None else shipped_model()
    config = ALConfig(dataset=dataset, embedding=embedding, strategy=BASELINE, validation="none", max_pool=max_pool)
    problem = Engine(data_dir=data_dir, cache_dir=cache_dir, device=device, progress=False).problem_for(config)
    measures = label_free_measures(problem.x_pool)
    features = pool_features(measures, problem.n_classes, problem.x_pool.shape[1])
    ranking, gains, errors, p_beats = advise_features(features, fitted, strategies)
    pool = {"dataset": dataset, "embedding": embedding, "rows": len(problem.x_pool), "classes": problem.n_classes}
    return Advice(ranking, gains, errors, p_beats, features, pool, source)


def _p_positive(mean: float, sd: float) -> float:
    if not math.isfinite(sd) or sd <= 0:
        return math.nan if mean == 0 else float(mean > 0)
    return 0.5 * (1.0 + math.erf(mean / (sd * math.sqrt(2.0))))
