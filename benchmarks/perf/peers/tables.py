"""The peer benchmark's tables: per size, the short AL runs, and the scaling over sizes.

Why apart from the measuring code: the cells say why a number is missing (not installed, skipped by
the rule, no memo, error), and that wording is what a reader of the README compares across runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import adapters as pa
from .al_runs import aulc
from .floors import FLOOR_WHAT
from .overlap import selection_overlap
from .results import SIDE_TITLES, PhaseResult, SideMeasure, SizeReport, TaskResult, relative_spread


def _fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f}"


def _fmt_ratio(peer_ms: float | None, ours_ms: float | None) -> str:
    if peer_ms is None or not ours_ms:
        return "–"
    return f"{peer_ms / ours_ms:,.1f}×"


def phase_row_name(res: TaskResult, phase: PhaseResult) -> str:
    """A table row's name: the strategy (and its settings) with the phase, e.g. ``probcover (first call)``."""
    return res.row_name + (f" ({phase.phase})" if phase.phase else "")


def fmt_times(times_ms: list[float]) -> str:
    """The median of the timed calls with their range, e.g. ``14.0 (13.1–16.5)``."""
    if not times_ms:
        return "–"
    median = float(np.median(times_ms))
    if len(times_ms) < 2:
        return _fmt_ms(median)
    return f"{_fmt_ms(median)} ({_fmt_ms(min(times_ms))}–{_fmt_ms(max(times_ms))})"


def fmt_spread(times_ms: list[float]) -> str:
    """How far the fastest and slowest call are from the median, e.g. ``−4 % / +5 %``; – for one call.

    The issue's stability target (within ±20 % over 11 rounds) is read off this cell, for our side
    and for the floor of the same rounds (which says what the machine itself did meanwhile).
    """
    spread = relative_spread(times_ms)
    if spread is None:
        return "–"
    low, high = (round(v * 100) for v in spread)  # an int: a tiny negative shows as +0, not −0
    return f"{low:+d} % / {high:+d} %".replace("-", "−")


def round_ratios(ours: SideMeasure, peers: Sequence[SideMeasure]) -> list[float]:
    """Per round: the fastest peer's time in that round ÷ ours in that round.

    Why per round: the sides of a round ran back to back, so a load spike that slows one round
    slows both sides of it; the ratios' median and range are what survives a noisy machine. Only
    peers with a time in every round take part (a peer timed once cannot be paired).
    """
    n = len(ours.times_ms)
    paired = [m.times_ms for m in peers if len(m.times_ms) == n and n > 1]
    if not paired:
        return []
    return [min(t[r] for t in paired) / ours.times_ms[r] for r in range(n) if ours.times_ms[r] > 0]


def fmt_ratio_range(ratios: list[float]) -> str:
    if not ratios:
        return "–"
    return f"{float(np.median(ratios)):,.2f}× ({min(ratios):,.2f}–{max(ratios):,.2f})"


def peer_cell(report: SizeReport, strategy: str, phase: PhaseResult, lib: str) -> tuple[str, str, str, list[str]]:
    """(time, memory, overlap, notes) cells of one peer in one row."""
    if lib not in pa.PEER_SPECS.get(strategy, {}):
        return "–", "–", "–", []
    if lib in report.unavailable:
        return "not installed", "–", "–", []
    decision = report.skipped.get((strategy, lib))
    if decision is not None and not decision.run:
        return "skipped (est. > cap)", "–", "–", [f"{SIDE_TITLES[lib]}: {decision.reason}"]
    m = phase.sides.get(lib)
    if m is None:
        return "– (no memo)" if phase.phase == "memo reused" else "–", "–", "–", []
    if m.error:
        return "error", "–", "–", [f"{SIDE_TITLES[lib]} error: {m.error}"]
    ours = phase.sides.get("ours")
    ov = "–"
    if ours is not None and not ours.error and m.selection:
        ov = f"{selection_overlap(ours.selection, m.selection, len(ours.selection)):.2f}"
    notes = [f"{SIDE_TITLES[lib]}: {n}" for n in m.notes]
    if m.memo_mib is not None:
        notes.append(f"{SIDE_TITLES[lib]} memo {m.memo_mib:,.1f} MiB")
    return fmt_times(m.times_ms), f"{m.peak_mib:,.1f}", ov, notes


def floor_cells(res: TaskResult, ours: SideMeasure | None) -> tuple[str, str, str]:
    """(floor time, ours ÷ floor, the floor's spread) of the first phase; per round, like the peer ratio."""
    if not res.floor_ms or ours is None or ours.error or not ours.times_ms:
        return "–", "–", "–"
    n = min(len(res.floor_ms), len(ours.times_ms))
    per_round = [ours.times_ms[r] / res.floor_ms[r] for r in range(n) if res.floor_ms[r] > 0]
    return fmt_times(res.floor_ms), fmt_ratio_range(per_round), fmt_spread(res.floor_ms)


def size_table_rows(report: SizeReport, libraries: Sequence[str]) -> list[list[str]]:
    rows = []
    for res in report.results:
        for index, phase in enumerate(res.phases):
            name = phase_row_name(res, phase)
            ours = phase.sides.get("ours")
            notes: list[str] = []
            ours_spread = "–"
            if ours is None:
                ours_ms, ours_mem = "–", "–"
            elif ours.error:
                ours_ms, ours_mem = "error", "–"
                notes.append(f"ours error: {ours.error}")
            else:
                ours_ms, ours_mem = fmt_times(ours.times_ms), f"{ours.peak_mib:,.1f}"
                ours_spread = fmt_spread(ours.times_ms)
                notes.extend(f"ours: {n}" for n in ours.notes)
                if ours.memo_mib is not None:
                    notes.append(f"ours memo {ours.memo_mib:,.2f} MiB")
            row = [name, ours_ms, ours_spread, ours_mem]
            peers: list[SideMeasure] = []
            for lib in libraries:
                t, mem, ov, more = peer_cell(report, res.strategy, phase, lib)
                row += [t, mem, ov]
                notes.extend(more)
                m = phase.sides.get(lib)
                if m is not None and not m.error and m.median_ms is not None:
                    peers.append(m)
            ours_ok = ours is not None and not ours.error
            ratios = round_ratios(ours, peers) if ours_ok and ours is not None else []
            if ratios:
                row.append(fmt_ratio_range(ratios))
            else:
                fastest = min((m.median_ms for m in peers if m.median_ms is not None), default=None)
                row.append(_fmt_ratio(fastest, ours.median_ms if ours_ok and ours is not None else None))
            row += list(floor_cells(res, ours)) if index == 0 else ["–", "–", "–"]
            if index == 0 and res.floor_ms:
                notes.append(f"floor: {FLOOR_WHAT[res.strategy]}")
            if phase.phase == "memo reused":
                notes.insert(0, "later cycles: memo filled by an earlier call, its size not counted")
            row.append("; ".join(notes))
            rows.append(row)
    return rows


def size_table_headers(libraries: Sequence[str]) -> list[str]:
    headers = ["strategy", "ours (ms)", "ours spread", "ours peak (MiB)"]
    for lib in libraries:
        t = SIDE_TITLES[lib]
        headers += [f"{t} (ms)", f"{t} peak (MiB)", f"overlap {t}"]
    return [
        *headers,
        "fastest peer / ours, per round",
        "floor (ms)",
        "ours / floor, per round",
        "floor spread",
        "notes",
    ]


def al_table(report: SizeReport, libraries: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """One row per randomised strategy: start accuracy, then per side the AULC mean over its seeds,
    each seed's AULC and the mean final accuracy (or why the side has no curve)."""
    headers = ["strategy", "start acc."] + [f"AULC {SIDE_TITLES[s]}" for s in ("ours", *libraries)]
    rows = []
    for res in report.results:
        if not res.al and not res.al_notes:
            continue
        start = next((c[0] for curves in res.al.values() for c in curves.values()), None)
        row = [res.row_name, "–" if start is None else f"{start:.4f}"]
        for side in ("ours", *libraries):
            curves = res.al.get(side)
            note = res.al_notes.get(side, "")
            decision = report.skipped.get((res.strategy, side))
            if curves:
                per = ", ".join(f"s{seed} {aulc(c):.4f}" for seed, c in curves.items())
                final = np.mean([c[-1] for c in curves.values()])
                cell = f"{np.mean([aulc(c) for c in curves.values()]):.4f} ({per}); final {final:.4f}"
                row.append(cell + (f"; {note}" if note else ""))
            elif note:
                row.append(note)
            elif side != "ours" and side not in pa.PEER_SPECS.get(res.strategy, {}):
                row.append("–")
            elif side in report.unavailable:
                row.append("not installed")
            elif decision is not None and not decision.run:
                row.append("skipped (est. > cap)")
            else:
                row.append("–")
        rows.append(row)
    return headers, rows


def scaling_rows(reports: Sequence[SizeReport], libraries: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    headers = ["strategy", "side"] + [f"N={r.n:,}" for r in reports]
    keys: list[tuple[str, str]] = []
    for r in reports:
        for res in r.results:
            for phase in res.phases:
                name = phase_row_name(res, phase)
                for side in ("ours", *libraries):
                    if side != "ours" and side not in pa.PEER_SPECS.get(res.strategy, {}):
                        continue
                    if (name, side) not in keys:
                        keys.append((name, side))
    rows = []
    for name, side in keys:
        strategy = name.split(" (")[0].split(" @ ")[0]
        cells = []
        for r in reports:
            cell = "–"
            decision = r.skipped.get((strategy, side))
            if side in r.unavailable:
                cell = "not installed"
            elif decision is not None and not decision.run:
                cell = "skipped (est. > cap)"
            else:
                for res in r.results:
                    for phase in res.phases:
                        if phase_row_name(res, phase) != name:
                            continue
                        m = phase.sides.get(side)
                        if m is not None:
                            cell = "error" if m.error else f"{_fmt_ms(m.median_ms)} ms"
            cells.append(cell)
        rows.append([name, SIDE_TITLES[side], *cells])
    return headers, rows


def print_table(headers: list[str], rows: list[list[str]], markdown: bool) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=headers, tablefmt="github" if markdown else "simple", disable_numparse=True))
