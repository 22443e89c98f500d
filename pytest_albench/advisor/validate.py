"""Leave-one-dataset-out validation of the advisor against two fixed choices.

For each dataset of the grid, the advisor is fitted on the cells of every *other* dataset (the dial's
cells of a dataset count as that dataset, so nothing about the held-out texts leaks in) and picks, for
each of the held-out dataset's cells, the strategy with the highest predicted gain (random counts as 0).
Its regret there is the best strategy's mean AULC minus the pick's. The same folds give the two
baselines: "best on average" (the strategy with the highest mean gain over the training cells) and
"always random". A user should use the advisor only where it beats the fixed choice; the table says
where that is, per embedding.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from .model import BASELINE, RIDGE_ALPHA, TrainingCell, fit_model

__all__ = ["PICKERS", "Pick", "Validation", "validate", "validate_cases"]

PICKERS = ("advisor", "best on average", "always random")


@dataclass(frozen=True)
class Pick:
    """One held-out cell: what each picker chose and its regret (best mean AULC minus the pick's)."""

    dataset: str
    embedding: str
    best: str
    picks: dict[str, str]
    regrets: dict[str, float]


@dataclass
class Validation:
    picks: list[Pick]
    features: list[str]
    alpha: float
    notes: list[str] = field(default_factory=list)

    def mean_regret(self, picker: str, embedding: str | None = None) -> tuple[float, int]:
        """Mean regret of ``picker`` over the held-out cells (of one embedding), and their count."""
        values = [p.regrets[picker] for p in self.picks if embedding is None or p.embedding == embedding]
        return (float(np.mean(values)) if values else math.nan), len(values)

    def wins(self, embedding: str | None = None) -> tuple[int, int, int]:
        """Cells where the advisor's regret is lower / equal / higher than best-on-average's."""
        rows = [p for p in self.picks if embedding is None or p.embedding == embedding]
        diffs = [p.regrets["advisor"] - p.regrets["best on average"] for p in rows]
        return sum(d < -1e-12 for d in diffs), sum(abs(d) <= 1e-12 for d in diffs), sum(d > 1e-12 for d in diffs)

    @property
    def embeddings(self) -> list[str]:
        return sorted({p.embedding for p in self.picks})


def validate(cells: Sequence[TrainingCell], features: Sequence[str], *, alpha: float = RIDGE_ALPHA) -> Validation:
    """Leave one dataset out at a time (module docstring); needs cells from at least 3 datasets."""
    datasets = sorted({c.dataset for c in cells})
    if len(datasets) < 3:
        raise ConfigError(f"leave-one-dataset-out validation needs cells of at least 3 datasets, got {datasets}")
    picks, notes = [], []
    for held_out in datasets:
        train = [c for c in cells if c.dataset != held_out]
        try:
            model = fit_model(train, features, alpha=alpha, with_errors=False)
        except ConfigError as exc:
            notes.append(f"{held_out}: not validated ({exc})")
            continue
        fixed = _best_on_average(train)
        for cell in (c for c in cells if c.dataset == held_out):
            ran = {s: a for s, a in cell.aulcs.items() if math.isfinite(a)}
            if BASELINE not in ran:
                continue
            predicted = {s: g for s, g in model.predict(cell.features).items() if s in ran}
            choice = {
                "advisor": max(sorted(predicted), key=lambda s: predicted[s]),
                "best on average": fixed if fixed in ran else BASELINE,
                "always random": BASELINE,
            }
            best = max(sorted(ran), key=lambda s: ran[s])
            regrets = {name: ran[best] - ran[pick] for name, pick in choice.items()}
            picks.append(Pick(cell.dataset, cell.embedding, best, choice, regrets))
    return Validation(picks, list(features), alpha, notes)


def validate_cases(cases: Sequence[Any]) -> Validation | None:
    """:func:`validate` on case records whose quality holds the label-free measures (what the report
    shows); None when fewer than 3 datasets have such cells, or no fold can be fitted."""
    from .training import FEATURES, training_cells

    cells, notes = training_cells(cases)
    if len({c.dataset for c in cells}) < 3:
        return None
    result = validate(cells, FEATURES)
    result.notes[:0] = notes
    return result if result.picks else None


def _best_on_average(cells: Sequence[TrainingCell]) -> str:
    gains: dict[str, list[float]] = defaultdict(list)
    for cell in cells:
        for strategy, gain in cell.gains.items():
            if math.isfinite(gain):
                gains[strategy].append(gain)
    means = {s: float(np.mean(v)) for s, v in gains.items()}
    best = max(sorted(means), key=lambda s: means[s]) if means else BASELINE
    return best if means.get(best, 0.0) > 0 else BASELINE
