"""AL gain against embedding quality: does a strategy help more on better embeddings?

Small multiples, one panel per strategy's AULC gain over random (and the TypiClust-IPS early gain),
one point per (embedding, dataset) cell, coloured by embedding; each title carries the Spearman
correlation the analysis computed for that (measure, target), so the figure and the table agree.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import FigureFile, embedding_order, new_figure, save, slug, style

_MARKERS = "osD^vP*Xh<>"
_MAX_COLUMNS = 4


@dataclass(frozen=True)
class ScatterPanel:
    """One panel: points (x = quality, y = gain) per embedding, and the correlation for its title."""

    title: str
    points: Mapping[str, Sequence[tuple[float, float]]]
    rho: float | None
    p_value: float | None
    ylabel: str


def gain_quality_figure(
    measure: str,
    panels: Sequence[ScatterPanel],
    out_dir: Path,
    formats: Sequence[str],
    order: Sequence[str] | None = None,
) -> FigureFile | None:
    """Small multiples: one panel per strategy (and the TypiClust-IPS early gain), colour = embedding."""
    panels = [p for p in panels if any(p.points.values())]
    if not panels:
        return None
    embeddings = embedding_order([e for p in panels for e in p.points], order)
    ncols = min(_MAX_COLUMNS, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    with style() as mpl:
        palette = mpl.colormaps["viridis"]
        colours = {e: palette(i / max(len(embeddings) - 1, 1) * 0.9) for i, e in enumerate(embeddings)}
        fig = new_figure(0.8 + 2.7 * ncols + 1.8, 0.6 + 2.4 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for index, panel in enumerate(panels):
            _draw_panel(axes[index // ncols][index % ncols], panel, embeddings, colours, measure)
        for index in range(len(panels), nrows * ncols):
            axes[index // ncols][index % ncols].set_axis_off()
        handles = [_legend_point(colours[e], _MARKERS[i % len(_MARKERS)], e) for i, e in enumerate(embeddings)]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), title="embedding")
        fig.suptitle(f"AULC gain over random against {measure.replace('_', ' ')} (one point per dataset × embedding)")
        paths = save(fig, out_dir / f"gain-vs-{slug(measure)}", formats)
    caption = (
        f"Each point is one dataset on one embedding: x = {measure}, y = the strategy's mean AULC minus "
        "random's on the same cell. Titles give Spearman's ρ over all points and its p-value."
    )
    return FigureFile("AL gain against embedding quality", f"Gain against {measure.replace('_', ' ')}", caption, paths)


def _draw_panel(
    ax: Any, panel: ScatterPanel, embeddings: Sequence[str], colours: Mapping[str, Any], measure: str
) -> None:
    for e, embedding in enumerate(embeddings):
        pts = panel.points.get(embedding, ())
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(
                xs,
                ys,
                s=18,
                color=colours[embedding],
                marker=_MARKERS[e % len(_MARKERS)],
                label=embedding,
                edgecolors="black",
                linewidths=0.3,
                zorder=3,
            )
    ax.axhline(0.0, color="0.5", linewidth=0.8, linestyle=":")
    ax.set_title(f"{panel.title}\n{_rho_text(panel.rho, panel.p_value, panel.points)}")
    ax.set_xlabel(measure.replace("_", " "))
    ax.set_ylabel(panel.ylabel)
    ax.grid(alpha=0.3)


def _rho_text(rho: float | None, p: float | None, points: Mapping[str, Sequence[Any]]) -> str:
    n = sum(len(v) for v in points.values())
    if rho is None or not math.isfinite(rho):
        return f"Spearman ρ undefined (n = {n})"
    p_text = f"{p:.2g}" if p is not None and math.isfinite(p) else "n/a"
    return f"Spearman ρ = {rho:+.2f}, p = {p_text} (n = {n})"


def _legend_point(colour: Any, marker: str, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        linestyle="",
        marker=marker,
        markersize=5,
        color=colour,
        markeredgecolor="black",
        markeredgewidth=0.3,
        label=label,
    )


def quality_measures(quality: Mapping[Any, Mapping[str, Any]]) -> list[str]:
    """The embedding-quality measures present, known ones first (sizes such as ``n_pool`` are not measures).

    The label-free measures get no scatter figure each (ten more pages of panels); the correlation
    table reports them, and the advisor uses them.
    """
    from ...engine.quality import LABEL_FREE_MEASURES, MEASURES, SIZES

    present = (
        {
            k
            for values in quality.values()
            for k, v in values.items()
            if isinstance(v, (int, float)) and math.isfinite(v)
        }
        - set(SIZES)
        - set(LABEL_FREE_MEASURES)
    )
    return [m for m in MEASURES if m in present] + sorted(present - set(MEASURES))


def gain_panels(analysis: Any, measure: str) -> list[ScatterPanel]:
    """One panel per strategy's AULC gain over random, then the TypiClust-IPS early gain, each with the
    Spearman correlation the analysis computed for that (measure, target)."""
    from ...analysis.grid import IPS_TARGET

    correlations = {(c.measure, c.target): c for c in analysis.correlations}

    def panel(title: str, target: str, values: Mapping[tuple[str, str], float], ylabel: str) -> ScatterPanel:
        points = _scatter_points(analysis.quality, measure, values)
        corr = correlations.get((measure, target))
        return ScatterPanel(title, points, corr.rho if corr else None, corr.p_value if corr else None, ylabel)

    strategies = sorted({s for _, _, s in analysis.cell_gains})
    panels = [
        panel(
            strategy,
            f"AULC gain: {strategy}",
            {(e, d): v for (e, d, s), v in analysis.cell_gains.items() if s == strategy},
            "AULC gain over random",
        )
        for strategy in strategies
    ]
    if analysis.ips_early_gain:
        panels.append(
            panel(
                IPS_TARGET,
                IPS_TARGET,
                analysis.ips_early_gain,
                f"early accuracy gain (first {analysis.early_cycles} points)",
            )
        )
    return panels


def _scatter_points(
    quality: Mapping[tuple[str, str], Mapping[str, Any]], measure: str, values: Mapping[tuple[str, str], float]
) -> dict[str, list[tuple[float, float]]]:
    """Per embedding, (quality, gain) of each dataset where both are finite, datasets in name order."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (embedding, dataset), gain in sorted(values.items()):
        x = quality.get((embedding, dataset), {}).get(measure)
        if isinstance(x, (int, float)) and math.isfinite(x) and math.isfinite(gain):
            points[embedding].append((float(x), float(gain)))
    return dict(points)
