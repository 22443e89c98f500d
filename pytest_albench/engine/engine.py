"""From names to results: build the embedded pool for (dataset, embedding) and run the loop.

This is the layer the pytest plugin calls (and the plain-Python entry point, ``run_experiment``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .config import ALConfig
from .loop import PoolProblem, ProgressCallback, run_active_learning
from .result import RunResult

#: At most this many embedded problems stay in a process's memory. Cases reach a worker grouped by
#: (dataset, embedding) pair far more often than not, so the pair in use and a few recent ones cover
#: the reuse there is; an evicted pair is reloaded from the on-disk cache (milliseconds to seconds),
#: never re-embedded.
MAX_PROBLEMS = 4
#: ... and at most this many bytes of embeddings: four 7B-encoder pools (4,096-d float32 over 100k+
#: rows) would otherwise hold several GiB in each of eight xdist workers. The newest problem is always
#: kept, whatever its size.
MAX_PROBLEM_BYTES = 2 * 1024**3


@dataclass
class Engine:
    """The per-process engine: where things live and run, plus a bounded LRU of embedded problems.

    None of its settings is part of a case's identity. One engine serves every case a process runs, so
    a worker that runs several strategies or seeds on one (dataset, embedding) pair embeds once; the
    on-disk cache makes that once per machine.
    """

    data_dir: str | None = None
    cache_dir: str | None = None
    device: str = "auto"
    progress: bool = True
    trust_remote_code: bool = False
    batch_size: int = 32
    max_problems: int = MAX_PROBLEMS
    max_problem_bytes: int = MAX_PROBLEM_BYTES
    _problems: OrderedDict[tuple[Any, ...], PoolProblem] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def problem_for(self, config: ALConfig, progress: ProgressCallback | None = None) -> PoolProblem:
        key = (
            config.dataset,
            config.embedding,
            config.max_pool,
            config.max_test,
            config.subsample_seed,
            config.validation,
        )
        with self._lock:
            if key in self._problems:
                self._problems.move_to_end(key)
                return self._problems[key]
            problem = build_problem(config, self, progress)
            self._problems[key] = problem
            self._evict()
            return problem

    def cached_problems(self) -> int:
        """How many embedded problems this process holds now (for tests and diagnostics)."""
        return len(self._problems)

    def _evict(self) -> None:
        while len(self._problems) > 1 and (
            len(self._problems) > self.max_problems or _problem_bytes(self._problems.values()) > self.max_problem_bytes
        ):
            self._problems.popitem(last=False)


#: The name the engine had before it held the problem cache; kept for the public API.
EngineSettings = Engine


def _problem_bytes(problems: Iterable[PoolProblem]) -> int:
    return sum(
        int(getattr(p, name).nbytes)
        for p in problems
        for name in ("x_pool", "x_test", "x_validation")
        if getattr(p, name, None) is not None
    )


def build_problem(config: ALConfig, settings: Engine, progress: ProgressCallback | None = None) -> PoolProblem:
    """Load the dataset, subsample large splits (seeded by ``subsample_seed``), embed (cached).

    With ``validation="none"`` nothing is carved from train (the whole train split is the pool) and no
    validation split is embedded or evaluated; a dataset's own validation split is then unused.
    """
    from ..data import load_dataset, subsample_indices
    from ..embeddings import embed_dataset

    if progress is not None:
        progress("dataset", 0, 1)
    held_out = config.validation != "none"
    dataset = load_dataset(config.dataset, data_dir=settings.data_dir, validation_fraction=0.1 if held_out else None)
    rng = np.random.default_rng(np.random.SeedSequence(config.subsample_seed))
    pool_idx = subsample_indices(dataset.train.labels, config.max_pool or len(dataset.train.labels), rng)
    test_idx = subsample_indices(dataset.test.labels, config.max_test or len(dataset.test.labels), rng)
    n_val = len(dataset.validation.labels) if held_out else 0
    val_idx = subsample_indices(dataset.validation.labels, min(config.max_test or n_val, n_val), rng)
    subset = replace(
        dataset,
        train=dataset.train.subset(pool_idx),
        validation=dataset.validation.subset(val_idx),
        test=dataset.test.subset(test_idx),
    )
    if progress is not None:
        progress("embedding", 0, 1)
    embedded = embed_dataset(
        config.embedding,
        subset,
        cache_dir=settings.cache_dir,
        device=settings.device,
        batch_size=settings.batch_size,
        progress=settings.progress,
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
            "pool_size": len(pool_idx),
            "test_size": len(test_idx),
            "dim": int(embedded.train.shape[1]),
            "n_classes": len(dataset.class_names),
            "pool_source_rows": [int(i) for i in pool_idx] if config.max_pool else None,
        },
    )


def run_experiment(
    config: ALConfig,
    seed: int = 0,
    settings: Engine | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run one (config, seed) from names: the plain-Python entry point of the engine."""
    settings = settings or Engine()
    problem = settings.problem_for(config, progress)
    return run_active_learning(
        problem,
        strategy=config.strategy,
        seed=seed,
        initial_pool_size=config.k0_for(problem.n_classes),
        schedule=config.schedule,
        initial_pool_method=config.initial_pool_method,
        head=config.head,
        head_params=dict(config.head_params),
        strategy_params=dict(config.strategy_params),
        device=settings.device,
        n_samples=config.n_samples,
        config=config.to_dict(),
        progress=progress,
    )


def run_seeds(
    config: ALConfig,
    seeds: Iterable[int],
    settings: Engine | None = None,
    progress: ProgressCallback | None = None,
) -> list[RunResult]:
    settings = settings or Engine()
    return [run_experiment(config, seed, settings, progress) for seed in seeds]
