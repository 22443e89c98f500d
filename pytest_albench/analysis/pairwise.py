"""Pairwise wins, ties and losses of strategy A against B over shared (dataset, seed) pairs.

Computed once per session from the same cells as the rankings; the report only formats the rows.
Every pair of strategies of an embedding label is compared on the seeds both ran, whether or not
the label's ranking includes both (a pairwise count needs no complete block).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stats import win_tie_loss
from .cells import Cells

__all__ = ["TIE_MARGIN", "WinTieLossRow", "win_tie_loss_rows"]

#: AULC differences within this margin are ties.
TIE_MARGIN = 1e-3


@dataclass(frozen=True)
class WinTieLossRow:
    """A against B on one embedding label: counts over (dataset, seed) pairs and the Wilcoxon p-value."""

    embedding_label: str
    a: str
    b: str
    wins: int
    ties: int
    losses: int
    p_value: float


def win_tie_loss_rows(cells_by_label: dict[str, Cells], tie_margin: float = TIE_MARGIN) -> list[WinTieLossRow]:
    """One row per label and pair of strategies (alphabetical) that share at least one seed."""
    rows = []
    for label, cells in sorted(cells_by_label.items()):
        strategies = sorted(set().union(*(set(s) for s in cells.values())))
        for i, a in enumerate(strategies):
            for b in strategies[i + 1 :]:
                va, vb = _paired_aulcs(cells, a, b)
                if va:
                    wtl = win_tie_loss(va, vb, tie_margin)
                    rows.append(WinTieLossRow(label, a, b, wtl.wins, wtl.ties, wtl.losses, wtl.p_value))
    return rows


def _paired_aulcs(cells: Cells, a: str, b: str) -> tuple[list[float], list[float]]:
    """AULCs of ``a`` and ``b`` on every (dataset, seed) both ran, NaN included (it ties nothing)."""
    va, vb = [], []
    for by_strategy in cells.values():
        if a in by_strategy and b in by_strategy:
            ra = {r["seed"]: float(r["aulc"]) for r in by_strategy[a]["runs"]}
            rb = {r["seed"]: float(r["aulc"]) for r in by_strategy[b]["runs"]}
            for seed in sorted(set(ra) & set(rb)):
                va.append(ra[seed])
                vb.append(rb[seed])
    return va, vb
