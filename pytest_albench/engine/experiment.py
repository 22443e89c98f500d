"""From names to results: build the embedded pool for (dataset, embedding) and run the loop.

This is the layer the pytest plugin calls. It keeps one embedded problem per process in memory, so a
worker that runs several strategies or seeds on one (dataset, embedding) pair embeds once, and the
on-disk cache makes that once per machine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from ..errors import ConfigError
from .loop import PoolProblem, ProgressCallback, run_active_learning
from .result import RunResult

#: The split/subsample stream is seeded separately from the run seed, so the (expensive) embedded
#: pool is shared by all seeds; seeds vary the initial pool, the heads and the strategies.
DEFAULT_SUBSAMPLE_SEED = 0


@dataclass(frozen=True)
class ALConfig:
    """Everything that defines one AL case apart from the run seed."""

    dataset: str = "bbc_news"
    embedding: str = "minilm-l6"
    strategy: str = "random"
    initial_pool_size: int = 10
    query_size: int = 10
    cycles: int = 10
    budget_schedule: tuple[int, ...] | None = None
    initial_pool_method: str = "random"
    head: str = "logistic"
    head_params: tuple[tuple[str, Any], ...] = ()
    max_pool: int | None = None
    max_test: int | None = None
    subsample_seed: int = DEFAULT_SUBSAMPLE_SEED
    n_samples: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.head_params, dict):
            object.__setattr__(self, "head_params", tuple(sorted(self.head_params.items())))
        if self.budget_schedule is not None:
            object.__setattr__(self, "budget_schedule", tuple(int(b) for b in self.budget_schedule))
        for name in ("initial_pool_size", "query_size", "cycles"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("max_pool", "max_test"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")

    @property
    def schedule(self) -> list[int]:
        """Query sizes per cycle: the explicit schedule, else ``cycles`` × ``query_size``."""
        if self.budget_schedule is not None:
            return list(self.budget_schedule)
        return [self.query_size] * self.cycles

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["head_params"] = dict(self.head_params)
        out["budget_schedule"] = list(self.budget_schedule) if self.budget_schedule is not None else None
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ALConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown AL settings {unknown}; valid settings: {sorted(known)}")
        return cls(**raw)

    def with_overrides(self, **overrides: Any) -> ALConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class EngineSettings:
    """Where things live and run; not part of a case's identity."""

    data_dir: str | None = None
    cache_dir: str | None = None
    device: str = "auto"
    progress: bool = True
    trust_remote_code: bool = False
    batch_size: int = 32
    _problems: dict[tuple[Any, ...], PoolProblem] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def problem_for(self, config: ALConfig, progress: ProgressCallback | None = None) -> PoolProblem:
        key = (config.dataset, config.embedding, config.max_pool, config.max_test, config.subsample_seed)
        with self._lock:
            if key not in self._problems:
                self._problems[key] = build_problem(config, self, progress)
            return self._problems[key]


def build_problem(config: ALConfig, settings: EngineSettings, progress: ProgressCallback | None = None) -> PoolProblem:
    """Load the dataset, subsample large splits with the subsample stream, embed (cached)."""
    from ..data import load_dataset, subsample_indices
    from ..embeddings import embed_dataset

    if progress is not None:
        progress("dataset", 0, 1)
    dataset = load_dataset(config.dataset, data_dir=settings.data_dir)
    rng = np.random.default_rng(np.random.SeedSequence(config.subsample_seed))
    pool_idx = subsample_indices(dataset.train.labels, config.max_pool or len(dataset.train.labels), rng)
    test_idx = subsample_indices(dataset.test.labels, config.max_test or len(dataset.test.labels), rng)
    val_idx = subsample_indices(dataset.validation.labels, config.max_test or len(dataset.validation.labels), rng)
    subset = replace(
        dataset,
        train=dataset.train.subset(pool_idx),
        validation=dataset.validation.subset(val_idx),
        test=dataset.test.subset(test_idx),
    )
    if progress is not None:
        progress("embedding", 0, 1)
    embedded = embed_dataset(
        config.embedding, subset, cache_dir=settings.cache_dir, device=settings.device,
        batch_size=settings.batch_size, progress=settings.progress,
        trust_remote_code=settings.trust_remote_code,
    )
    return PoolProblem(
        x_pool=embedded.train,
        y_pool=subset.train.labels,
        x_test=embedded.test,
        y_test=subset.test.labels,
        x_validation=embedded.validation,
        y_validation=subset.validation.labels,
        n_classes=len(dataset.class_names),
        class_names=tuple(dataset.class_names),
        description={
            "name": f"{config.dataset} × {config.embedding}",
            "dataset": config.dataset,
            "dataset_source": dataset.source,
            "dataset_fingerprint": subset.fingerprint,
            "embedding": config.embedding,
            "embedding_identity": dict(embedded.encoder_identity),
            "pool_size": int(len(pool_idx)),
            "test_size": int(len(test_idx)),
            "dim": int(embedded.train.shape[1]),
            "n_classes": len(dataset.class_names),
            "pool_source_rows": [int(i) for i in pool_idx] if config.max_pool else None,
        },
    )


def run_experiment(
    config: ALConfig,
    seed: int = 0,
    settings: EngineSettings | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run one (config, seed) from names: the plain-Python entry point of the engine."""
    settings = settings or EngineSettings()
    problem = settings.problem_for(config, progress)
    return run_active_learning(
        problem,
        strategy=config.strategy,
        seed=seed,
        initial_pool_size=config.initial_pool_size,
        schedule=config.schedule,
        initial_pool_method=config.initial_pool_method,
        head=config.head,
        head_params=dict(config.head_params),
        device=settings.device,
        n_samples=config.n_samples,
        config=config.to_dict(),
        progress=progress,
    )


def run_seeds(
    config: ALConfig, seeds: Iterable[int], settings: EngineSettings | None = None,
    progress: ProgressCallback | None = None,
) -> list[RunResult]:
    settings = settings or EngineSettings()
    return [run_experiment(config, seed, settings, progress) for seed in seeds]
