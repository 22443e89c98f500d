"""The scaling setting of ``strategy_cost``: every strategy on real embeddings from 10k to 1M rows.

Why: "can I afford strategy X on my pool" is a question about how its cost grows, so the table gives
each strategy's time and peak memory at every size and the fitted exponent of time against N at a
fixed width. The pools are banking77 × minilm-l6 (the main setting's pool) resized by
``worker.scaled_real_pool``: seeded subsamples or jittered tiles for the rows, a seeded Gaussian
projection for a wider width. A strategy whose time or memory, extrapolated from its last measured
size, would pass the caps is not run at the larger size; its cell says so and gives the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..common.memory import GIB, MIB
from .worker import Row

#: How time and memory grow with N, per strategy, for the skip estimate (1: linear). ProbCover's
#: first call builds its δ-ball graph from all pairs of points.
EXPONENTS = {"probcover": 2.0}


def parse_shape(text: str) -> tuple[int, int]:
    """``"100000x1024"`` → (100000, 1024); a clear error for anything else."""
    try:
        n_text, d_text = text.lower().replace("×", "x").split("x")
        n, d = int(n_text.replace("_", "")), int(d_text)
    except ValueError:
        raise ValueError(f"a scaling size is ROWSxWIDTH, e.g. 100000x1024; got {text!r}") from None
    if n < 1 or d < 1:
        raise ValueError(f"rows and width must be positive, got {text!r}")
    return n, d


@dataclass(frozen=True)
class Estimate:
    """Whether to run a strategy at a size, with the extrapolated time and memory that decided it."""

    run: bool
    time_s: float
    bytes: float
    reason: str = ""


def estimate(
    strategy: str,
    n: int,
    d: int,
    previous: tuple[int, int, float, float] | None,
    time_cap_s: float,
    memory_cap_bytes: float,
) -> Estimate:
    """Extrapolate (rows, width, seconds, peak bytes) measured at a smaller size to (n, d).

    Time and memory are taken as proportional to N^k · d (k from ``EXPONENTS``, else 1); without a
    previous measurement the strategy runs.
    """
    if previous is None:
        return Estimate(True, math.nan, math.nan)
    n0, d0, t0, b0 = previous
    k = EXPONENTS.get(strategy, 1.0)
    factor = (n / n0) ** k * (d / d0)
    t, b = t0 * factor, b0 * factor
    if t > time_cap_s:
        return Estimate(False, t, b, f"est. {t:,.0f} s > cap {time_cap_s:g} s (N^{k:g}·d from {n0:,}×{d0})")
    if b > memory_cap_bytes:
        return Estimate(
            False, t, b, f"est. {b / GIB:,.1f} GiB > cap {memory_cap_bytes / GIB:g} GiB (N^{k:g}·d from {n0:,}×{d0})"
        )
    return Estimate(True, t, b)


def time_exponent(points: Sequence[tuple[int, float]]) -> float | None:
    """The least-squares slope of log(time) on log(N): 1 is linear, 2 quadratic; None below 2 sizes."""
    usable = [(n, t) for n, t in points if n > 0 and t > 0]
    if len({n for n, _ in usable}) < 2:
        return None
    logs = np.log(np.array(usable, dtype=np.float64))
    slope, _ = np.polyfit(logs[:, 0], logs[:, 1], 1)
    return float(slope)


def scaling_table(
    rows: Sequence[Row], shapes: Sequence[tuple[int, int]], skipped: dict[tuple[str, int, int], Estimate]
) -> tuple[list[str], list[list[str]]]:
    """One line per strategy (and memo phase): time and peak per size, the exponent and the bound.

    The exponent is fitted over the sizes of the most common width (the N series); the memory
    column gives the peak per pool row at the largest size measured, i.e. the constant of the
    strategy's O(N) bound there.
    """
    widths = [d for _, d in shapes]
    series_width = max(set(widths), key=widths.count)
    names: list[str] = []
    for r in rows:
        if r.strategy not in names:
            names.append(r.strategy)
    headers = ["strategy", *[f"{n:,}×{d}" for n, d in shapes], f"time ∝ N^k (k, d={series_width})", "peak / row"]
    table = []
    for name in names:
        base = name.split(" (")[0]
        cells, series = [], []
        largest: Row | None = None
        for n, d in shapes:
            row = next((r for r in rows if r.strategy == name and r.n == n and r.d == d), None)
            skip = skipped.get((base, n, d))
            if row is not None:
                cells.append(f"{row.median_ms:,.0f} ms / {row.peak_extra_mib:,.0f} MiB")
                if d == series_width:
                    series.append((n, row.median_ms))
                if largest is None or n * d >= largest.n * largest.d:
                    largest = row
            elif skip is not None:
                cells.append(f"skipped ({skip.reason})")
            else:
                cells.append("–")
        k = time_exponent(series)
        per_row = "–" if largest is None else f"{largest.peak_extra_mib * MIB / largest.n:,.0f} B"
        table.append([name, *cells, "–" if k is None else f"{k:.2f}", per_row])
    return headers, table
