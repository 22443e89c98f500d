"""The advisor's training cells, read from saved results files.

A cell is one (dataset, embedding) pool of a grid: its label-free measures (the features) and, per
strategy, the mean AULC and the gain over random (the targets). The measures come from the case
records (``quality``, written by every run since the label-free measures exist); for older results
files they are recomputed from each cell's configuration (``data_dir``: the pool is rebuilt and
embedded through the cache exactly as the run did, so the measures describe the pool that was run).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..analysis.cells import Case, mean_aulc
from ..analysis.gains import preferred_heads, seed_gains
from ..engine.label_free import LABEL_FREE_MEASURES
from ..record import DEFAULT_IPS, cell_embedding, head_of, ips_of, variant_of
from .model import BASELINE, TrainingCell

__all__ = ["FEATURES", "MeasureFn", "pool_features", "training_cells"]

#: The advisor's features: the label-free measures plus what a user knows before labelling anything
#: (the number of classes, the pool's width), on log scales.
FEATURES: tuple[str, ...] = (
    *(name for name in LABEL_FREE_MEASURES if name != "cluster_k"),  # k is a setting the silhouette chose
    "log_classes",
    "log_dim",
)
#: Computes the label-free measures of one case's pool (for results files that lack them).
MeasureFn = Callable[[Case], Mapping[str, float]]


def pool_features(measures: Mapping[str, Any], n_classes: int, dim: int) -> dict[str, float]:
    """The advisor's features from a pool's label-free measures and its class count and width."""
    out = {name: float(measures[name]) for name in FEATURES if isinstance(measures.get(name), (int, float))}
    out["log_classes"] = math.log(max(int(n_classes), 2))
    out["log_dim"] = math.log(max(int(dim), 1))
    return out


def training_cells(cases: Sequence[Case], measure: MeasureFn | None = None) -> tuple[list[TrainingCell], list[str]]:
    """One cell per (dataset, embedding) with a random case (random initial pools, one head, no variant
    mixing: a variant's cells are their own); and notes on what was left out."""
    heads = preferred_heads(cases)
    grouped: dict[tuple[str, str], dict[str, Case]] = defaultdict(dict)
    for case in cases:
        if ips_of(case) == DEFAULT_IPS and head_of(case) == heads[cell_embedding(case)]:
            label = cell_embedding(case) + (f" [{variant_of(case)}]" if variant_of(case) else "")
            grouped[(str(case["dataset"]), label)][str(case["strategy"])] = case
    cells, notes, unmeasured = [], [], []
    for (dataset, embedding), by_strategy in sorted(grouped.items()):
        if BASELINE not in by_strategy:
            notes.append(f"{dataset} × {embedding}: no {BASELINE} case, so no gains; left out")
            continue
        features = _features(by_strategy, measure)
        if features is None:
            unmeasured.append(f"{dataset} × {embedding}")
            continue
        aulcs = {s: mean_aulc(c) for s, c in by_strategy.items()}
        per_seed = {s: seed_gains(by_strategy, s) for s in by_strategy if s != BASELINE}
        gains = {s: float(np.mean(g)) for s, g in per_seed.items() if g}
        cells.append(TrainingCell(dataset, embedding, features, gains, aulcs))
    if unmeasured:
        notes.append(
            f"{len(unmeasured)} cell(s) have no label-free measures in their records and no --data-dir to "
            f"recompute them: {', '.join(unmeasured[:5])}{' ...' if len(unmeasured) > 5 else ''}"
        )
    return cells, notes


def _features(by_strategy: Mapping[str, Case], measure: MeasureFn | None) -> dict[str, float] | None:
    case = by_strategy[BASELINE]
    raw = case.get("quality")
    quality: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    n_classes, dim = quality.get("n_classes"), quality.get("dim")
    measures: Mapping[str, Any] = quality
    if not all(isinstance(quality.get(f), (int, float)) for f in FEATURES[:-2]):  # the measures, not the sizes
        if measure is None:
            return None
        measures = measure(case)
        n_classes, dim = measures.get("n_classes", n_classes), measures.get("dim", dim)
    if not isinstance(n_classes, (int, float)) or not isinstance(dim, (int, float)):
        return None
    return pool_features(measures, int(n_classes), int(dim))
