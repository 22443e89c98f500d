"""The rank heatmap: strategies (rows, best overall first) × embeddings (columns, weakest first).

The cells are each embedding label's mean ranks in the analysis's one ranking (``EmbeddingStats.ranking``,
which every rank table reads; :func:`heatmap_ranks` is the one place that takes them from the analysis),
so the figure cannot rank differently from the tables; :func:`heatmap_grid` is the matrix the image
shows, cell for cell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._common import FigureFile, embedding_order, new_figure, save, style

_CAPTION = (
    "Each cell is a strategy's mean rank over the blocks of one embedding (datasets, or dataset × seed "
    "pairs where too few datasets are complete; the column labels say which), the ranks the Friedman "
    "test uses; rows are sorted by the average over embeddings, columns weakest embedding first. "
    "Only embeddings (and variants) that rank the most strategies are shown; the Friedman table lists all."
)


def heatmap_grid(
    mean_ranks: Mapping[str, Mapping[str, float]],
    order: Sequence[str] | None = None,
) -> tuple[list[str], list[str], np.ndarray]:
    """(row strategies, column embeddings, strategies × embeddings mean ranks, NaN where unranked).

    Columns follow :func:`embedding_order`; rows are sorted by their mean over the columns (best
    first), names breaking ties.
    """
    embeddings = embedding_order(list(mean_ranks), order)
    strategies = sorted({s for ranks in mean_ranks.values() for s in ranks})
    grid = np.full((len(strategies), len(embeddings)), np.nan)
    for j, emb in enumerate(embeddings):
        for i, s in enumerate(strategies):
            if s in mean_ranks[emb]:
                grid[i, j] = mean_ranks[emb][s]
    if not strategies or not embeddings:
        return strategies, embeddings, grid
    overall = np.nanmean(grid, axis=1)
    rows = sorted(range(len(strategies)), key=lambda i: (overall[i], strategies[i]))
    return [strategies[i] for i in rows], embeddings, grid[rows]


def rank_heatmap(
    mean_ranks: Mapping[str, Mapping[str, float]],
    out_dir: Path,
    formats: Sequence[str],
    order: Sequence[str] | None = None,
    blocks: Mapping[str, str] | None = None,
) -> FigureFile | None:
    """Strategies (rows, best overall first) × embeddings (columns, weakest first), cells = mean rank."""
    strategies, embeddings, grid = heatmap_grid(mean_ranks, order)
    if not embeddings or not strategies:
        return None
    with style() as mpl:
        fig = new_figure(max(4.2, 1.8 + 1.0 * len(embeddings)), 1.3 + 0.32 * len(strategies))
        ax = fig.subplots()
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=mpl.colormaps["viridis_r"], aspect="auto")
        top = np.nanmax(grid) if np.isfinite(grid).any() else 1.0
        for (i, j), value in np.ndenumerate(grid):
            text = "–" if np.isnan(value) else f"{value:.2f}"
            dark = not np.isnan(value) and value > 1 + 0.55 * (top - 1)
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        labels = [f"{e}\n({blocks[e]})" if blocks and e in blocks else e for e in embeddings]
        ax.set_xticks(range(len(embeddings)), labels, rotation=30, ha="right")
        ax.set_yticks(range(len(strategies)), strategies)
        ax.set_title("Mean rank per embedding\n(1 = best AULC; Friedman ranks over datasets)")
        fig.colorbar(image, ax=ax, label="mean rank", shrink=0.8)
        paths = save(fig, out_dir / "rank-heatmap", formats)
    return FigureFile("Ranks", "Mean rank heatmap", _CAPTION, paths)


def heatmap_ranks(analysis: Any) -> dict[str, dict[str, float]]:
    """Per embedding label, the mean ranks of its strategies in the analysis's one ranking (the ranks
    the tables and the Friedman test read); only the labels that rank the most strategies.

    Ranks among 2 strategies (an IPS side grid) and among 11 are not on one scale, so the heatmap
    shows the labels that rank the most strategies; the Friedman table lists the others.
    """
    ranks = {label: r for label, es in analysis.per_embedding.items() if (r := _mean_ranks(es))}
    widest = max((len(r) for r in ranks.values()), default=0)
    return {label: r for label, r in ranks.items() if len(r) == widest}


def blocks_text(stats: Any) -> str:
    """``"10 datasets"`` or ``"6 dataset × seed blocks"``: what an embedding label's ranks are over."""
    n = len(stats.scores)
    return f"{n} datasets" if stats.blocks == "datasets" else f"{n} {stats.blocks.replace('×', ' × ')} blocks"


def _mean_ranks(stats: Any) -> dict[str, float]:
    ranking = stats.ranking  # the label's one ranking (analysis.ranking), which every rank table reads
    return dict(ranking.mean_ranks) if ranking is not None else {}
