"""The Markdown table of one or more results files: per cell both AULCs, their difference and the verdict.

Why these columns: the verdict of issue #12 is "every cell agrees within max(2 × the larger sd, 0.01)",
so the table gives both means and sds, the difference, that tolerance and the verdict; the identical-
picks and head columns say whether a deterministic strategy picked what the peer picked for as long
as it should. Parts run in separate processes (one file per dataset) are merged here, and the header
repeats each part's command, machine, wall time and peak memory, because the table means nothing
without them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .cells import DEFAULT_DATASETS, DEFAULT_EMBEDDINGS, DETERMINISTIC, Cell
from .store import load_results

__all__ = ["TABLE_COLUMNS", "Row", "cell_rows", "merge_entries", "render_table"]

#: The order of strategies in the table: issue #12's.
STRATEGY_ORDER = ("random", "least_confidence", "margin", "entropy", "coreset", "badge", "typiclust", "probcover")
#: The absolute floor of the tolerance (an AULC difference below it never counts as a disagreement).
TOLERANCE_FLOOR = 0.01

TABLE_COLUMNS = (
    "dataset",
    "embedding",
    "strategy",
    "seeds",
    "ours AULC",
    "scikit-activeml AULC",
    "Δ (ours − peer)",
    "sd of paired Δ",
    "tolerance",
    "agrees",
    "identical picks",
    "heads 100 %",
    "max Δp, same labels",
    "s / seed (ours, peer)",
)


def _sd(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def merge_entries(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(runs, entries) of all ``paths``; a key present in several files keeps the last file's entry."""
    runs: list[dict[str, Any]] = []
    entries: dict[str, dict[str, Any]] = {}
    for path in paths:
        data = load_results(path)
        runs.extend({**run, "file": str(path)} for run in data["runs"])
        entries.update(data["entries"])
    return runs, list(entries.values())


def _order(cell: Cell) -> tuple[Any, ...]:
    def rank(value: str, known: Sequence[str]) -> tuple[int, str]:
        return (known.index(value), "") if value in known else (len(known), value)

    return (
        rank(cell.dataset, DEFAULT_DATASETS),
        rank(cell.embedding, DEFAULT_EMBEDDINGS),
        rank(cell.strategy, STRATEGY_ORDER),
    )


class Row:
    """One cell's numbers over its seeds."""

    def __init__(self, cell: Cell, entries: list[dict[str, Any]]) -> None:
        entries = sorted(entries, key=lambda e: int(e["seed"]))
        self.cell = cell
        self.seeds = [int(e["seed"]) for e in entries]
        self.ours = [float(e["ours"]["aulc"]) for e in entries]
        self.peer = [float(e["peer"]["aulc"]) for e in entries]
        self.cycles = len(entries[0]["identical"])
        self.prefixes = [int(e["identical_prefix"]) for e in entries]
        self.row_prefixes = [int(e.get("same_rows_prefix", -1)) for e in entries]
        self.heads_full = [sum(a == 1.0 for a in e["head_agreement"]) for e in entries]
        dps = [h["max_dp"] for e in entries for h in e["same_labels_heads"] if "max_dp" in h]
        self.max_dp = max(dps) if dps else float("nan")
        self.seconds = (
            float(np.mean([e["ours"]["seconds"] for e in entries])),
            float(np.mean([e["peer"]["seconds"] for e in entries])),
        )
        self.replay_ok = all(e["ours"].get("replay_matches", True) for e in entries)
        self.entries = entries

    @property
    def diff(self) -> float:
        return float(np.mean(self.ours) - np.mean(self.peer))

    @property
    def tolerance(self) -> float:
        return max(2.0 * max(_sd(self.ours), _sd(self.peer)), TOLERANCE_FLOOR)

    @property
    def agrees(self) -> bool:
        return abs(self.diff) <= self.tolerance

    def cells(self) -> list[str]:
        c = self.cell
        if c.strategy in DETERMINISTIC:
            picks = f"{_span(self.prefixes)}/{self.cycles} (mean {np.mean(self.prefixes):.1f})"
            if min(self.row_prefixes) >= 0:
                picks += f"; rows {_span(self.row_prefixes)}/{self.cycles}"
        else:
            picks = "—"
        return [
            c.dataset,
            c.embedding,
            c.strategy,
            str(len(self.seeds)),
            f"{np.mean(self.ours):.4f} ± {_sd(self.ours):.4f}",
            f"{np.mean(self.peer):.4f} ± {_sd(self.peer):.4f}",
            f"{self.diff:+.4f}",
            f"{_sd([a - b for a, b in zip(self.ours, self.peer, strict=True)]):.4f}",
            f"{self.tolerance:.4f}",
            "yes" if self.agrees else "**no**",
            picks,
            f"{min(self.heads_full)}/{self.cycles + 1}",
            f"{self.max_dp:.1e}" + ("" if self.replay_ok else " (replay ≠ run)"),
            f"{self.seconds[0]:.1f}, {self.seconds[1]:.1f}",
        ]


def cell_rows(entries: list[dict[str, Any]]) -> list[Row]:
    """One row per cell, in table order."""
    grouped: dict[Cell, list[dict[str, Any]]] = {}
    for e in entries:
        grouped.setdefault(Cell(e["dataset"], e["embedding"], e["strategy"]), []).append(e)
    return [Row(cell, grouped[cell]) for cell in sorted(grouped, key=_order)]


def _span(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _md_row(values: Sequence[str]) -> str:
    return "| " + " | ".join(values) + " |"


def render_table(paths: Sequence[Path]) -> str:
    """The header (commands, machine, timings) and the Markdown table of the results in ``paths``."""
    runs, entries = merge_entries(paths)
    lines: list[str] = []
    seen_machines: set[tuple[str, ...]] = set()
    for run in runs:
        state = "finished" if run.get("finished") else "interrupted or still running"
        lines.append(
            f"- `{run['command']}` — started {run['started']}, wall {run['wall_s'] / 60:.1f} min, "
            f"peak RSS {run['peak_rss_mib'] / 1024:.2f} GiB, {run.get('computed', 0)} (cell, seed) computed, "
            f"{run.get('skipped', 0)} reused; {state}"
        )
        machine = tuple(run.get("machine", ()))
        if machine and machine not in seen_machines:
            seen_machines.add(machine)
            lines.extend(f"  - {m}" for m in machine)
    rows = cell_rows(entries)
    lines += ["", _md_row(TABLE_COLUMNS), _md_row(["---"] * len(TABLE_COLUMNS))]
    lines += [_md_row(r.cells()) for r in rows]
    bad = [r for r in rows if not r.agrees]
    lines += [
        "",
        f"{len(rows)} cells, {sum(len(r.seeds) for r in rows)} (cell, seed) runs; "
        f"{len(rows) - len(bad)} agree within max(2 × larger sd, {TOLERANCE_FLOOR}), {len(bad)} do not"
        + (": " + ", ".join(f"{r.cell.dataset}/{r.cell.embedding}/{r.cell.strategy}" for r in bad) if bad else "."),
        "identical picks: leading cycles whose selected sets are identical, min–max over seeds / cycles, "
        "and (rows) the same counted up to duplicated rows (copies of one text are interchangeable) "
        "(deterministic strategies only); sd of paired Δ: sd over seeds of ours − peer (both sides of a seed "
        "start from the same initial pool); heads 100 %: curve points (cycle 0 included) where both heads "
        "predict every test row alike, min over seeds; max Δp, same labels: largest class-probability "
        "difference on the pool between the two heads while they were fitted on the same labeled set.",
    ]
    return "\n".join(lines)
