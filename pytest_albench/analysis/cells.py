"""Case records grouped into the cells the analysis compares: embedding label → dataset → strategy.

One grouping for every table: the rankings, the wins/ties/losses and the gains all read the same
cells, so they cannot disagree on which case stands for a (label, dataset, strategy).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ..record import with_variant

__all__ = ["Case", "Cells", "group_cells", "mean_aulc", "seed_aulcs"]

Case = Mapping[str, Any]
#: dataset → strategy → case, for one embedding label.
Cells = dict[str, dict[str, Case]]


def group_cells(cases: Iterable[Case]) -> tuple[dict[str, Cells], list[str]]:
    """Cases by embedding label (the embedding plus its variant: other treatments rank apart), then
    dataset and strategy, with a note when several cases claim one cell (the last one is used)."""
    by_label: dict[str, Cells] = defaultdict(lambda: defaultdict(dict))
    duplicates = set()
    for case in cases:
        label = with_variant(str(case["embedding"]), case)
        if case["strategy"] in by_label[label][case["dataset"]]:
            duplicates.add(f"{label}/{case['dataset']}/{case['strategy']}")
        by_label[label][case["dataset"]][case["strategy"]] = case
    notes = []
    if duplicates:
        notes.append(
            f"several cases for {', '.join(sorted(duplicates))} (settings that do not split tables, "
            "such as initial_pool_size, differ?); the last one is used"
        )
    return {label: {d: dict(s) for d, s in by_label[label].items()} for label in sorted(by_label)}, notes


def seed_aulcs(case: Case, notes: list[str]) -> dict[int, float]:
    """Finite AULC per seed; NaN runs are dropped and said so in ``notes``."""
    out, dropped = {}, []
    for run in case.get("runs", []):
        value = run.get("aulc")
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[int(run["seed"])] = float(value)
        else:
            dropped.append(str(run.get("seed")))
    if dropped:
        seeds = ", ".join(dropped)
        notes.append(f"{case['dataset']}/{case['strategy']}: AULC missing or NaN for seed(s) {seeds}, skipped")
    return out


def mean_aulc(case: Case) -> float:
    """The mean of a case's finite per-seed AULCs (NaN when it has none)."""
    values = list(seed_aulcs(case, []).values())
    return sum(values) / len(values) if values else math.nan
