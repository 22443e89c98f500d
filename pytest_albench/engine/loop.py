"""The active-learning loop on a pool of frozen embeddings.

``run_active_learning`` works on arrays only, so tests and the performance benchmark can call it
with any embeddings; ``experiment.py`` builds those arrays from dataset and encoder names.

Fairness across strategies rests on separate random streams derived from the run seed:
``initial_pool``, ``head`` and ``strategy``. The initial pool and every head's seed therefore do not
depend on which strategy runs, so all strategies of a seed start from the same labeled pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import BudgetError, DatasetError, EmbeddingError
from .heads import DEFAULT_FEATURE_SCALING, Head, check_feature_scaling, make_head, numpy_seed
from .metrics import accuracy, macro_f1, normalized_aulc
from .provenance import environment_fingerprint
from .result import CycleRecord, RunResult

#: The independent random streams and the child of the run seed's SeedSequence each one draws from:
#: part of the reproducibility contract. Child 0 was a "subsample" stream nothing drew from (pools are
#: subsampled with ``ALConfig.subsample_seed``, shared by all seeds); it stays unused so that every
#: other stream keeps its child, and every run its exact results.
STREAMS: dict[str, int] = {"initial_pool": 1, "head": 2, "strategy": 3}

ProgressCallback = Callable[[str, int, int], None]


def make_streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per stream, each from its own child of the run seed's SeedSequence."""
    children = np.random.SeedSequence(seed).spawn(max(STREAMS.values()) + 1)
    return {name: np.random.default_rng(children[index]) for name, index in STREAMS.items()}


@dataclass
class PoolProblem:
    """Embedded pool and test set of one (dataset, embedding) pair, validated once."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    x_validation: np.ndarray | None = None
    y_validation: np.ndarray | None = None
    class_names: tuple[str, ...] = ()
    description: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        what = self.description.get("name", "the pool problem")
        for split, x, y in (("pool", self.x_pool, self.y_pool), ("test", self.x_test, self.y_test)):
            _check_split(what, split, x, y, self.n_classes)
        if self.x_validation is not None and self.y_validation is not None and len(self.y_validation):
            _check_split(what, "validation", self.x_validation, self.y_validation, self.n_classes)
        if self.x_pool.shape[1] != self.x_test.shape[1]:
            raise EmbeddingError(
                f"{what}: pool and test embeddings differ in width ({self.x_pool.shape[1]} vs "
                f"{self.x_test.shape[1]}); embed both splits with the same encoder"
            )
        if np.unique(self.y_pool).size < 2:
            raise DatasetError(f"{what}: the pool holds a single class; AL needs at least two classes")


def _check_split(what: str, split: str, x: np.ndarray, y: np.ndarray, n_classes: int) -> None:
    if x.ndim != 2 or x.shape[0] == 0:
        raise DatasetError(f"{what}: the {split} split is empty (embedding shape {x.shape})")
    if x.shape[1] == 0:
        raise EmbeddingError(
            f"{what}: the {split} embeddings have no features (shape {x.shape}); the encoder returned "
            "zero-width vectors: check its output (or its truncation setting)"
        )
    if y.shape != (x.shape[0],):
        raise DatasetError(f"{what}: {split} has {x.shape[0]} embeddings but labels of shape {y.shape}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise EmbeddingError(
            f"{what}: {int(bad.sum())} of {x.shape[0]} {split} embeddings contain NaN or inf "
            f"(first rows {np.flatnonzero(bad)[:5].tolist()}); check the encoder or clear its cache entry"
        )
    if y.min() < 0 or y.max() >= n_classes:
        raise DatasetError(f"{what}: {split} labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")


def check_budget(n_pool: int, initial_pool_size: int, schedule: Sequence[int]) -> None:
    """Refuse a budget the pool cannot supply before any work is done."""
    if initial_pool_size < 0:
        raise BudgetError(f"the initial pool size k0 must be >= 0, got {initial_pool_size}")
    if initial_pool_size > n_pool:
        raise BudgetError(
            f"the initial pool size k0={initial_pool_size} exceeds the pool of {n_pool} points; "
            "lower k0 or raise the pool size (max_pool)"
        )
    if any(b < 1 for b in schedule):
        raise BudgetError(f"every query size must be >= 1, got schedule {list(schedule)}")
    total = initial_pool_size + sum(schedule)
    if total > n_pool:
        raise BudgetError(
            f"the budget k0 + queries = {initial_pool_size} + {sum(schedule)} = {total} exceeds the pool "
            f"of {n_pool} points; use fewer cycles, a smaller query size or a larger pool"
        )
    if initial_pool_size == 0 and not schedule:
        raise BudgetError("nothing would be labeled: give k0 > 0 or at least one query")


class _Timer:
    """Wall-clock timing that waits for queued GPU work, so GPU times are not understated."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def now(self) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()


def run_active_learning(
    problem: PoolProblem,
    *,
    strategy: str,
    seed: int,
    initial_pool_size: int,
    schedule: Sequence[int],
    initial_pool_method: str = "random",
    head: str = "logistic",
    head_params: dict[str, Any] | None = None,
    strategy_params: dict[str, Any] | None = None,
    device: str = "auto",
    n_samples: int = 8,
    config: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run one AL experiment: initial pool, then one query + retrain + test evaluation per cycle.

    The test split is only ever passed to the fitted head for evaluation; strategies see the pool.
    ``strategy_params`` are the strategy's declared keywords; they are checked before any work and
    enter the configuration hash only when given, so runs without them keep their hash.
    """
    from ..strategies import QueryInputs, get_strategy, query, select_initial_pool
    from .device import resolve_device

    spec = get_strategy(strategy)
    params = spec.check_params(strategy_params or {})
    dev = resolve_device(device)
    check_budget(len(problem.y_pool), initial_pool_size, schedule)
    run = _Run(problem, dev, seed, head, dict(head_params or {}))
    initial = np.empty(0, dtype=np.int64)
    if initial_pool_size > 0:
        initial = select_initial_pool(
            initial_pool_method, run.x_pool, initial_pool_size, run.streams["initial_pool"], labels=problem.y_pool
        )
        run.reveal(initial)
        run.fitted = run.train_and_evaluate(0, initial, 0.0)
    memo: dict[str, Any] = {}
    for cycle, batch in enumerate(schedule, start=1):
        if progress is not None:
            progress("cycle", cycle, len(schedule))
        t0 = run.timer.now()
        inputs = QueryInputs(run.x_pool, run.labeled.clone(), run.known.clone(), problem.n_classes, memo=memo)
        if run.fitted is not None:
            fill_needs(inputs, spec.needs, run.fitted, run.x_pool, n_samples, run.streams["strategy"])
        selected = query(spec, inputs, batch, run.streams["strategy"], params)
        query_time = run.timer.now() - t0
        run.reveal(selected)
        run.fitted = run.train_and_evaluate(cycle, selected, query_time)
    config_dict = dict(config or {})
    config_dict.update(
        strategy=strategy,
        seed=seed,
        initial_pool_size=initial_pool_size,
        schedule=list(schedule),
        initial_pool_method=initial_pool_method,
        head=head,
        head_params=dict(head_params or {}),
        n_samples=n_samples,
    )
    config_dict.pop("strategy_params", None)  # what ran is hashed, never a caller's unused copy
    if params:
        config_dict["strategy_params"] = params
    return run.result(config_dict, initial)


class _Run:
    """The state of one run on its device: the splits as the head sees them (``feature_scaling``), the
    labeled mask and revealed labels, the seed's streams, and the per-cycle records of the heads fitted
    so far."""

    def __init__(self, problem: PoolProblem, dev: str, seed: int, head: str, head_params: dict[str, Any]) -> None:
        import torch

        self.problem, self.dev, self.seed, self.head, self.head_params = problem, dev, seed, head, head_params
        self.streams = make_streams(seed)
        self.timer = _Timer(dev)
        self.start = self.timer.now()
        scaling = check_feature_scaling(head_params.get("feature_scaling", DEFAULT_FEATURE_SCALING))
        scale = feature_scale(problem.x_pool) if scaling == "pool_norm" else 1.0
        self.x_pool = _to_device(problem.x_pool, scale, dev)
        self.y_pool = torch.from_numpy(problem.y_pool.astype(np.int64)).to(dev)
        self.x_test = _to_device(problem.x_test, scale, dev)
        self.x_val = None
        if problem.x_validation is not None and problem.y_validation is not None and len(problem.y_validation):
            self.x_val = _to_device(problem.x_validation, scale, dev)
        self.labeled = torch.zeros(len(problem.y_pool), dtype=torch.bool, device=dev)
        self.known = torch.full_like(self.y_pool, -1)
        self.records: list[CycleRecord] = []
        self.fitted: Head | None = None

    def reveal(self, indices: np.ndarray) -> None:
        _reveal(self.labeled, self.known, self.y_pool, indices)

    def train_and_evaluate(self, cycle: int, selected: np.ndarray, query_time: float) -> Head:
        import torch

        problem = self.problem
        t0 = self.timer.now()
        idx = torch.nonzero(self.labeled).flatten()
        model = make_head(self.head, problem.n_classes, numpy_seed(self.streams["head"]), **self.head_params)
        if self.fitted is not None and hasattr(model, "warm_start_from"):
            model.warm_start_from(self.fitted)  # a convex head reaches the same optimum, sooner
        model.fit(self.x_pool[idx], self.y_pool[idx])
        train_time = self.timer.now() - t0
        predicted = model.predict_proba(self.x_test).argmax(dim=1).cpu().numpy()
        val_acc = None
        if self.x_val is not None and problem.y_validation is not None:
            val_acc = accuracy(problem.y_validation, model.predict_proba(self.x_val).argmax(dim=1).cpu().numpy())
        self.records.append(
            CycleRecord(
                cycle=cycle,
                n_labeled=int(idx.numel()),
                test_accuracy=accuracy(problem.y_test, predicted),
                test_macro_f1=macro_f1(problem.y_test, predicted, problem.n_classes),
                validation_accuracy=val_acc,
                query_time_s=float(query_time),
                train_time_s=float(train_time),
                selected=[int(i) for i in selected],
            )
        )
        return model

    def result(self, config_dict: dict[str, Any], initial: np.ndarray) -> RunResult:
        from .provenance import stable_hash

        records = self.records
        curve_x = [r.n_labeled for r in records]
        hashed = {k: v for k, v in config_dict.items() if k not in ("seed", "device")}
        return RunResult(
            config=config_dict,
            config_hash=stable_hash(hashed),
            seed=self.seed,
            cycles=records,
            aulc=normalized_aulc(curve_x, [r.test_accuracy for r in records]),
            final_accuracy=records[-1].test_accuracy,
            aulc_macro_f1=normalized_aulc(curve_x, [r.test_macro_f1 for r in records]),
            initial_pool=[int(i) for i in initial],
            environment=environment_fingerprint(self.dev),
            data=dict(self.problem.description),
            total_time_s=float(self.timer.now() - self.start),
        )


def feature_scale(x_pool: np.ndarray) -> float:
    """One scalar that gives pool rows a mean norm of sqrt(d), i.e. about unit scale per dimension.

    Encoders differ by orders of magnitude in scale (unit-norm sentence embeddings, LSA components,
    averaged GloVe vectors), and an L2-penalised head with a fixed C would be over-regularised on
    some and not on others. A single scalar from the pool (never the test split) fixes that while
    leaving every distance ratio, and so every diversity strategy's choice, unchanged.

    It is the ``"pool_norm"`` feature scaling, the default protocol's; a head given
    ``feature_scaling="none"`` sees the rows unscaled (the scikit-activeml and study protocols).
    """
    with np.errstate(over="ignore"):
        mean_norm = float(np.linalg.norm(x_pool, axis=1).mean())
    if not np.isfinite(mean_norm):
        # float32 squares overflow above ~1e19; float64 holds them (kept as the fallback only, so the
        # scale of every ordinary embedding stays bit-identical)
        mean_norm = float(np.linalg.norm(x_pool.astype(np.float64), axis=1).mean())
    scale = float(np.sqrt(x_pool.shape[1]) / mean_norm) if mean_norm > 0 else 1.0
    if not np.isfinite(scale) or scale < np.finfo(np.float32).tiny or not np.isfinite(scale * np.abs(x_pool).max()):
        raise EmbeddingError(
            f"embedding rows have a mean norm of {mean_norm:.3g}, which float32 cannot rescale to unit size "
            "(features would underflow to 0); the encoder's output is broken: check its dtype and scaling"
        )
    return scale


def _to_device(x: np.ndarray, scale: float, device: str) -> Any:
    import torch

    rows = np.ascontiguousarray(x, dtype=np.float32)
    if scale != 1.0:
        rows = rows * np.float32(scale)
    elif rows is x:
        rows = rows.copy()  # the run never writes through to the caller's (or the cache's) array
    return torch.from_numpy(rows).to(device)


def _reveal(labeled: Any, known: Any, y_pool: Any, indices: np.ndarray) -> None:
    """The oracle step: mark points labeled and make their labels visible to strategies."""
    import torch

    idx = torch.as_tensor(indices, dtype=torch.long, device=labeled.device)
    labeled[idx] = True
    known[idx] = y_pool[idx]


def fill_needs(
    inputs: Any, needs: frozenset[str], head: Head, x_pool: Any, n_samples: int, rng: np.random.Generator
) -> None:
    """Compute what the strategy declared it needs from the current head, each once per cycle.

    ``needs`` is a subset of {"proba", "hidden", "sampled_proba", "head"}: the head's forward passes
    over the pool are run only for what the strategy asked for, and the results are set on ``inputs``
    (a ``QueryInputs``). Public because a query's cost includes this step: the benchmarks in
    ``benchmarks/perf`` call it to time exactly what one cycle of ``run_active_learning`` pays.
    """
    if "proba" in needs:
        inputs.proba = head.predict_proba(x_pool)
    if "hidden" in needs:
        inputs.hidden = head.hidden(x_pool)
    if "sampled_proba" in needs:
        from ..strategies.kernels import torch_generator

        inputs.sampled_proba = head.sampled_proba(x_pool, n_samples, torch_generator(rng))
    if "head" in needs:
        inputs.head = head
