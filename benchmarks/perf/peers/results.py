"""What the peer benchmark measures and hands around: a task, one side's numbers, a phase, a size.

Why plain dataclasses: a task and its result cross a process boundary (pickled to and from the
spawned worker) and end up in the JSON dump (``dataclasses.asdict``), so they hold builtins only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .skip import SkipDecision

#: The sides in table order, and their names in the tables.
SIDE_ORDER = ("ours", "skactiveml", "small-text")
SIDE_TITLES = {"ours": "ours", "skactiveml": "scikit-activeml", "small-text": "small-text"}


def settings_row_name(strategy: str, settings: str) -> str:
    """The table's name for a strategy run at ``settings`` ("ours", or "peer": the peer's settings)."""
    return strategy + (" @ peer settings" if settings == "peer" else "")


@dataclass(frozen=True)
class PeerTask:
    """One (strategy, pool size) measurement, run in its own process."""

    strategy: str
    pool_path: str
    test_path: str | None
    libraries: tuple[str, ...]
    batch: int
    per_class: int
    repeats: int
    device: str
    cap_s: float
    threads: int | None
    seed: int
    sample_ms: float
    n_samples: int
    lr_max_iter: int
    al_cycles: int = 0
    al_seeds: tuple[int, ...] = ()
    al_time_cap: float = 900.0
    #: "ours": our strategy at its defaults; "peer": at the peer's settings (``ours.peer_settings``),
    #: so the ratio compares equal work where the defaults differ (TypiClust, ProbCover).
    settings: str = "ours"

    @property
    def row_name(self) -> str:
        return settings_row_name(self.strategy, self.settings)


@dataclass
class SideMeasure:
    """One side's numbers in one phase."""

    side: str
    label: str
    times_ms: list[float] = field(default_factory=list)
    warmup_ms: float = 0.0
    peak_mib: float = 0.0
    runs: str = ""
    selection: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    memo_mib: float | None = None

    @property
    def median_ms(self) -> float | None:
        return float(np.median(self.times_ms)) if self.times_ms else None


def relative_spread(values: list[float]) -> tuple[float, float] | None:
    """(min / median − 1, max / median − 1) of ``values``; None for fewer than two or a zero median."""
    if len(values) < 2:
        return None
    median = float(np.median(values))
    if median <= 0:
        return None
    return min(values) / median - 1.0, max(values) / median - 1.0


@dataclass
class PhaseResult:
    """All sides of one phase: '' (no memo), 'first call' or 'memo reused'."""

    phase: str
    sides: dict[str, SideMeasure]


@dataclass
class TaskResult:
    """What a worker sends back."""

    strategy: str
    n: int
    d: int
    n_classes: int
    phases: list[PhaseResult]
    al: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    al_notes: dict[str, str] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: The floor's time in each round (``floors``), empty for a strategy without one.
    floor_ms: list[float] = field(default_factory=list)
    settings: str = "ours"

    @property
    def row_name(self) -> str:
        return settings_row_name(self.strategy, self.settings)


@dataclass
class SizeReport:
    """Everything measured at one pool size, for printing and JSON."""

    n: int
    how: str
    results: list[TaskResult] = field(default_factory=list)
    skipped: dict[tuple[str, str], SkipDecision] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
