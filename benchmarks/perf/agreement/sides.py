"""The two sides of one (cell, seed): our whole AL run, and scikit-activeml's from the same start.

Why each side is run this way:

- **ours** is ``run_experiment`` with ``ALConfig.for_case(..., protocol="scikit-activeml")``, exactly
  what a user of the plugin gets. The run record holds the curve and the selections but not the head's
  predictions, so the heads are *replayed*: the same LogisticHead, the same labeled sets in the same
  order, warm-started from the previous cycle exactly when the loop does (the head's ``warm_start``
  setting; the scikit-activeml protocol refits from zero). The head is deterministic on one
  machine, so the replay reproduces the run; its test accuracy is checked against the record's, and a
  replay that does not reproduce it is reported rather than trusted.
- **the peer** is scikit-activeml 1.0.1's strategy called through ``benchmarks.perf.peers``'
  ``SkactivemlAdapter`` (its classifier wrapper, missing labels as ``np.nan``), with scikit-learn's
  ``LogisticRegression(C=1, max_iter=1000)`` refitted from scratch every cycle on the raw rows
  (``peers.al_runs.fit_logistic``), starting from *our* run's initial pool, with the same cycles and
  query sizes, and a ``random_state`` per cycle derived from the seed. Its strategy object persists
  across cycles, as in a user's loop (ProbCover keeps its distance matrix and δ on it).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_albench.engine.config import ALConfig
from pytest_albench.engine.engine import Engine, run_experiment
from pytest_albench.engine.loop import PoolProblem
from pytest_albench.engine.result import RunResult

from ..peers import adapters as pa
from ..peers.al_runs import fit_logistic
from ..peers.overlap import check_selection
from ..peers.timing import call_seed
from .cells import PEER_MAX_ITER, PEER_SEED_OFFSET, PROTOCOL, Cell

__all__ = ["OurRun", "PeerRun", "as_tensor", "case_config", "replay_heads", "run_ours", "run_peer"]


def case_config(cell: Cell, cycles: int, query_size: int, max_pool: int | None) -> ALConfig:
    """Our side's configuration: the cell under the scikit-activeml protocol."""
    return ALConfig.for_case(
        cell.dataset,
        cell.embedding,
        cell.strategy,
        protocol=PROTOCOL,
        cycles=cycles,
        query_size=query_size,
        max_pool=max_pool,
    )


@dataclass
class OurRun:
    """Our run and, per curve point (cycle 0 = the initial pool), what the replayed head predicted.

    ``heads[t]`` is the head fitted after cycle t; ``replay_matches`` is False when its test accuracy
    differs from the run's record (the head comparison is then not the run's own).
    """

    result: RunResult
    test_pred: list[np.ndarray]
    heads: list[Any]
    replay_matches: bool
    seconds: float


@dataclass
class PeerRun:
    """The peer's run: per curve point its fitted classifier's test predictions and accuracy, its picks
    per cycle (cycle 1 first), the ``CycleInputs`` each query saw (``inputs[t]``: cycle t + 1's), fit
    notes (non-convergence) and, for ProbCover, the δ it chose."""

    accuracy: list[float]
    test_pred: list[np.ndarray]
    selected: list[np.ndarray]
    inputs: list[pa.CycleInputs]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    delta: float | None = None


def run_ours(engine: Engine, config: ALConfig, problem: PoolProblem, seed: int) -> OurRun:
    """Our run of ``config`` for ``seed``, then the replay of its heads (see the module doc)."""
    t0 = time.perf_counter()
    result = run_experiment(config, seed, engine)
    seconds = time.perf_counter() - t0
    heads, preds = replay_heads(config, problem, result)
    y_test = problem.y_test
    matches = all(
        abs(float(np.mean(p == y_test)) - rec.test_accuracy) < 1e-12
        for p, rec in zip(preds, result.cycles, strict=True)
    )
    return OurRun(result, preds, heads, matches, seconds)


def replay_heads(config: ALConfig, problem: PoolProblem, result: RunResult) -> tuple[list[Any], list[np.ndarray]]:
    """Refit our head on each cycle's labeled set as the loop did; (heads, test predictions) per cycle.

    The protocol's ``feature_scaling="none"`` means the loop fed the rows unscaled, as here.
    """
    import torch

    from pytest_albench.engine.heads import make_head

    params = dict(config.head_params)
    if params.get("feature_scaling", "none") != "none":
        raise ValueError("the replay assumes the protocol's feature_scaling='none'")
    x_pool = as_tensor(problem.x_pool)
    y_pool = torch.from_numpy(problem.y_pool.astype(np.int64))
    x_test = as_tensor(problem.x_test)
    labeled = np.zeros(len(problem.y_pool), dtype=bool)
    heads: list[Any] = []
    preds: list[np.ndarray] = []
    previous: Any = None
    for record in result.cycles:
        labeled[np.asarray(record.selected, dtype=np.int64)] = True
        idx = torch.from_numpy(np.flatnonzero(labeled))
        head = make_head(config.head, problem.n_classes, 0, **params)  # the logistic head ignores its seed
        if previous is not None and hasattr(head, "warm_start_from"):
            head.warm_start_from(previous)
        head.fit(x_pool[idx], y_pool[idx])
        preds.append(head.predict_proba(x_test).argmax(dim=1).numpy())
        heads.append(head)
        previous = head
    return heads, preds


def as_tensor(x: np.ndarray) -> Any:
    """A float32 CPU tensor of its own: the engine's embeddings may be read-only (memory-mapped from the
    cache), which torch refuses to share without a warning."""
    import torch

    return torch.from_numpy(np.array(x, dtype=np.float32, order="C", copy=True))


def run_peer(cell: Cell, problem: PoolProblem, initial_pool: list[int], schedule: list[int], seed: int) -> PeerRun:
    """scikit-activeml's run from ``initial_pool`` with ``schedule`` query sizes (see the module doc)."""
    spec = pa.PEER_SPECS[cell.strategy]["skactiveml"]
    adapter = pa.SkactivemlAdapter(spec, problem.n_classes)
    x = np.ascontiguousarray(problem.x_pool, dtype=np.float32)
    y = problem.y_pool.astype(np.int64)
    labeled = np.zeros(len(y), dtype=bool)
    labeled[np.asarray(initial_pool, dtype=np.int64)] = True
    t0 = time.perf_counter()
    clf, note = fit_logistic(x, labeled, y, PEER_MAX_ITER)
    notes = [f"cycle 0: {note}"] if "not converged" in note else []
    base = pa.CycleInputs(x=x, labeled=labeled.copy(), labels=y, n_classes=problem.n_classes, clf=clf, batch=1)
    state: Any = None
    run = PeerRun([], [], [], [], notes)
    run.test_pred.append(clf.predict(problem.x_test).astype(np.int64))
    run.accuracy.append(float(np.mean(run.test_pred[-1] == problem.y_test)))
    for cycle, batch in enumerate(schedule, start=1):
        inputs = dataclasses.replace(base, labeled=labeled.copy(), clf=clf, batch=batch)
        if state is None:
            state = adapter.new_state(inputs)
        adapter.bind(inputs)
        picked = adapter.select(state, inputs, call_seed(seed, PEER_SEED_OFFSET + cycle))
        problem_text = check_selection(picked, labeled, batch)
        if problem_text:
            raise RuntimeError(f"scikit-activeml {spec.display}, cycle {cycle}: {problem_text}")
        run.inputs.append(inputs)
        run.selected.append(picked)
        labeled[picked] = True
        clf, note = fit_logistic(x, labeled, y, PEER_MAX_ITER)
        if "not converged" in note:
            run.notes.append(f"cycle {cycle}: {note}")
        run.test_pred.append(clf.predict(problem.x_test).astype(np.int64))
        run.accuracy.append(float(np.mean(run.test_pred[-1] == problem.y_test)))
    run.seconds = time.perf_counter() - t0
    delta = getattr(state, "delta_max_", None)
    run.delta = float(delta) if delta is not None else None
    return run
