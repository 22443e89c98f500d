"""The advisor's leave-one-dataset-out validation: mean regret per embedding, the advisor against the
two fixed choices, so a reader sees at a glance where the advice is worth taking."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._common import FigureFile, embedding_order, new_figure, save, style

if TYPE_CHECKING:  # pragma: no cover
    from ...advisor.validate import Validation

#: The section the advisor's table and figure share on the report page.
ADVISOR_SECTION = "Advisor: leave one dataset out"
_COLOURS = {"advisor": "#1f77b4", "best on average": "#ff7f0e", "always random": "#7f7f7f"}


def advisor_figure(
    validation: Validation, out_dir: Path, formats: Sequence[str], order: Sequence[str] | None = None
) -> FigureFile:
    from ...advisor.validate import PICKERS

    labels = [*embedding_order(validation.embeddings, order), "all"]
    width = 0.8 / len(PICKERS)
    with style():
        fig = new_figure(1.5 + 0.9 * len(labels), 3.6)
        ax = fig.subplots()
        x = np.arange(len(labels))
        for i, picker in enumerate(PICKERS):
            values = [validation.mean_regret(picker, None if label == "all" else label)[0] for label in labels]
            ax.bar(x + (i - 1) * width, values, width, label=picker, color=_COLOURS[picker])
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("mean regret (AULC)")
        ax.legend(fontsize=8)
        ax.set_title("Leave one dataset out: regret of each choice (lower is better)", fontsize=10)
        paths = save(fig, out_dir / "advisor-lodo", formats)
    caption = (
        "Per embedding, the mean over held-out cells of the best strategy's mean AULC minus the pick's: the "
        "advisor (fitted without the held-out dataset), the strategy best on average in the same folds, and random."
    )
    return FigureFile(ADVISOR_SECTION, "Advisor regret per embedding", caption, paths)
