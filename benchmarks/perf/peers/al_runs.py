"""Short AL runs per side, for the randomised strategies that cannot agree point by point.

Why: random, TypiClust, ProbCover and BADGE draw differently on every side, so their selections are
compared by what matters instead: the test-accuracy curve of a few cycles from the same labeled set,
with a fresh scikit-learn ``LogisticRegression`` per cycle for every side.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import adapters as pa
from .ours import OursAdapter
from .overlap import check_selection
from .results import PeerTask, PhaseResult, TaskResult
from .timing import call_seed

#: Offset of the AL runs' call seeds, so they never coincide with the timed calls' seeds.
AL_SEED_OFFSET = 1000


def fit_logistic(x: np.ndarray, labeled: np.ndarray, labels: np.ndarray, max_iter: int) -> tuple[Any, str]:
    """scikit-learn's LogisticRegression (lbfgs, C = 1) on the labeled rows; returns it and a note
    when it stopped at ``max_iter`` (its weights would then depend on the iteration budget)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    idx = np.flatnonzero(labeled)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf = LogisticRegression(C=1.0, solver="lbfgs", max_iter=max_iter).fit(x[idx], labels[idx])
    stopped = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    iters = int(np.max(clf.n_iter_))
    note = f"LogisticRegression stopped at max_iter={max_iter} (not converged)" if stopped else ""
    return clf, note if note else f"LogisticRegression converged in {iters} lbfgs iterations"


def al_seconds_per_seed(phases: Sequence[PhaseResult], side: str, cycles: int) -> float:
    """Estimated query time of one AL run of ``side``: the first call, then memo-reused calls
    (when the strategy has a memo) or first calls again."""
    times = {p.phase: p.sides[side].median_ms for p in phases if side in p.sides and not p.sides[side].error}
    first = times.get("", times.get("first call")) or 0.0
    later = times.get("memo reused", first) or 0.0
    return (first + (cycles - 1) * later) / 1000.0


def al_seeds_within(seeds: Sequence[int], seconds_per_seed: float, cap_s: float) -> list[int]:
    """The leading seeds whose AL runs fit in ``cap_s`` seconds of estimated query time (maybe none)."""
    if seconds_per_seed <= 0:
        return list(seeds)
    return list(seeds[: max(0, int(cap_s // seconds_per_seed))])


def run_al(
    adapter: Any, base: pa.CycleInputs, x_test: np.ndarray, y_test: np.ndarray, task: PeerTask, seed: int
) -> list[float]:
    """Test accuracy after 0..``al_cycles`` queries of ``adapter`` from the shared labeled set.

    Each cycle: the side queries ``batch`` points, they are labeled, a fresh scikit-learn
    LogisticRegression is fitted on all labeled points (for ours: and loaded into our head, which
    then predicts the test set, as our loop's evaluation would). The strategy's state (our memo,
    the peer's strategy object) persists across cycles, as in a real run.
    """
    labeled = base.labeled.copy()
    state = adapter.new_state(base)
    clf = base.clf
    x_test_side: Any = x_test
    if isinstance(adapter, OursAdapter):
        x_test_side = adapter._torch.from_numpy(x_test).to(adapter.device)

    def accuracy(cycle: pa.CycleInputs) -> float:
        if isinstance(adapter, OursAdapter):
            return adapter.accuracy(x_test_side, y_test)
        return float((cycle.clf.predict(x_test) == y_test).mean())

    cycle = dataclasses.replace(base, labeled=labeled.copy(), clf=clf)
    adapter.bind(cycle)
    accs = [accuracy(cycle)]
    for k in range(task.al_cycles):
        picked = adapter.select(state, cycle, call_seed(seed, AL_SEED_OFFSET + k))
        problem = check_selection(picked, labeled, task.batch)
        if problem:
            raise RuntimeError(f"cycle {k + 1}: {problem}")
        labeled[picked] = True
        clf, _ = fit_logistic(base.x, labeled, base.labels, task.lr_max_iter)
        cycle = dataclasses.replace(base, labeled=labeled.copy(), clf=clf)
        adapter.bind(cycle)
        accs.append(accuracy(cycle))
    adapter.bind(base)
    return accs


def aulc(accuracies: Sequence[float]) -> float:
    """Mean test accuracy over the cycles, the start included (equal query sizes: the normalised
    area under the learning curve up to the trapezoid's end-point weights)."""
    return float(np.mean(accuracies))


def run_al_per_side(
    task: PeerTask, test_path: str, adapters: dict[str, Any], base: pa.CycleInputs, result: TaskResult
) -> None:
    """The short AL runs of every side whose query worked, as many seeds as fit in the AL time cap.

    The test split (``test_path``) is scaled with the pool's feature scale (``base.scale``), as the loop does.
    """
    with np.load(test_path) as data:
        x_test = np.ascontiguousarray(data["x"], dtype=np.float32) * np.float32(base.scale)
        y_test = data["y"].astype(np.int64)
    for side, adapter in adapters.items():
        if any(p.sides.get(side) is not None and p.sides[side].error for p in result.phases):
            result.al_notes[side] = "not run: its query failed above"
            continue
        per_seed = al_seconds_per_seed(result.phases, side, task.al_cycles)
        seeds = al_seeds_within(task.al_seeds, per_seed, task.al_time_cap)
        if not seeds:
            result.al_notes[side] = f"skipped (est. {per_seed:,.0f} s per run > AL cap {task.al_time_cap:g} s)"
            continue
        if len(seeds) < len(task.al_seeds):
            result.al_notes[side] = (
                f"{len(seeds)} of {len(task.al_seeds)} seeds (est. {per_seed:,.0f} s per "
                f"run, AL cap {task.al_time_cap:g} s)"
            )
        try:
            result.al[side] = {s: run_al(adapter, base, x_test, y_test, task, s) for s in seeds}
        except Exception as exc:  # noqa: BLE001 - report, keep the other sides' curves
            result.al.pop(side, None)
            result.al_notes[side] = f"failed: {type(exc).__name__}: {exc}"
