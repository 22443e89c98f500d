"""Critical-difference diagrams (Demšar 2006): where each strategy's mean rank lies, and which
strategies the post-hoc test cannot tell apart.

Layout: a rank axis (1 = best, left); the better half of the strategies hangs to the left, the other
half to the right, each line starting at its mean rank; thick bars join the post-hoc test's groups;
a red bar shows the critical difference when the test has one (Nemenyi's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...choices import POSTHOC_LABELS
from ._common import FigureFile, new_figure, save, slug, style

#: Post-hoc test name -> the short label in a diagram's title and caption (one home: the choices).
POSTHOC_NAMES = POSTHOC_LABELS
_STEP, _BAR_GAP = 0.28, 0.13


def cd_diagram(
    label: str,
    mean_ranks: Mapping[str, float],
    groups: Sequence[Sequence[str]],
    out_dir: Path,
    formats: Sequence[str],
    *,
    method: str,
    alpha: float,
    critical_difference: float | None = None,
    friedman_p: float | None = None,
    blocks: str = "",
) -> FigureFile:
    """Demšar-style diagram: rank axis (1 = best, left), strategies hanging left/right, thick bars
    joining strategies the post-hoc test cannot tell apart, and the CD length when it is Nemenyi's."""
    k = len(mean_ranks)
    half = math.ceil(k / 2)
    cliques = [sorted(g, key=lambda s: mean_ranks[s]) for g in groups if len(g) > 1]
    depth = 0.35 + _BAR_GAP * len(cliques) + _STEP * max(half, k - half)
    has_cd = critical_difference is not None and math.isfinite(critical_difference)
    headroom = 0.75 if has_cd else 0.3
    test = POSTHOC_NAMES.get(method, method)
    with style():
        fig = new_figure(7.0, 0.6 + (depth + headroom) * 0.9)
        ax = fig.subplots()
        lo, hi = 1.0, float(max(k, 2))
        pad = 0.32 * (hi - lo) + 0.6
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(-depth - 0.1, headroom)
        ax.set_axis_off()
        _draw_axis(ax, lo, hi)
        for j, clique in enumerate(cliques):
            y = -0.2 - _BAR_GAP * j
            ax.plot(
                [mean_ranks[clique[0]] - 0.04, mean_ranks[clique[-1]] + 0.04],
                [y, y],
                color="black",
                linewidth=3.5,
                solid_capstyle="round",
                zorder=3,
            )
        _draw_names(ax, mean_ranks, top=-0.2 - _BAR_GAP * len(cliques) - 0.15, lo=lo, hi=hi, pad=pad)
        if has_cd:
            assert critical_difference is not None
            _draw_cd(ax, lo, critical_difference)
        friedman = f"Friedman p = {friedman_p:.3g}; " if friedman_p is not None else ""
        where = f" ({blocks})" if blocks else ""
        ax.set_title(f"{label}{where}: {friedman}{test}, α = {alpha:g}", fontsize=8)
        paths = save(fig, out_dir / f"cd-{slug(label)}", formats)
    caption = (
        f"Mean ranks on {label} (1 = best AULC). Thick bars join strategies whose differences the "
        f"{test} does not find significant at α = {alpha:g}"
        + (
            f"; the red bar is the Nemenyi critical difference ({critical_difference:.2f})."
            if critical_difference is not None
            else "."
        )
    )
    return FigureFile("Statistics across datasets", f"Critical-difference diagram: {label}", caption, paths)


def _draw_axis(ax: Any, lo: float, hi: float) -> None:
    ax.plot([lo, hi], [0, 0], color="black", linewidth=1)
    for tick in range(1, int(hi) + 1):
        ax.plot([tick, tick], [0, 0.08], color="black", linewidth=1)
        ax.text(tick, 0.12, str(tick), ha="center", va="bottom", fontsize=7)


def _draw_names(ax: Any, mean_ranks: Mapping[str, float], *, top: float, lo: float, hi: float, pad: float) -> None:
    """Best half on the left (best at the top), the rest on the right (worst at the top)."""
    names = sorted(mean_ranks, key=lambda s: (mean_ranks[s], s))
    k = len(names)
    half = math.ceil(k / 2)
    for i, name in enumerate(names):
        left = i < half
        row = i if left else k - 1 - i
        y = top - _STEP * row
        x_end = lo - pad * 0.35 if left else hi + pad * 0.35
        rank = mean_ranks[name]
        ax.plot([rank, rank, x_end], [0, y, y], color="0.25", linewidth=0.8, zorder=2)
        ax.text(
            x_end + (-0.05 if left else 0.05),
            y,
            f"{name} ({rank:.2f})",
            va="center",
            ha="right" if left else "left",
            fontsize=7,
        )


def _draw_cd(ax: Any, lo: float, critical_difference: float) -> None:
    ax.plot([lo, lo + critical_difference], [0.5, 0.5], color="firebrick", linewidth=1.5)
    for x in (lo, lo + critical_difference):
        ax.plot([x, x], [0.45, 0.55], color="firebrick", linewidth=1.5)
    ax.text(
        lo + critical_difference / 2,
        0.58,
        f"CD = {critical_difference:.2f}",
        ha="center",
        va="bottom",
        fontsize=7,
        color="firebrick",
    )
