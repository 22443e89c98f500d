"""What every plain table of a session reads: the cells, the rankings and the wins/ties/losses.

Built once per session (the plugin passes it to the terminal tables, the Markdown file and the
report page; :func:`pytest_albench.analysis.analyze` reuses it), so the ranking and the pairwise
counts are computed once and every table shows the same result. It needs no test settings, so it
cannot fail on a bad ``--posthoc`` or ``alpha`` the way the statistics can.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..record import protocol_of
from .cells import Case, Cells, group_cells
from .pairwise import TIE_MARGIN, WinTieLossRow, win_tie_loss_rows
from .ranking import BlockRanking, rank_label

__all__ = ["GridSummary", "summarize"]


@dataclass(eq=False)
class GridSummary:
    """Per embedding label (sorted): its cells and its ranking; and every label's pairwise rows."""

    cells: dict[str, Cells]
    rankings: dict[str, BlockRanking]
    win_tie_loss: list[WinTieLossRow]
    tie_margin: float = TIE_MARGIN
    notes: list[str] = field(default_factory=list)
    #: The named protocols of the cases (sorted); cases of a non-default protocol carry it in their
    #: variant, so they are ranked apart from the others.
    protocols: tuple[str, ...] = ("default",)

    @property
    def protocol_text(self) -> str:
        """``"protocol: study"``, or ``"protocols: default, study"`` for a mixed grid."""
        return ("protocol: " if len(self.protocols) == 1 else "protocols: ") + ", ".join(self.protocols)

    def ranked(self) -> list[BlockRanking]:
        """The labels that rank at least two strategies on at least one block, in label order."""
        return [r for r in self.rankings.values() if r.ranking is not None]


def summarize(cases: Iterable[Case], tie_margin: float = TIE_MARGIN) -> GridSummary:
    """Group ``cases`` into cells, rank every embedding label by the one rule, count wins/ties/losses."""
    cases = list(cases)
    cells, notes = group_cells(cases)
    rankings = {label: rank_label(label, by_dataset) for label, by_dataset in cells.items()}
    protocols = tuple(sorted({protocol_of(case) for case in cases})) or ("default",)
    return GridSummary(cells, rankings, win_tie_loss_rows(cells, tie_margin), tie_margin, notes, protocols)
