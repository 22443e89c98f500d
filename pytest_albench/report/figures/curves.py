"""Learning curves: one figure per dataset, one panel per embedding (columns) and variant (rows).

The plotted line of a strategy is :func:`mean_curve` of its case, so a test can compare the drawn
points with the records; the band is ± 1 standard deviation over seeds.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...record import variant_of, with_variant
from ._common import RANDOM, FigureFile, embedding_order, legend_line, new_figure, save, slug, strategy_styles, style

_MAX_COLUMNS = 5


def mean_curve(case: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(n_labeled, mean accuracy, s.d. over seeds, number of seeds) of one case.

    Seeds normally share the label schedule; where one stopped early, each point averages the seeds
    that reached it.
    """
    by_n: dict[int, list[float]] = defaultdict(list)
    runs = [r for r in case["runs"] if r.get("curve")]
    for run in runs:
        for n, acc in zip(run["curve"]["n_labeled"], run["curve"]["accuracy"], strict=True):
            if acc is not None:
                by_n[int(n)].append(float(acc))
    xs = np.array(sorted(by_n), dtype=float)
    means = np.array([np.mean(by_n[int(n)]) for n in xs])
    stds = np.array([np.std(by_n[int(n)], ddof=1) if len(by_n[int(n)]) > 1 else 0.0 for n in xs])
    return xs, means, stds, len(runs)


def learning_curve_figures(
    cases: Sequence[Mapping[str, Any]], out_dir: Path, formats: Sequence[str], order: Sequence[str] | None = None
) -> list[FigureFile]:
    """One figure per dataset; one panel per embedding (columns, ladder order) and variant (rows)."""
    by_dataset: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for case in cases:
        if any(r.get("curve") for r in case["runs"]):
            by_dataset[str(case["dataset"])].append(case)
    if not by_dataset:
        return []
    figures = []
    with style():
        styles = strategy_styles([str(c["strategy"]) for c in cases])
        for dataset in sorted(by_dataset):
            figures.append(_curve_figure(dataset, by_dataset[dataset], styles, out_dir, formats, order))
    return figures


def _reference_first(strategy: str) -> tuple[bool, str]:
    return strategy != RANDOM, strategy


def _curve_figure(
    dataset: str,
    cases: list[Mapping[str, Any]],
    styles: dict[str, dict[str, Any]],
    out_dir: Path,
    formats: Sequence[str],
    order: Sequence[str] | None,
) -> FigureFile:
    embeddings = embedding_order([str(c["embedding"]) for c in cases], order)
    variants = sorted({variant_of(c) for c in cases})
    ncols = min(len(embeddings), _MAX_COLUMNS)
    rows_per_variant = math.ceil(len(embeddings) / ncols)
    fig = new_figure(0.6 + 3.0 * ncols + 1.6, 0.5 + 2.4 * rows_per_variant * len(variants))
    axes = fig.subplots(rows_per_variant * len(variants), ncols, squeeze=False, sharey=True)
    cells = {(str(c["embedding"]), variant_of(c), str(c["strategy"])): c for c in cases}
    seeds: set[int] = set()
    drawn: set[str] = set()
    for v, variant in enumerate(variants):
        for e, embedding in enumerate(embeddings):
            ax = axes[v * rows_per_variant + e // ncols][e % ncols]
            panel = {s: c for (emb, var, s), c in cells.items() if emb == embedding and var == variant}
            if not panel:
                ax.set_axis_off()
                continue
            seeds |= _draw_panel(ax, panel, styles)
            drawn |= set(panel)
            ax.set_title(with_variant(embedding, {"variant": variant}))
        for r in range(v * rows_per_variant, (v + 1) * rows_per_variant):
            axes[r][0].set_ylabel("test accuracy")
        for e in range(len(embeddings), rows_per_variant * ncols):
            axes[v * rows_per_variant + e // ncols][e % ncols].set_axis_off()
    band = _seeds_text(seeds)
    handles = [legend_line(styles[s], s) for s in sorted(drawn, key=_reference_first)]
    fig.legend(handles=handles, loc="outside right upper", title="strategy")
    fig.suptitle(f"{dataset}: learning curves, mean ± 1 s.d. over {band} (band)")
    paths = save(fig, out_dir / f"curves-{slug(dataset)}", formats)
    caption = (
        f"Test accuracy against the number of labeled points on {dataset}; lines are the mean over "
        f"{band}, bands ± 1 standard deviation over seeds; random is the dashed black line."
    )
    return FigureFile("Learning curves", dataset, caption, paths)


def _draw_panel(ax: Any, panel: Mapping[str, Mapping[str, Any]], styles: dict[str, dict[str, Any]]) -> set[int]:
    """One line (mean) and band (± 1 s.d.) per strategy, random on top; returns the seed counts."""
    seeds = set()
    for strategy in sorted(panel, key=_reference_first):
        xs, mean, std, n = mean_curve(panel[strategy])
        seeds.add(n)
        look = styles[strategy]
        ax.plot(xs, mean, label=strategy, zorder=3 if strategy == RANDOM else 2, **look)
        ax.fill_between(xs, mean - std, mean + std, color=look["color"], alpha=0.12, linewidth=0)
    ax.set_xlabel("labeled points")
    ax.grid(alpha=0.3)
    return seeds


def _seeds_text(counts: set[int]) -> str:
    if len(counts) == 1:
        n = next(iter(counts))
        return f"{n} seed" + ("s" if n != 1 else "")
    return f"{min(counts)}–{max(counts)} seeds"
