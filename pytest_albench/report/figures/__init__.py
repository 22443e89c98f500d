"""Figures of a finished grid: learning curves, a rank heatmap, critical-difference diagrams and
AL gain against embedding quality.

One module per kind of figure (``curves``, ``heatmap``, ``critical_difference``, ``gain``) over the shared
pieces in ``_common`` (optional matplotlib, fixed style, atomic byte-identical files, the ladder's
column order). Inputs are plain case records and the analysis's typed results, so the same functions
serve the plugin's session end and ``albench-report`` on saved results; :func:`draw_figures` draws
them all in report order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...choices import PLOT_FORMATS
from ...embeddings import LADDER
from ...errors import AlbenchError
from ._common import (
    INSTALL_HINT,
    FigureFile,
    PlotsUnavailableError,
    embedding_order,
    formats_for,
    require_matplotlib,
    slug,
    strategy_styles,
)
from .advisor import ADVISOR_SECTION, advisor_figure
from .critical_difference import POSTHOC_NAMES, cd_diagram
from .curves import learning_curve_figures, mean_curve
from .dial import dial_figures
from .gain import ScatterPanel, gain_panels, gain_quality_figure, quality_measures
from .heatmap import blocks_text, heatmap_grid, heatmap_ranks, rank_heatmap

if TYPE_CHECKING:  # pragma: no cover
    from ...advisor.validate import Validation
    from ...analysis.grid import GridAnalysis

__all__ = [
    "ADVISOR_SECTION",
    "INSTALL_HINT",
    "LADDER",
    "PLOT_FORMATS",
    "POSTHOC_NAMES",
    "AlbenchError",
    "FigureFile",
    "PlotsUnavailableError",
    "ScatterPanel",
    "advisor_figure",
    "cd_diagram",
    "dial_figures",
    "draw_figures",
    "embedding_order",
    "formats_for",
    "gain_panels",
    "gain_quality_figure",
    "heatmap_grid",
    "heatmap_ranks",
    "learning_curve_figures",
    "mean_curve",
    "quality_measures",
    "rank_heatmap",
    "require_matplotlib",
    "slug",
    "strategy_styles",
]


def draw_figures(
    cases: Sequence[Mapping[str, Any]],
    analysis: GridAnalysis | None,
    out_dir: Path,
    formats: Sequence[str],
    order: Sequence[str] | None = None,
    validation: Validation | None = None,
) -> list[FigureFile]:
    """Every figure of a grid, in report order: ranks, CD diagrams, gain vs quality, the dials, the
    advisor's validation (``validation``, computed once by the caller, which also tabulates it), curves.

    Without an analysis (None) only the learning curves are drawn. A CD diagram places each strategy
    at its mean rank in the label's one ranking (as the heatmap does) and joins the post-hoc groups.
    """
    require_matplotlib()
    figures: list[FigureFile | None] = []
    if analysis is not None:
        stats = analysis.per_embedding
        blocks = {label: blocks_text(es) for label, es in stats.items()}
        figures.append(rank_heatmap(heatmap_ranks(analysis), out_dir, formats, order, blocks))
        for label in embedding_order(list(stats), order):
            es = stats[label]
            if es.posthoc is not None and es.ranking is not None:
                ph = es.posthoc
                figures.append(
                    cd_diagram(
                        label,
                        es.ranking.mean_ranks,
                        ph.groups,
                        out_dir,
                        formats,
                        method=ph.method,
                        alpha=ph.alpha,
                        critical_difference=ph.critical_difference,
                        friedman_p=es.friedman.p_value if es.friedman is not None else None,
                        blocks=blocks[label],
                    )
                )
        for measure in quality_measures(analysis.quality):
            figures.append(gain_quality_figure(measure, gain_panels(analysis, measure), out_dir, formats, order))
        figures.extend(dial_figures(analysis.dials, out_dir, formats))
        if validation is not None:
            figures.append(advisor_figure(validation, out_dir, formats, order))
    figures.extend(learning_curve_figures(cases, out_dir, formats, order))
    return [f for f in figures if f is not None]
