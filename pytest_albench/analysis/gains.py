"""Gains over random: per embedding label with a t interval, per (embedding, dataset) cell, and the
early-cycle gain of a TypiClust initial pool over a random one."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..record import DEFAULT_HEAD, DEFAULT_IPS, cell_embedding, head_of, ips_of
from ..stats import mean_gain_ci
from .cells import Case, Cells, seed_aulcs
from .ranking import DATASET_BLOCKS, MIN_DATASET_BLOCKS, SEED_BLOCKS

__all__ = ["BASELINE_STRATEGY", "GainRow", "cell_gains", "ips_early_gain", "label_gains"]

#: Gains are measured against this strategy, run on the same embedding, dataset and seed.
BASELINE_STRATEGY = "random"
#: The initial-pool method whose early gain over a random initial pool is measured.
TYPICLUST_IPS = "typiclust"


@dataclass(frozen=True)
class GainRow:
    """A strategy's mean AULC gain over random on one embedding label, with a t confidence interval."""

    embedding_label: str
    strategy: str
    mean: float
    low: float
    high: float
    n: int
    unit: str  # what n counts: "datasets" or "dataset×seed"


def seed_gains(cells: dict[str, Case], strategy: str) -> list[float]:
    """Per-seed AULC gain of ``strategy`` over random in one cell, on the seeds both have finite."""
    own = seed_aulcs(cells[strategy], [])
    base = seed_aulcs(cells[BASELINE_STRATEGY], [])
    return [own[s] - base[s] for s in sorted(set(own) & set(base))]


def label_gains(label: str, datasets: Cells, notes: list[str]) -> list[GainRow]:
    """Gains of each strategy on one label: over per-dataset means with enough datasets (the same
    threshold as the rank blocks), else over (dataset, seed) gains."""
    if not any(BASELINE_STRATEGY in cells for cells in datasets.values()):
        notes.append(f"{label}: no {BASELINE_STRATEGY} cases, so no gains over {BASELINE_STRATEGY}")
        return []
    strategies = sorted({s for cells in datasets.values() for s in cells} - {BASELINE_STRATEGY})
    rows = []
    for strategy in strategies:
        per_dataset = {
            d: g
            for d in sorted(datasets)
            if strategy in datasets[d] and BASELINE_STRATEGY in datasets[d] and (g := seed_gains(datasets[d], strategy))
        }
        if not per_dataset:
            notes.append(f"{label}: {strategy} shares no dataset and seed with {BASELINE_STRATEGY}; no gain")
            continue
        if len(per_dataset) >= MIN_DATASET_BLOCKS:
            values, unit = [float(np.mean(g)) for g in per_dataset.values()], DATASET_BLOCKS
        else:
            values, unit = [v for g in per_dataset.values() for v in g], SEED_BLOCKS
        ci = mean_gain_ci(values)
        rows.append(GainRow(label, strategy, ci.mean, ci.low, ci.high, ci.n, unit))
    return rows


def preferred_heads(cases: Sequence[Case]) -> dict[str, str]:
    """Per embedding, the head whose cases feed cell-level gains: the default one when it was run.

    Cell-level values must not mix heads (an MLP-head gain is another treatment), so one is chosen.
    """
    heads: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        heads[cell_embedding(case)].add(head_of(case))
    return {e: DEFAULT_HEAD if DEFAULT_HEAD in hs else min(hs) for e, hs in heads.items()}


def cell_gains(cases: Sequence[Case]) -> dict[tuple[str, str, str], float]:
    """Mean gain over random per (embedding, dataset, strategy), random initial pools and one head only."""
    heads = preferred_heads(cases)
    cells: dict[tuple[str, str], dict[str, Case]] = defaultdict(dict)
    for case in cases:
        if ips_of(case) == DEFAULT_IPS and head_of(case) == heads[cell_embedding(case)]:
            cells[(cell_embedding(case), case["dataset"])][case["strategy"]] = case
    out = {}
    for (embedding, dataset), by_strategy in sorted(cells.items()):
        if BASELINE_STRATEGY not in by_strategy:
            continue
        for strategy in sorted(set(by_strategy) - {BASELINE_STRATEGY}):
            gains = seed_gains(by_strategy, strategy)
            if gains:
                out[(embedding, dataset, strategy)] = float(np.mean(gains))
    return out


def ips_early_gain(cases: Sequence[Case], early_cycles: int, notes: list[str]) -> dict[tuple[str, str], float]:
    """Per (embedding, dataset): mean over strategies of the early accuracy gain of a TypiClust initial
    pool over a random one (same strategy, head and seed)."""
    heads = preferred_heads(cases)
    by_key: dict[tuple[str, str, str, str], Case] = {}
    for case in cases:
        if head_of(case) == heads[cell_embedding(case)] and ips_of(case) in (DEFAULT_IPS, TYPICLUST_IPS):
            by_key.setdefault((cell_embedding(case), case["dataset"], case["strategy"], ips_of(case)), case)
    per_cell: dict[tuple[str, str], list[float]] = defaultdict(list)
    mismatched = 0
    for (embedding, dataset, strategy, ips), typi in sorted(by_key.items()):
        rand = by_key.get((embedding, dataset, strategy, DEFAULT_IPS))
        if ips != TYPICLUST_IPS or rand is None:
            continue
        per_seed, skipped = _early_differences(typi, rand, early_cycles)
        mismatched += skipped
        if per_seed:
            per_cell[(embedding, dataset)].append(float(np.mean(per_seed)))
    if mismatched:
        notes.append(
            f"TypiClust IPS early gain: {mismatched} seed pair(s) skipped (curves shorter than "
            f"{early_cycles} points, NaN, or labeled-set sizes that differ)"
        )
    if not per_cell:
        notes.append(
            "no TypiClust-IPS case has a random-IPS twin (same embedding, dataset, strategy, head): no early IPS gain"
        )
    return {key: float(np.mean(values)) for key, values in sorted(per_cell.items())}


def _early_differences(typi: Case, rand: Case, early_cycles: int) -> tuple[list[float], int]:
    """Per shared seed, the mean accuracy difference over the first points; and how many seeds could
    not be compared (curves too short or on different labeled-set sizes)."""
    curves_t = {int(r["seed"]): r.get("curve", {}) for r in typi.get("runs", [])}
    curves_r = {int(r["seed"]): r.get("curve", {}) for r in rand.get("runs", [])}
    per_seed, mismatched = [], 0
    for seed in sorted(set(curves_t) & set(curves_r)):
        t, r = curves_t[seed], curves_r[seed]
        acc_t, acc_r = _floats(t.get("accuracy", []))[:early_cycles], _floats(r.get("accuracy", []))[:early_cycles]
        if (
            len(acc_t) < early_cycles
            or len(acc_r) < early_cycles
            or list(t.get("n_labeled", []))[:early_cycles] != list(r.get("n_labeled", []))[:early_cycles]
        ):
            mismatched += 1
            continue
        diff = float(np.mean(np.asarray(acc_t) - np.asarray(acc_r)))
        if math.isfinite(diff):
            per_seed.append(diff)
    return per_seed, mismatched


def _floats(values: Sequence[Any]) -> list[float]:
    return [float(v) if isinstance(v, (int, float)) else math.nan for v in values]
