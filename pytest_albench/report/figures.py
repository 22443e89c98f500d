"""Figures of a finished grid: learning curves, a rank heatmap, critical-difference diagrams and
AL gain against embedding quality.

Why it is built this way:

* matplotlib is an optional extra (``pytest-albench[plots]``); it is imported only inside
  :func:`require_matplotlib`, so the plugin, the tables and the report work without it.
* Figures are ``matplotlib.figure.Figure`` objects on an Agg canvas, never pyplot: nothing opens a
  window, and the backend a user's own tests chose is left alone.
* Every figure is drawn with matplotlib's default style (not the user's matplotlibrc), a fixed SVG
  hash salt and no date or software version in the file metadata, so rebuilding a report from the
  same results gives byte-identical files that diff cleanly in a repository.
* Inputs are plain case records and mappings, so the same functions serve the plugin's session end
  and ``albench-report`` on saved results.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..storage.atomic import write_bytes_atomic
from ..errors import AlbenchError

#: ``--albench-plot-format`` / ``--plots`` values and the files each writes.
PLOT_FORMATS: dict[str, tuple[str, ...]] = {"png": ("png",), "svg": ("svg",), "both": ("png", "svg")}
#: The suites' embedding-quality ladder, weakest first: the default column order of every figure.
#: (``benchmarks/suite_config.py`` holds the suite's own copy; the package cannot import benchmarks.)
LADDER = ("tfidf-lsa", "glove-50d", "minilm-l3-onnx", "minilm-l6", "mpnet-base")
INSTALL_HINT = "pip install 'pytest-albench[plots]'"
_SVG_SALT = "pytest-albench"
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}
_DPI = 110
_RANDOM = "random"


class PlotsUnavailableError(AlbenchError):
    """matplotlib is not installed, so figures cannot be drawn (tables still can)."""


@dataclass(frozen=True)
class FigureFile:
    """One drawn figure: where it belongs in the report, what it shows, and its written files."""

    section: str
    title: str
    caption: str
    paths: tuple[Path, ...]


def require_matplotlib() -> Any:
    """The matplotlib module, or :class:`PlotsUnavailableError` saying how to install it."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 - Agg must be usable
    except ImportError:
        raise PlotsUnavailableError(
            f"figures need matplotlib, which is not installed; {INSTALL_HINT} (the tables are written without it)"
        ) from None
    return matplotlib


def formats_for(choice: str) -> tuple[str, ...]:
    if choice not in PLOT_FORMATS:
        raise AlbenchError(f"unknown figure format {choice!r}; choose one of {', '.join(PLOT_FORMATS)}")
    return PLOT_FORMATS[choice]


# ---------------------------------------------------------------------------------------------- basics


def embedding_order(names: Sequence[str], order: Sequence[str] | None = None) -> list[str]:
    """Given order first, then ladder rungs weakest first, then the rest by name.

    A name may carry a variant (``minilm-l6 [ips=random]``); it sorts by its embedding, then variant.
    """
    preferred = list(order or ()) + [n for n in LADDER if n not in (order or ())]

    def key(name: str) -> tuple[int, str, str]:
        base = name.split(" [", 1)[0]
        rung = preferred.index(base) if base in preferred else len(preferred)
        return rung, base if rung == len(preferred) else "", name

    return sorted(dict.fromkeys(names), key=key)


def slug(text: str) -> str:
    """A portable file-name part for an embedding, dataset or variant label."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


@contextlib.contextmanager
def _style() -> Iterator[Any]:
    """matplotlib defaults plus our fixed settings, restored afterwards."""
    mpl = require_matplotlib()
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update({
            "svg.hashsalt": _SVG_SALT,
            "svg.fonttype": "path",
            "font.size": 8,
            "axes.titlesize": 8,
            "legend.fontsize": 7,
            "figure.dpi": _DPI,
        })
        yield mpl


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, stem: Path, formats: Sequence[str]) -> tuple[Path, ...]:
    """Render to memory, then write atomically: a crash never leaves half an image behind."""
    paths = []
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=_DPI, metadata=_METADATA[fmt])
        path = stem.with_name(f"{stem.name}.{fmt}")
        write_bytes_atomic(path, buffer.getvalue())
        paths.append(path)
    return tuple(paths)


def strategy_styles(strategies: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One fixed look per strategy across all figures; random is black and dashed (the reference)."""
    import matplotlib

    others = sorted(s for s in set(strategies) if s != _RANDOM)
    palette = matplotlib.colormaps["tab10" if len(others) <= 10 else "tab20"]
    styles = {
        s: {"color": palette(i % palette.N), "linestyle": ("-", "-.", ":")[(i // palette.N) % 3], "linewidth": 1.3}
        for i, s in enumerate(others)
    }
    styles[_RANDOM] = {"color": "black", "linestyle": "--", "linewidth": 1.8}
    return styles


def _variant_of(case: Mapping[str, Any]) -> str:
    return str(case.get("variant") or "")


def _panel_label(embedding: str, variant: str) -> str:
    return f"{embedding} [{variant}]" if variant else embedding


# --------------------------------------------------------------------------------------- learning curves


def mean_curve(case: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(n_labeled, mean accuracy, s.d. over seeds, number of seeds) of one case.

    Seeds normally share the label schedule; where one stopped early, each point averages the seeds
    that reached it.
    """
    by_n: dict[int, list[float]] = defaultdict(list)
    runs = [r for r in case["runs"] if r.get("curve")]
    for run in runs:
        for n, acc in zip(run["curve"]["n_labeled"], run["curve"]["accuracy"]):
            if acc is not None:
                by_n[int(n)].append(float(acc))
    xs = np.array(sorted(by_n), dtype=float)
    means = np.array([np.mean(by_n[int(n)]) for n in xs])
    stds = np.array([np.std(by_n[int(n)], ddof=1) if len(by_n[int(n)]) > 1 else 0.0 for n in xs])
    return xs, means, stds, len(runs)


def learning_curve_figures(cases: Sequence[Mapping[str, Any]], out_dir: Path, formats: Sequence[str],
                           order: Sequence[str] | None = None) -> list[FigureFile]:
    """One figure per dataset; one panel per embedding (columns, ladder order) and variant (rows)."""
    by_dataset: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for case in cases:
        if any(r.get("curve") for r in case["runs"]):
            by_dataset[str(case["dataset"])].append(case)
    if not by_dataset:
        return []
    figures = []
    with _style():
        styles = strategy_styles([str(c["strategy"]) for c in cases])
        for dataset in sorted(by_dataset):
            figures.append(_curve_figure(dataset, by_dataset[dataset], styles, out_dir, formats, order))
    return figures


def _curve_figure(dataset: str, cases: list[Mapping[str, Any]], styles: dict[str, dict[str, Any]],
                  out_dir: Path, formats: Sequence[str], order: Sequence[str] | None) -> FigureFile:
    embeddings = embedding_order([str(c["embedding"]) for c in cases], order)
    variants = sorted({_variant_of(c) for c in cases})
    ncols = min(len(embeddings), 5)
    rows_per_variant = math.ceil(len(embeddings) / ncols)
    nrows = rows_per_variant * len(variants)
    fig = _new_figure(0.6 + 3.0 * ncols + 1.6, 0.5 + 2.4 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    cells = {(str(c["embedding"]), _variant_of(c), str(c["strategy"])): c for c in cases}
    seeds: set[int] = set()
    drawn: set[str] = set()
    for v, variant in enumerate(variants):
        for e, embedding in enumerate(embeddings):
            ax = axes[v * rows_per_variant + e // ncols][e % ncols]
            strategies = sorted((s for (emb, var, s) in cells if emb == embedding and var == variant),
                                key=lambda s: (s != _RANDOM, s))
            if not strategies:
                ax.set_axis_off()
                continue
            for strategy in strategies:
                xs, mean, std, n = mean_curve(cells[(embedding, variant, strategy)])
                seeds.add(n)
                style = styles[strategy]
                ax.plot(xs, mean, label=strategy, zorder=3 if strategy == _RANDOM else 2, **style)
                ax.fill_between(xs, mean - std, mean + std, color=style["color"], alpha=0.12, linewidth=0)
                drawn.add(strategy)
            ax.set_title(_panel_label(embedding, variant))
            ax.set_xlabel("labeled points")
            ax.grid(alpha=0.3)
        for r in range(v * rows_per_variant, (v + 1) * rows_per_variant):
            axes[r][0].set_ylabel("test accuracy")
        for e in range(len(embeddings), rows_per_variant * ncols):
            axes[v * rows_per_variant + e // ncols][e % ncols].set_axis_off()
    band = _seeds_text(seeds)
    handles = [_legend_line(styles[s], s) for s in sorted(drawn, key=lambda s: (s != _RANDOM, s))]
    fig.legend(handles=handles, loc="outside right upper", title="strategy")
    fig.suptitle(f"{dataset}: learning curves, mean ± 1 s.d. over {band} (band)")
    paths = _save(fig, out_dir / f"curves-{slug(dataset)}", formats)
    caption = (f"Test accuracy against the number of labeled points on {dataset}; lines are the mean over "
               f"{band}, bands ± 1 standard deviation over seeds; random is the dashed black line.")
    return FigureFile("Learning curves", dataset, caption, paths)


def _seeds_text(counts: set[int]) -> str:
    if len(counts) == 1:
        n = next(iter(counts))
        return f"{n} seed" + ("s" if n != 1 else "")
    return f"{min(counts)}–{max(counts)} seeds"


def _legend_line(style: Mapping[str, Any], label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], label=label, **style)


# ------------------------------------------------------------------------------------------ rank heatmap


def rank_heatmap(mean_ranks: Mapping[str, Mapping[str, float]], out_dir: Path, formats: Sequence[str],
                 order: Sequence[str] | None = None, blocks: Mapping[str, str] | None = None) -> FigureFile | None:
    """Strategies (rows, best overall first) × embeddings (columns, weakest first), cells = mean rank."""
    embeddings = embedding_order(list(mean_ranks), order)
    strategies = sorted({s for ranks in mean_ranks.values() for s in ranks})
    if not embeddings or not strategies:
        return None
    grid = np.full((len(strategies), len(embeddings)), np.nan)
    for j, emb in enumerate(embeddings):
        for i, s in enumerate(strategies):
            if s in mean_ranks[emb]:
                grid[i, j] = mean_ranks[emb][s]
    overall = np.nanmean(grid, axis=1)
    rows = sorted(range(len(strategies)), key=lambda i: (overall[i], strategies[i]))
    grid, strategies = grid[rows], [strategies[i] for i in rows]
    with _style() as mpl:
        fig = _new_figure(max(4.2, 1.8 + 1.0 * len(embeddings)), 1.3 + 0.32 * len(strategies))
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
        paths = _save(fig, out_dir / "rank-heatmap", formats)
    caption = ("Each cell is a strategy's mean rank over the blocks of one embedding (datasets, or dataset × seed "
               "pairs where too few datasets are complete; the column labels say which), the ranks the Friedman "
               "test uses; rows are sorted by the average over embeddings, columns weakest embedding first. "
               "Only embeddings (and variants) that rank the most strategies are shown; the Friedman table lists all.")
    return FigureFile("Ranks", "Mean rank heatmap", caption, paths)


# ------------------------------------------------------------------------------- critical-difference plot

POSTHOC_NAMES = {
    "wilcoxon-holm": "pairwise Wilcoxon signed-rank tests, Holm-corrected",
    "nemenyi": "Nemenyi test",
}


def cd_diagram(label: str, mean_ranks: Mapping[str, float], groups: Sequence[Sequence[str]],
               out_dir: Path, formats: Sequence[str], *, method: str, alpha: float,
               critical_difference: float | None = None, friedman_p: float | None = None,
               blocks: str = "") -> FigureFile:
    """Demšar-style diagram: rank axis (1 = best, left), strategies hanging left/right, thick bars
    joining strategies the post-hoc test cannot tell apart, and the CD length when it is Nemenyi's."""
    names = sorted(mean_ranks, key=lambda s: (mean_ranks[s], s))
    k = len(names)
    half = math.ceil(k / 2)
    cliques = [sorted(g, key=lambda s: mean_ranks[s]) for g in groups if len(g) > 1]
    step, bar_gap = 0.28, 0.13
    depth = 0.35 + bar_gap * len(cliques) + step * max(half, k - half)
    has_cd = critical_difference is not None and math.isfinite(critical_difference)
    headroom = 0.75 if has_cd else 0.3
    with _style():
        fig = _new_figure(7.0, 0.6 + (depth + headroom) * 0.9)
        ax = fig.subplots()
        lo, hi = 1.0, float(max(k, 2))
        pad = 0.32 * (hi - lo) + 0.6
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(-depth - 0.1, headroom)
        ax.set_axis_off()
        ax.plot([lo, hi], [0, 0], color="black", linewidth=1)
        for tick in range(1, int(hi) + 1):
            ax.plot([tick, tick], [0, 0.08], color="black", linewidth=1)
            ax.text(tick, 0.12, str(tick), ha="center", va="bottom", fontsize=7)
        for j, clique in enumerate(cliques):
            y = -0.2 - bar_gap * j
            ax.plot([mean_ranks[clique[0]] - 0.04, mean_ranks[clique[-1]] + 0.04], [y, y], color="black",
                    linewidth=3.5, solid_capstyle="round", zorder=3)
        top = -0.2 - bar_gap * len(cliques) - 0.15
        for i, name in enumerate(names):
            left = i < half
            row = i if left else k - 1 - i
            y = top - step * row
            x_end = lo - pad * 0.35 if left else hi + pad * 0.35
            rank = mean_ranks[name]
            ax.plot([rank, rank, x_end], [0, y, y], color="0.25", linewidth=0.8, zorder=2)
            ax.text(x_end + (-0.05 if left else 0.05), y, f"{name} ({rank:.2f})", va="center",
                    ha="right" if left else "left", fontsize=7)
        if has_cd:
            assert critical_difference is not None
            ax.plot([lo, lo + critical_difference], [0.5, 0.5], color="firebrick", linewidth=1.5)
            for x in (lo, lo + critical_difference):
                ax.plot([x, x], [0.45, 0.55], color="firebrick", linewidth=1.5)
            ax.text(lo + critical_difference / 2, 0.58, f"CD = {critical_difference:.2f}", ha="center",
                    va="bottom", fontsize=7, color="firebrick")
        test = POSTHOC_NAMES.get(method, method)
        friedman = f"Friedman p = {friedman_p:.3g}; " if friedman_p is not None else ""
        where = f" ({blocks})" if blocks else ""
        ax.set_title(f"{label}{where}: {friedman}{test}, α = {alpha:g}", fontsize=8)
        paths = _save(fig, out_dir / f"cd-{slug(label)}", formats)
    caption = (f"Mean ranks on {label} (1 = best AULC). Thick bars join strategies whose differences the "
               f"{test} does not find significant at α = {alpha:g}"
               + (f"; the red bar is the Nemenyi critical difference ({critical_difference:.2f})."
                  if critical_difference is not None else "."))
    return FigureFile("Statistics across datasets", f"Critical-difference diagram: {label}", caption, paths)


# ---------------------------------------------------------------------------------- gain against quality


@dataclass(frozen=True)
class ScatterPanel:
    """One panel: points (x = quality, y = gain) per embedding, and the correlation for its title."""

    title: str
    points: Mapping[str, Sequence[tuple[float, float]]]
    rho: float | None
    p_value: float | None
    ylabel: str


def gain_quality_figure(measure: str, panels: Sequence[ScatterPanel], out_dir: Path, formats: Sequence[str],
                        order: Sequence[str] | None = None) -> FigureFile | None:
    """Small multiples: one panel per strategy (and the TypiClust-IPS early gain), colour = embedding."""
    panels = [p for p in panels if any(p.points.values())]
    if not panels:
        return None
    embeddings = embedding_order([e for p in panels for e in p.points], order)
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    with _style() as mpl:
        palette = mpl.colormaps["viridis"]
        colours = {e: palette(i / max(len(embeddings) - 1, 1) * 0.9) for i, e in enumerate(embeddings)}
        markers = "osD^vP*Xh<>"
        fig = _new_figure(0.8 + 2.7 * ncols + 1.8, 0.6 + 2.4 * nrows)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for index, panel in enumerate(panels):
            ax = axes[index // ncols][index % ncols]
            for e, embedding in enumerate(embeddings):
                pts = panel.points.get(embedding, ())
                if pts:
                    xs, ys = zip(*pts)
                    ax.scatter(xs, ys, s=18, color=colours[embedding], marker=markers[e % len(markers)],
                               label=embedding, edgecolors="black", linewidths=0.3, zorder=3)
            ax.axhline(0.0, color="0.5", linewidth=0.8, linestyle=":")
            ax.set_title(f"{panel.title}\n{_rho_text(panel.rho, panel.p_value, panel.points)}")
            ax.set_xlabel(measure.replace("_", " "))
            ax.set_ylabel(panel.ylabel)
            ax.grid(alpha=0.3)
        for index in range(len(panels), nrows * ncols):
            axes[index // ncols][index % ncols].set_axis_off()
        handles = [_legend_point(colours[e], markers[i % len(markers)], e) for i, e in enumerate(embeddings)]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6), title="embedding")
        fig.suptitle(f"AULC gain over random against {measure.replace('_', ' ')} (one point per dataset × embedding)")
        paths = _save(fig, out_dir / f"gain-vs-{slug(measure)}", formats)
    caption = (f"Each point is one dataset on one embedding: x = {measure}, y = the strategy's mean AULC minus "
               "random's on the same cell. Titles give Spearman's ρ over all points and its p-value.")
    return FigureFile("AL gain against embedding quality", f"Gain against {measure.replace('_', ' ')}", caption, paths)


def _rho_text(rho: float | None, p: float | None, points: Mapping[str, Sequence[Any]]) -> str:
    n = sum(len(v) for v in points.values())
    if rho is None or not math.isfinite(rho):
        return f"Spearman ρ undefined (n = {n})"
    p_text = f"{p:.2g}" if p is not None and math.isfinite(p) else "n/a"
    return f"Spearman ρ = {rho:+.2f}, p = {p_text} (n = {n})"


def _legend_point(colour: Any, marker: str, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="", marker=marker, markersize=5, color=colour, markeredgecolor="black",
                  markeredgewidth=0.3, label=label)


# ------------------------------------------------------------------------------------------- the grid


def draw_figures(cases: Sequence[Mapping[str, Any]], analysis: Any, out_dir: Path, formats: Sequence[str],
                 order: Sequence[str] | None = None) -> list[FigureFile]:
    """Every figure of a grid, in report order: ranks, CD diagrams, gain vs quality, learning curves.

    ``analysis`` is a :class:`pytest_albench.analysis.grid.GridAnalysis` (or None: curves only).
    """
    require_matplotlib()
    figures: list[FigureFile | None] = []
    if analysis is not None:
        stats = analysis.per_embedding
        ranks = {label: r for label, es in stats.items() if (r := _mean_ranks(es))}
        # Ranks among 2 strategies (an IPS side grid) and among 11 are not on one scale: the heatmap
        # shows the labels that rank the most strategies; the Friedman table lists the others.
        widest = max((len(r) for r in ranks.values()), default=0)
        ranks = {label: r for label, r in ranks.items() if len(r) == widest}
        blocks = {label: _blocks_text(es) for label, es in stats.items()}
        figures.append(rank_heatmap(ranks, out_dir, formats, order, blocks))
        for label in embedding_order(list(stats), order):
            es = stats[label]
            if es.posthoc is not None:
                ph = es.posthoc
                figures.append(cd_diagram(
                    label, ph.mean_ranks, ph.groups, out_dir, formats, method=ph.method, alpha=ph.alpha,
                    critical_difference=ph.critical_difference,
                    friedman_p=es.friedman.p_value if es.friedman is not None else None,
                    blocks=_blocks_text(es),
                ))
        for measure in quality_measures(analysis.quality):
            figures.append(gain_quality_figure(measure, gain_panels(analysis, measure), out_dir, formats, order))
    figures.extend(learning_curve_figures(cases, out_dir, formats, order))
    return [f for f in figures if f is not None]


def _blocks_text(stats: Any) -> str:
    n = len(stats.scores)
    return f"{n} datasets" if stats.blocks == "datasets" else f"{n} {stats.blocks.replace('×', ' × ')} blocks"


def _mean_ranks(stats: Any) -> dict[str, float]:
    if stats.friedman is not None:
        return dict(stats.friedman.mean_ranks)
    if stats.posthoc is not None:
        return dict(stats.posthoc.mean_ranks)
    return {}


def quality_measures(quality: Mapping[Any, Mapping[str, Any]]) -> list[str]:
    """The embedding-quality measures present, known ones first (sizes such as ``n_pool`` are not measures)."""
    from ..engine.quality import MEASURES, SIZES

    present = {k for values in quality.values() for k, v in values.items()
               if isinstance(v, (int, float)) and math.isfinite(v)} - set(SIZES)
    return [m for m in MEASURES if m in present] + sorted(present - set(MEASURES))


def gain_panels(analysis: Any, measure: str) -> list[ScatterPanel]:
    """One panel per strategy's AULC gain over random, then the TypiClust-IPS early gain, each with the
    Spearman correlation the analysis computed for that (measure, target)."""
    from ..analysis.grid import IPS_TARGET

    correlations = {(c.measure, c.target): c for c in analysis.correlations}
    quality = analysis.quality

    def panel(title: str, target: str, values: Mapping[tuple[str, str], float], ylabel: str) -> ScatterPanel:
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for (embedding, dataset), gain in sorted(values.items()):
            x = quality.get((embedding, dataset), {}).get(measure)
            if isinstance(x, (int, float)) and math.isfinite(x) and math.isfinite(gain):
                points[embedding].append((float(x), float(gain)))
        corr = correlations.get((measure, target))
        return ScatterPanel(title, dict(points), corr.rho if corr else None, corr.p_value if corr else None, ylabel)

    strategies = sorted({s for _, _, s in analysis.cell_gains})
    panels = [
        panel(strategy, f"AULC gain: {strategy}",
              {(e, d): v for (e, d, s), v in analysis.cell_gains.items() if s == strategy}, "AULC gain over random")
        for strategy in strategies
    ]
    if analysis.ips_early_gain:
        panels.append(panel(IPS_TARGET, IPS_TARGET, analysis.ips_early_gain,
                            f"early accuracy gain (first {analysis.early_cycles} points)"))
    return panels
