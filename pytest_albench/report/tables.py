"""Rank tables and machine-readable outputs from finished cases.

Pure functions of the case records (the dicts that travel on test reports), so the terminal summary,
the files and a later rebuild from saved results all show the same numbers.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats.paired import WIN_TIE_LOSS_TEST, mean_ranks, win_tie_loss

Case = dict[str, Any]


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""

    def render(self, fmt: str = "simple") -> str:
        """Plain text for the terminal (``simple``) or GitHub Markdown (``github``)."""
        from tabulate import tabulate

        body = tabulate(self.rows, headers=self.headers, tablefmt=fmt, disable_numparse=True)
        markdown = fmt == "github"
        parts = [f"### {self.title}\n" if markdown else self.title, body]
        if self.note:
            parts.append(f"\n_{self.note}_" if markdown else self.note)
        return "\n".join(parts)


def _aulcs(case: Case) -> list[float]:
    return [float(r["aulc"]) for r in case["runs"]]


def _fmt_mean_std(values: Sequence[float]) -> str:
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return f"{arr.mean():.4f} ± {std:.4f}"


def _with_variant(label: str, case: Case) -> str:
    """Cases run with another treatment (IPS method, head) are ranked apart from the others."""
    return f"{label} [{case['variant']}]" if case.get("variant") else label


def _group_label(case: Case) -> str:
    return _with_variant(f"{case['embedding']} / {case['dataset']}", case)


def per_cell_tables(cases: Iterable[Case]) -> list[Table]:
    """One table per embedding × dataset: strategies ranked by mean AULC over seeds."""
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        groups[_group_label(case)].append(case)
    tables = []
    for label in sorted(groups):
        ranked = sorted(groups[label], key=lambda c: -float(np.mean(_aulcs(c))))
        rows = [
            [
                rank,
                c["strategy"],
                _fmt_mean_std(_aulcs(c)),
                _fmt_mean_std([float(r["final_accuracy"]) for r in c["runs"]]),
                len(c["runs"]),
                c.get("baseline", {}).get("status", "-"),
            ]
            for rank, c in enumerate(ranked, start=1)
        ]
        tables.append(Table(f"AULC ranking: {label}", ["rank", "strategy", "AULC (mean ± std)", "final acc", "seeds", "baseline"], rows))
    return tables


def _by_embedding(cases: Iterable[Case]) -> dict[str, dict[str, dict[str, Case]]]:
    """embedding (+variant) → dataset → strategy → case."""
    out: dict[str, dict[str, dict[str, Case]]] = defaultdict(lambda: defaultdict(dict))
    for case in cases:
        out[_with_variant(case["embedding"], case)][case["dataset"]][case["strategy"]] = case
    return out


def mean_rank_table(cases: Iterable[Case]) -> Table:
    """Per embedding: each strategy's mean rank across datasets (the study's summary), and the winner."""
    rows = []
    for embedding, datasets in sorted(_by_embedding(cases).items()):
        strategies = sorted(set.intersection(*(set(s) for s in datasets.values())))
        blocks = [d for d in sorted(datasets) if all(s in datasets[d] for s in strategies)]
        if len(strategies) < 2 or not blocks:
            continue
        scores = {s: [float(np.mean(_aulcs(datasets[d][s]))) for d in blocks] for s in strategies}
        ranks = mean_ranks(scores)
        ordered = sorted(ranks, key=lambda s: (ranks[s], s))
        rows.append([embedding, len(blocks), ordered[0], "  ".join(f"{s} {ranks[s]:.2f}" for s in ordered)])
    return Table(
        "Mean rank of each strategy across datasets (1 = best AULC), per embedding",
        ["embedding", "datasets", "winner", "strategies by mean rank"],
        rows,
    )


def win_tie_loss_table(cases: Iterable[Case], tie_margin: float = 1e-3) -> Table:
    """Pairwise W/T/L of strategy A vs B over (dataset, seed) pairs, per embedding."""
    rows = []
    for embedding, datasets in sorted(_by_embedding(cases).items()):
        strategies = sorted(set().union(*(set(s) for s in datasets.values())))
        for i, a in enumerate(strategies):
            for b in strategies[i + 1 :]:
                va, vb = [], []
                for cells in datasets.values():
                    if a in cells and b in cells:
                        ra = {r["seed"]: float(r["aulc"]) for r in cells[a]["runs"]}
                        rb = {r["seed"]: float(r["aulc"]) for r in cells[b]["runs"]}
                        for seed in sorted(set(ra) & set(rb)):
                            va.append(ra[seed])
                            vb.append(rb[seed])
                if not va:
                    continue
                wtl = win_tie_loss(va, vb, tie_margin)
                rows.append([embedding, a, b, wtl.wins, wtl.ties, wtl.losses, f"{wtl.p_value:.3g}"])
    return Table(
        "Pairwise wins/ties/losses of A vs B over (dataset, seed) pairs",
        ["embedding", "A", "B", "wins", "ties", "losses", "p"],
        rows,
        note=f"tie: |ΔAULC| ≤ {tie_margin:g}; p: {WIN_TIE_LOSS_TEST}",
    )


def status_table(cases: Iterable[Case], missing: Iterable[str] = ()) -> Table:
    rows = []
    for c in sorted(cases, key=lambda c: c["nodeid"]):
        verdict = c.get("baseline", {})
        delta = verdict.get("mean_delta")
        p = verdict.get("p_worse")
        rows.append([
            c["case_id"], verdict.get("status", "-"),
            f"{delta:+.4f}" if isinstance(delta, float) else "",
            f"{p:.3g}" if isinstance(p, float) else "",
            verdict.get("written", ""),
        ])
    for nodeid in sorted(missing):
        rows.append([nodeid, "no result", "", "", "the case failed or its worker crashed"])
    return Table("Baseline status per case", ["case", "status", "ΔAULC", "p (worse)", "note"], rows)


def all_tables(cases: Sequence[Case], missing: Iterable[str] = ()) -> list[Table]:
    tables = per_cell_tables(cases)
    tables.append(mean_rank_table(cases))
    tables.append(win_tie_loss_table(cases))
    tables.append(status_table(cases, missing))
    return [t for t in tables if t.rows]


def render_text(cases: Sequence[Case], missing: Iterable[str] = ()) -> str:
    return "\n\n".join(t.render("simple") for t in all_tables(cases, missing))


def render_markdown(cases: Sequence[Case], missing: Iterable[str] = ()) -> str:
    return "\n\n".join(t.render("github") for t in all_tables(cases, missing)) + "\n"


CSV_FIELDS = [
    "case_id", "dataset", "embedding", "strategy", "variant", "seed", "aulc", "final_accuracy",
    "aulc_macro_f1", "query_time_s", "train_time_s", "status", "config_hash",
]


def render_csv(cases: Sequence[Case]) -> str:
    """One row per (case, seed)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in sorted(cases, key=lambda c: c["nodeid"]):
        for r in c["runs"]:
            writer.writerow({
                "case_id": c["case_id"], "dataset": c["dataset"], "embedding": c["embedding"],
                "strategy": c["strategy"], "variant": c.get("variant", ""), "seed": r["seed"],
                "aulc": r["aulc"], "final_accuracy": r["final_accuracy"], "aulc_macro_f1": r["aulc_macro_f1"],
                "query_time_s": r["query_time_s"], "train_time_s": r["train_time_s"],
                "status": c.get("baseline", {}).get("status", ""), "config_hash": c["config_hash"],
            })
    return buffer.getvalue()
