"""Embedding quality per (embedding, dataset) cell, and its rank correlation with the AL gains."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..engine.quality import MEASURES, SIZES
from ..record import cell_embedding
from ..stats import spearman
from .cells import Case

__all__ = ["IPS_TARGET", "CorrelationRow", "correlations", "measure_names", "quality_by_cell", "size_names"]

#: Correlation target name of the early-cycle effect of a TypiClust initial pool.
IPS_TARGET = "TypiClust IPS early gain"

Quality = dict[tuple[str, str], dict[str, float]]


@dataclass(frozen=True)
class CorrelationRow:
    """Spearman correlation of one quality measure with one gain, over (embedding, dataset) cells."""

    measure: str
    target: str
    rho: float
    p_value: float
    n: int
    note: str = ""


def quality_by_cell(cases: Sequence[Case], notes: list[str]) -> Quality:
    """The quality measures of each (embedding, dataset) cell, from the first case (by node id) that has them."""
    out: Quality = {}
    disagree = set()
    failed: set[str] = set()
    for case in sorted(cases, key=lambda c: str(c.get("nodeid", ""))):
        raw = case.get("quality")
        if not isinstance(raw, dict):
            continue
        if "error" in raw:
            failed.add(f"{case['embedding']}/{case['dataset']}: {raw['error']}")
            continue
        values = {
            k: (float(v) if isinstance(v, (int, float)) else math.nan)
            for k, v in raw.items()
            if isinstance(v, (int, float)) or v is None
        }
        key = (cell_embedding(case), case["dataset"])
        if key not in out:
            out[key] = values
        elif not _same(out[key], values):
            disagree.add(key)
    if failed:
        notes.append("embedding quality could not be computed for " + "; ".join(sorted(failed)))
    if disagree:
        notes.append(
            "quality differs between cases of "
            + ", ".join("/".join(k) for k in sorted(disagree))
            + " (different pool sizes?); the first case's values are used"
        )
    return out


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) for k in a
    )


def measure_names(quality: Quality) -> list[str]:
    """The quality measures present, known ones first (sizes such as ``n_pool`` are not measures)."""
    present = {k for q in quality.values() for k in q} - set(SIZES)
    return [m for m in MEASURES if m in present] + sorted(present - set(MEASURES))


def size_names(quality: Quality) -> list[str]:
    """The problem sizes present (``n_pool``, ``dim``, ...), in their canonical order."""
    return [s for s in SIZES if any(s in q for q in quality.values())]


def correlations(
    quality: Quality,
    cell_gains: dict[tuple[str, str, str], float],
    ips_early: dict[tuple[str, str], float],
    notes: list[str],
) -> list[CorrelationRow]:
    """Spearman's rho of every measure with every strategy's cell gain and the early IPS gain."""
    if not quality:
        notes.append(
            "no embedding-quality measures in these results (written before they existed?): "
            "correlations skipped; rerun the cases to get them"
        )
        return []
    targets: list[tuple[str, dict[tuple[str, str], float]]] = []
    for strategy in sorted({s for _, _, s in cell_gains}):
        targets.append((f"AULC gain: {strategy}", {(e, d): v for (e, d, s), v in cell_gains.items() if s == strategy}))
    if ips_early:
        targets.append((IPS_TARGET, dict(ips_early)))
    rows = []
    for measure in measure_names(quality):
        for target, values in targets:
            cells = [c for c in sorted(values) if c in quality and math.isfinite(quality[c].get(measure, math.nan))]
            r = spearman([quality[c][measure] for c in cells], [values[c] for c in cells])
            rows.append(CorrelationRow(measure, target, r.rho, r.p_value, r.n, r.note))
    return rows
