"""The peer benchmark's tables: per size, the short AL runs, and the scaling over sizes.

Why apart from the measuring code: the cells say why a number is missing (not installed, skipped by
the rule, no memo, error), and that wording is what a reader of the README compares across runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import adapters as pa
from .al_runs import aulc
from .overlap import selection_overlap
from .results import SIDE_TITLES, PhaseResult, SizeReport


def _fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f}"


def _fmt_ratio(peer_ms: float | None, ours_ms: float | None) -> str:
    if peer_ms is None or not ours_ms:
        return "–"
    return f"{peer_ms / ours_ms:,.1f}×"


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
    return _fmt_ms(m.median_ms), f"{m.peak_mib:,.1f}", ov, notes


def size_table_rows(report: SizeReport, libraries: Sequence[str]) -> list[list[str]]:
    rows = []
    for res in report.results:
        for phase in res.phases:
            name = res.strategy + (f" ({phase.phase})" if phase.phase else "")
            ours = phase.sides.get("ours")
            notes: list[str] = []
            if ours is None:
                ours_ms, ours_mem = "–", "–"
            elif ours.error:
                ours_ms, ours_mem = "error", "–"
                notes.append(f"ours error: {ours.error}")
            else:
                ours_ms, ours_mem = _fmt_ms(ours.median_ms), f"{ours.peak_mib:,.1f}"
                notes.extend(f"ours: {n}" for n in ours.notes)
                if ours.memo_mib is not None:
                    notes.append(f"ours memo {ours.memo_mib:,.2f} MiB")
            row = [name, ours_ms, ours_mem]
            peer_ms: list[float] = []
            for lib in libraries:
                t, mem, ov, more = peer_cell(report, res.strategy, phase, lib)
                row += [t, mem, ov]
                notes.extend(more)
                m = phase.sides.get(lib)
                if m is not None and not m.error and m.median_ms is not None:
                    peer_ms.append(m.median_ms)
            ours_median = ours.median_ms if ours is not None and not ours.error else None
            row.append(_fmt_ratio(min(peer_ms) if peer_ms else None, ours_median))
            if phase.phase == "memo reused":
                notes.insert(0, "later cycles: memo filled by an earlier call, its size not counted")
            row.append("; ".join(notes))
            rows.append(row)
    return rows


def size_table_headers(libraries: Sequence[str]) -> list[str]:
    headers = ["strategy", "ours (ms)", "ours peak (MiB)"]
    for lib in libraries:
        t = SIDE_TITLES[lib]
        headers += [f"{t} (ms)", f"{t} peak (MiB)", f"overlap {t}"]
    return [*headers, "fastest peer / ours", "notes"]


def al_table(report: SizeReport, libraries: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """One row per randomised strategy: start accuracy, then per side the AULC mean over its seeds,
    each seed's AULC and the mean final accuracy (or why the side has no curve)."""
    headers = ["strategy", "start acc."] + [f"AULC {SIDE_TITLES[s]}" for s in ("ours", *libraries)]
    rows = []
    for res in report.results:
        if not res.al and not res.al_notes:
            continue
        start = next((c[0] for curves in res.al.values() for c in curves.values()), None)
        row = [res.strategy, "–" if start is None else f"{start:.4f}"]
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
                name = res.strategy + (f" ({phase.phase})" if phase.phase else "")
                for side in ("ours", *libraries):
                    if side != "ours" and side not in pa.PEER_SPECS.get(res.strategy, {}):
                        continue
                    if (name, side) not in keys:
                        keys.append((name, side))
    rows = []
    for name, side in keys:
        strategy = name.split(" (")[0]
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
                        if res.strategy + (f" ({phase.phase})" if phase.phase else "") != name:
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
