"""The plain, JSON-serialisable record of one AL run.

Only builtins (str, int, float, bool, list, dict, None) live in a record, because records travel from
xdist workers to the controller on test reports and are written as baseline and result files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RESULT_FORMAT_VERSION = 1


@dataclass
class CycleRecord:
    """One point of the learning curve: the state after ``cycle`` queries have been labeled."""

    cycle: int
    n_labeled: int
    test_accuracy: float
    test_macro_f1: float
    validation_accuracy: float | None
    query_time_s: float
    train_time_s: float
    selected: list[int] = field(default_factory=list)


@dataclass
class RunResult:
    """A whole run: the curve, its summaries, and everything needed to say what produced it."""

    config: dict[str, Any]
    config_hash: str
    seed: int
    cycles: list[CycleRecord]
    aulc: float
    final_accuracy: float
    aulc_macro_f1: float
    initial_pool: list[int]
    environment: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    total_time_s: float = 0.0
    format_version: int = RESULT_FORMAT_VERSION

    @property
    def n_labeled(self) -> list[int]:
        return [c.n_labeled for c in self.cycles]

    @property
    def accuracies(self) -> list[float]:
        return [c.test_accuracy for c in self.cycles]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunResult:
        body = dict(raw)
        body["cycles"] = [CycleRecord(**c) for c in body["cycles"]]
        return cls(**body)
