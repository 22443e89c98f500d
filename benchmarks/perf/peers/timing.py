"""Timing the sides alternately: warm-up of every side, then rounds of one call per side.

Why alternately and in one process: load drift on a shared machine then hits all sides alike, and
every side sees the same pool, labeled set and fitted classifier. The order of the sides rotates from
round to round, so no side always runs first (on a warm cache) or last. Strategies that leave a memo
(our ProbCover graph, scikit-activeml's distance matrix) get a second phase with that memo reused.

Memory is measured in the warm-up call only, with the sampling thread and ``malloc_trim`` (which
returns freed heap to the OS, so that a re-used heap does not hide an allocation). The timed calls
have neither: trimming before a call makes that call fault its pages in again, a cost a real AL
loop does not pay, and it is not the same cost for every side. Before every timed call of every
side, ``gc.collect()`` runs outside the timer.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..common.memory import MIB, PeakProbe
from . import adapters as pa
from .floors import floor_kernel
from .ours import OursAdapter
from .overlap import check_selection
from .results import PeerTask, PhaseResult, SideMeasure, TaskResult

#: Offset of the call seeds of the "memo reused" phase (the AL runs use ``al_runs.AL_SEED_OFFSET``),
#: so they never coincide with the first-call seeds.
MEMO_SEED_OFFSET = 100


def call_seed(seed: int, call: int) -> int:
    """The integer seed every side gets for call number ``call`` (ours: ``default_rng(seed)``)."""
    return int(np.random.default_rng([seed, call]).integers(2**31 - 1))


def _call(
    adapter: Any, state: Any, cycle: pa.CycleInputs, seed: int, sample: bool, sample_ms: float
) -> tuple[float, int, np.ndarray]:
    """The warm-up query of one side with its memory probe: (seconds, peak extra bytes, selection)."""
    device = adapter.device if isinstance(adapter, OursAdapter) else "cpu"
    probe = PeakProbe(device, sample_ms / 1000.0, sample=sample)
    with probe:
        if isinstance(adapter, OursAdapter):
            adapter.sync()
        t0 = time.perf_counter()
        picked = adapter.select(state, cycle, seed)
        dt = time.perf_counter() - t0
    return dt, probe.extra_bytes, picked


def _timed_call(adapter: Any, state: Any, cycle: pa.CycleInputs, seed: int) -> float:
    """One timed query of one side, without the probe (see the module doc): seconds."""
    gc.collect()
    if isinstance(adapter, OursAdapter):
        adapter.sync()
    t0 = time.perf_counter()
    adapter.select(state, cycle, seed)
    return time.perf_counter() - t0


def rotated(sides: list[str], round_index: int) -> list[str]:
    """The sides in the order of round ``round_index``: the list rotated left by that many places."""
    if not sides:
        return sides
    shift = round_index % len(sides)
    return sides[shift:] + sides[:shift]


class _Phase:
    """One phase being timed: the sides that take part, their numbers so far and their last states.

    ``states`` None means a fresh state per call (what cycle 1 pays); otherwise every call of a side
    reuses that side's state (the memo an earlier call filled).
    """

    def __init__(
        self,
        task: PeerTask,
        adapters: dict[str, Any],
        cycle: pa.CycleInputs,
        states: dict[str, Any] | None,
        seed_base: int,
    ) -> None:
        self.task, self.adapters, self.cycle, self.states, self.seed_base = task, adapters, cycle, states, seed_base
        self.sides = {s: SideMeasure(s, "ours" if s == "ours" else adapters[s].spec.display) for s in adapters}
        self.last_state: dict[str, Any] = {}
        self.once: set[str] = set()

    def state_for(self, side: str) -> Any:
        return self.adapters[side].new_state(self.cycle) if self.states is None else self.states[side]

    def warm_up(self) -> None:
        """One call per side with the memory sampled; a side slower than the cap is timed only once."""
        task, cycle = self.task, self.cycle
        for side, adapter in self.adapters.items():
            state = self.state_for(side)
            try:
                dt, peak, picked = _call(
                    adapter, state, cycle, call_seed(task.seed, self.seed_base), True, task.sample_ms
                )
            except Exception as exc:  # noqa: BLE001 - one broken side must not hide the others
                self.sides[side].error = f"{type(exc).__name__}: {exc}"
                continue
            m = self.sides[side]
            m.warmup_ms, m.peak_mib, m.selection = dt * 1000.0, peak / MIB, picked.tolist()
            problem = check_selection(picked, cycle.labeled, cycle.batch)
            if problem:
                m.notes.append(f"INVALID QUERY: {problem}")
            self.last_state[side] = state
            if dt > task.cap_s:
                self.once.add(side)
                m.times_ms, m.runs = [dt * 1000.0], "1"
                m.notes.append(f"timed once: warm-up took {dt:,.1f} s > cap {task.cap_s:g} s")

    def timed_rounds(self, floor: Any = None) -> list[float]:
        """``repeats`` rounds of one call per side, the order rotating; the floor (if any) last in
        each round. Returns the floor's times in ms."""
        task = self.task
        floor_ms: list[float] = []
        for r in range(task.repeats):
            for side in rotated(list(self.adapters), r):
                m = self.sides[side]
                if m.error or side in self.once:
                    continue
                state = self.state_for(side)
                try:
                    dt = _timed_call(
                        self.adapters[side], state, self.cycle, call_seed(task.seed, self.seed_base + 1 + r)
                    )
                except Exception as exc:  # noqa: BLE001
                    m.error = f"{type(exc).__name__}: {exc}"
                    continue
                m.times_ms.append(dt * 1000.0)
                self.last_state[side] = state
            if floor is not None:
                gc.collect()
                t0 = time.perf_counter()
                floor()
                floor_ms.append((time.perf_counter() - t0) * 1000.0)
        return floor_ms

    def run(self, phase: str, floor: Any = None) -> tuple[PhaseResult, list[float]]:
        self.warm_up()
        if floor is not None:
            floor()  # its warm-up
        floor_ms = self.timed_rounds(floor)
        for side, m in self.sides.items():
            if not m.error and side not in self.once:
                m.runs = f"1+{len(m.times_ms)}"
        return PhaseResult(phase, self.sides), floor_ms


def measure_sides(task: PeerTask, adapters: dict[str, Any], cycle: pa.CycleInputs, result: TaskResult) -> None:
    """Warm-up of every side, then ``repeats`` rounds of one call per side (and of the floor, when
    the strategy has one); memo phase if any.

    The sides whose last call left a filled memo are timed again, only they, with that memo reused;
    the first phase is then renamed "first call" and notes each memo's size and ProbCover's δ.
    """
    first_phase = _Phase(task, adapters, cycle, None, 0)
    phase, result.floor_ms = first_phase.run("", floor_kernel(task.strategy, cycle))
    result.phases.append(phase)
    with_memo = {s: st for s, st in first_phase.last_state.items() if adapters[s].memo_filled(st)}
    if not with_memo:
        return
    first = result.phases[-1]
    first.phase = "first call"
    for side, state in with_memo.items():
        first.sides[side].memo_mib = adapters[side].memo_bytes(state) / MIB
        delta = find_delta(state)
        if delta is not None:
            first.sides[side].notes.append(f"δ = {delta:.4g} (scaled units)")
    memo_adapters = {s: adapters[s] for s in with_memo}
    result.phases.append(_Phase(task, memo_adapters, cycle, with_memo, MEMO_SEED_OFFSET).run("memo reused")[0])


def find_delta(state: Any, depth: int = 0) -> float | None:
    """The ball radius a ProbCover memo holds (ours: a ``delta`` field somewhere in the memo;
    scikit-activeml: ``delta_max_`` on the strategy object), so the table can show whether both
    sides chose the same δ. None when there is none."""
    if depth > 3 or state is None:
        return None
    for attr in ("delta_max_", "delta"):
        value = getattr(state, attr, None)
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            return float(value)
    if isinstance(state, dict):
        children: Sequence[Any] = list(state.values())
    elif isinstance(state, (list, tuple)):
        children = state
    elif dataclasses.is_dataclass(state) and not isinstance(state, type):
        children = [getattr(state, f.name) for f in dataclasses.fields(state)]
    else:
        return None
    for child in children:
        found = find_delta(child, depth + 1)
        if found is not None:
            return found
    return None
