"""The quality dial: each strategy's AULC gain over random along one encoder's degradation, one panel
per dataset, so a trend read off a panel is the dataset held fixed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ._common import FigureFile, legend_line, new_figure, save, slug, strategy_styles, style

if TYPE_CHECKING:  # pragma: no cover
    from ...analysis.dial import DialSeries

#: The section the dial's tables and figures share on the report page.
DIAL_SECTION = "Quality dial"
_MAX_COLUMNS = 4


def level_text(dial: str, level: float) -> str:
    """A level as the axis shows it: ``0`` / ``0.25`` for noise ratios, ``384`` / ``16`` for widths."""
    if math.isnan(level):
        return "?"
    return f"{level:g}" if dial == "noise" else f"{int(level)}"


def dial_figures(series: Sequence[DialSeries], out_dir: Path, formats: Sequence[str]) -> list[FigureFile]:
    """One figure per (encoder, dial): panels are datasets, lines strategies, y = gain over random."""
    groups: dict[tuple[str, str, str], list[DialSeries]] = {}
    for one in series:
        groups.setdefault((one.encoder, one.dial, one.context), []).append(one)
    return [_figure(key, group, out_dir, formats) for key, group in sorted(groups.items())]


def _figure(key: tuple[str, str, str], group: list[DialSeries], out_dir: Path, formats: Sequence[str]) -> FigureFile:
    encoder, dial, context = key
    where = f" [{context}]" if context else ""
    strategies = sorted({s for one in group for s in one.gains})
    ncols = min(_MAX_COLUMNS, len(group))
    nrows = math.ceil(len(group) / ncols)
    axis = "noise-to-signal power ratio" if dial == "noise" else f"dimensions kept ({dial})"
    with style():
        looks = strategy_styles([*strategies, "random"])
        fig = new_figure(0.8 + 3.2 * ncols + 1.6, 0.8 + 2.7 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for index, one in enumerate(group):
            ax = axes[index // ncols][index % ncols]
            steps = list(range(len(one.levels)))
            for strategy in strategies:
                ax.plot(steps, one.gains.get(strategy, [math.nan] * len(steps)), marker="o", ms=3, **looks[strategy])
            ax.axhline(0.0, **looks["random"])
            ax.set_xticks(steps, [level_text(dial, level) for level in one.levels])
            knn = [q.get("knn_accuracy", math.nan) for q in one.quality]
            ax.set_title(f"{one.dataset}  (5-NN acc. {_span(knn)})", fontsize=9)
            ax.set_xlabel(axis, fontsize=8)
            if index % ncols == 0:
                ax.set_ylabel("AULC gain over random", fontsize=8)
        for index in range(len(group), nrows * ncols):
            axes[index // ncols][index % ncols].set_axis_off()
        handles = [legend_line(looks[s], s) for s in strategies] + [legend_line(looks["random"], "random (0)")]
        fig.legend(handles=handles, loc="outside right center", fontsize=8)
        fig.suptitle(f"Quality dial: {encoder} degraded by {dial}{where}, dataset held fixed per panel")
        stem = f"dial-{slug(encoder)}-{dial}" + (f"-{slug(context)}" if context else "")
        paths = save(fig, out_dir / stem, formats)
    caption = (
        f"{encoder} degraded step by step ({axis}; leftmost = the encoder itself), fitted on each pool; "
        "y = mean AULC of the strategy minus random's on the same embedding, dataset and seeds. Panel titles "
        "give the 5-NN accuracy at the two ends of the dial, to show how much the dial degraded the embedding."
    )
    return FigureFile(DIAL_SECTION, f"Dial: {encoder} by {dial}{where}", caption, paths)


def _span(values: list[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    return f"{finite[0]:.2f} → {finite[-1]:.2f}" if len(finite) >= 2 else "n/a"
