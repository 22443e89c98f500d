"""Tables of finished cases and of their analysis: the presentation layer's only arithmetic is formatting.

Pure functions of the case records and of the typed results of :mod:`pytest_albench.analysis`, so the
terminal summary, the files, the report page and a later rebuild from saved results all show the same
numbers. Every ranking shown here is the analysis's :class:`~pytest_albench.analysis.BlockRanking`.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..advisor.validate import Validation
from ..analysis import GridAnalysis, GridSummary, summarize
from ..analysis.dial import DIALS, DialSeries
from ..analysis.gains import BASELINE_STRATEGY
from ..analysis.grid import EmbeddingStats
from ..analysis.quality import measure_names, size_names
from ..analysis.ranking import MIN_DATASET_BLOCKS
from ..choices import POSTHOC_METHODS
from ..engine.label_free import LABEL_FREE_MEASURES
from ..record import CaseRecord, with_variant
from ..stats import WIN_TIE_LOSS_TEST

if TYPE_CHECKING:  # pragma: no cover
    from ..advisor.validate import Validation

Case = CaseRecord


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""

    def render(self, fmt: str = "simple") -> str:
        """Plain text for the terminal (``simple``) or GitHub Markdown (``github``)."""
        from tabulate import tabulate

        markdown = fmt == "github"
        rows, headers = self.rows, self.headers
        if markdown:  # a transformed embedding's name ("minilm-l6|pca:32") must not split a cell
            rows = [[_md_cell(cell) for cell in row] for row in rows]
            headers = [_md_cell(cell) for cell in headers]
        body = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)
        parts = [f"### {self.title}\n" if markdown else self.title, body]
        if self.note:
            parts.append(f"\n_{self.note}_" if markdown else self.note)
        return "\n".join(parts)


def _md_cell(cell: Any) -> Any:
    return cell.replace("|", "\\|") if isinstance(cell, str) else cell


def _aulcs(case: Case) -> list[float]:
    return [float(r["aulc"]) for r in case["runs"]]


def _fmt_mean_std(values: Sequence[float]) -> str:
    arr = np.asarray(values, dtype=float)
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return f"{arr.mean():.4f} ± {std:.4f}"


def _group_label(case: Case) -> str:
    """Cases run with another treatment (IPS method, head) are ranked apart from the others."""
    return with_variant(f"{case['embedding']} / {case['dataset']}", case)


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
        headers = ["rank", "strategy", "AULC (mean ± std)", "final acc", "seeds", "baseline"]
        tables.append(Table(f"AULC ranking: {label}", headers, rows))
    return tables


def mean_rank_table(summary: GridSummary) -> Table:
    """Per embedding: each strategy's mean rank over the blocks of the one ranking, and the winner."""
    rows = [
        [r.label, r.blocks_text, r.order[0], _ranks_text(r.ranking.mean_ranks, r.order)]
        for r in summary.ranked()
        if r.ranking is not None
    ]
    return Table(
        f"Mean rank of each strategy across datasets (1 = best AULC), per embedding ({summary.protocol_text})",
        ["embedding", "blocks", "winner", "strategies by mean rank"],
        rows,
        note=f"Ranks within blocks: datasets (mean AULC over seeds) when ≥ {MIN_DATASET_BLOCKS} datasets have "
        "every strategy, else (dataset, seed) pairs; the ranks the Friedman test, the post-hoc tests and "
        "the heatmap use. Cases of a protocol other than the default are marked [protocol=...] and ranked apart.",
    )


def win_tie_loss_table(summary: GridSummary) -> Table:
    """Pairwise W/T/L of strategy A vs B over (dataset, seed) pairs, per embedding."""
    rows = [[w.embedding_label, w.a, w.b, w.wins, w.ties, w.losses, f"{w.p_value:.3g}"] for w in summary.win_tie_loss]
    return Table(
        "Pairwise wins/ties/losses of A vs B over (dataset, seed) pairs",
        ["embedding", "A", "B", "wins", "ties", "losses", "p"],
        rows,
        note=f"tie: |ΔAULC| ≤ {summary.tie_margin:g}; p: {WIN_TIE_LOSS_TEST}",
    )


def status_table(cases: Iterable[Case], missing: Iterable[str] = ()) -> Table:
    """One row per case: its verdict, the mean AULC change, the per-case and the session-adjusted p of
    "worse", and the smallest drop its seeds could detect at the level it was judged (``mde``)."""
    rows = []
    for c in sorted(cases, key=lambda c: c["nodeid"]):
        verdict = c.get("baseline", {})
        delta, p, p_adj, mde = (verdict.get(k) for k in ("mean_delta", "p_worse", "p_adjusted", "mde"))
        rows.append(
            [
                c["case_id"],
                verdict.get("status", "-"),
                f"{delta:+.4f}" if isinstance(delta, float) else "",
                f"{p:.3g}" if isinstance(p, float) else "",
                f"{p_adj:.3g}" if isinstance(p_adj, float) else "",
                _mde_text(mde),
                _note(verdict),
            ]
        )
    for nodeid in sorted(missing):
        rows.append([nodeid, "no result", "", "", "", "", "the case failed or its worker crashed"])
    return Table(
        "Baseline status per case",
        ["case", "status", "ΔAULC", "p (worse)", "p adjusted", "detectable drop", "note"],
        rows,
    )


def _note(verdict: Any) -> str:
    """A written baseline, else why a case is ``stale``: its other columns are empty, and the reason
    (which input changed, or no shared seed) is what the user must act on."""
    written = str(verdict.get("written", "") or "")
    if written or verdict.get("status") != "stale":
        return written
    return str(verdict.get("message", ""))


def _mde_text(mde: object) -> str:
    if isinstance(mde, float) and mde >= 1.0:  # the whole AULC range (stored for infinity)
        return "none (too few seeds)"
    return f"{mde:.4f}" if isinstance(mde, float) else ""


def all_tables(cases: Sequence[Case], missing: Iterable[str] = (), summary: GridSummary | None = None) -> list[Table]:
    """Per-cell rankings, mean ranks, wins/ties/losses and baseline status; ``summary`` is
    :func:`~pytest_albench.analysis.summarize` of ``cases`` when the caller has it (computed otherwise)."""
    summary = summary if summary is not None else summarize(cases)
    tables = per_cell_tables(cases)
    tables.append(mean_rank_table(summary))
    tables.append(win_tie_loss_table(summary))
    tables.append(status_table(cases, missing))
    return [t for t in tables if t.rows]


def render_text(cases: Sequence[Case], missing: Iterable[str] = (), summary: GridSummary | None = None) -> str:
    return "\n\n".join(t.render("simple") for t in all_tables(cases, missing, summary))


def render_markdown(cases: Sequence[Case], missing: Iterable[str] = (), summary: GridSummary | None = None) -> str:
    return "\n\n".join(t.render("github") for t in all_tables(cases, missing, summary)) + "\n"


CSV_FIELDS = [
    "case_id",
    "dataset",
    "embedding",
    "strategy",
    "variant",
    "seed",
    "aulc",
    "final_accuracy",
    "aulc_macro_f1",
    "query_time_s",
    "train_time_s",
    "status",
    "config_hash",
]


def render_csv(cases: Sequence[Case]) -> str:
    """One row per (case, seed)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in sorted(cases, key=lambda c: c["nodeid"]):
        for r in c["runs"]:
            writer.writerow(
                {
                    "case_id": c["case_id"],
                    "dataset": c["dataset"],
                    "embedding": c["embedding"],
                    "strategy": c["strategy"],
                    "variant": c.get("variant", ""),
                    "seed": r["seed"],
                    "aulc": r["aulc"],
                    "final_accuracy": r["final_accuracy"],
                    "aulc_macro_f1": r["aulc_macro_f1"],
                    "query_time_s": r["query_time_s"],
                    "train_time_s": r["train_time_s"],
                    "status": c.get("baseline", {}).get("status", ""),
                    "config_hash": c["config_hash"],
                }
            )
    return buffer.getvalue()


# --- the grid analysis: rank tests, gains, quality, correlations ---------------------------------------


def analysis_tables(analysis: GridAnalysis) -> list[Table]:
    """Friedman per embedding, pairwise post-hoc p-values, gains, quality, early IPS gain, correlations.

    The mean-rank and win/tie/loss tables come from :func:`all_tables` (the analysis's summary), not here.
    """
    tables = [friedman_table(analysis)]
    tables += [pairwise_table(stats) for stats in analysis.per_embedding.values() if stats.posthoc is not None]
    tables += [gains_table(analysis), quality_table(analysis), label_free_table(analysis)]
    tables += [early_gain_table(analysis), correlation_table(analysis)]
    return [t for t in tables if t.rows]


#: Title prefix of the dial tables (the page gives them their own section).
DIAL_PREFIX = "Quality dial: "


def dial_tables(analysis: GridAnalysis) -> list[Table]:
    """One table per dial series: per level each strategy's gain over random (and its rank)."""
    tables = [dial_table(series) for series in analysis.dials]
    return [*tables, dial_correlation_table(analysis)] if analysis.dial_correlations else tables


def dial_correlation_table(analysis: GridAnalysis) -> Table:
    """Mean within-dataset ρ of each measure with each strategy's gain along the dials."""
    strategies = sorted({c.strategy for c in analysis.dial_correlations})
    by_key = {(c.measure, c.strategy): c for c in analysis.dial_correlations}
    measures = sorted({c.measure for c in analysis.dial_correlations})
    rows = [
        [
            m,
            *(
                f"{_num(by_key[(m, s)].mean_rho, '+.2f')} ({by_key[(m, s)].n_series})" if (m, s) in by_key else ""
                for s in strategies
            ),
        ]
        for m in measures
    ]
    return Table(
        f"{DIAL_PREFIX}measures against gains within datasets",
        ["measure", *strategies],
        rows,
        note="Spearman ρ between the measure and the strategy's gain over random along one dial on one dataset "
        "(the dataset held fixed), averaged over the dial series (count in brackets). Set beside the "
        "across-cell correlations above, which mix datasets.",
    )


def dial_table(series: DialSeries) -> Table:
    from .figures.dial import level_text

    levels = [level_text(series.dial, level) for level in series.levels]
    rows: list[list[Any]] = []
    for strategy in sorted(series.gains, key=lambda s: -_finite_mean(series.gains[s])):
        cells = [
            f"{_num(g, '+.3f')} ({_num(r, '.1f')})"
            for g, r in zip(series.gains[strategy], series.ranks[strategy], strict=True)
        ]
        rows.append([strategy, *cells, _num(series.trend[strategy], "+.2f")])
    rows.append(
        [
            f"{BASELINE_STRATEGY}: AULC (rank)",
            *(
                f"{_num(a, '.3f')} ({_num(r, '.1f')})"
                for a, r in zip(
                    series.random_aulc, series.ranks.get(BASELINE_STRATEGY, [math.nan] * len(levels)), strict=True
                )
            ),
            "",
        ]
    )
    for measure in ("knn_accuracy", "linear_probe_accuracy"):
        rows.append([measure, *(_num(q.get(measure, math.nan), ".3f") for q in series.quality), ""])
    rows.append(["Kendall τ with the intact ranking", *(_num(t, "+.2f") for t in series.rank_agreement), ""])
    notes = "".join(f" {n}." for n in series.notes)
    return Table(
        f"{DIAL_PREFIX}{series.dataset} × {series.encoder}, {series.dial}"
        + (f" [{series.context}]" if series.context else ""),
        ["strategy (best mean gain first)", *levels, "trend ρ"],
        rows,
        note=f"Columns: {DIALS[series.dial]}, from the intact encoder to the most degraded. Cells: mean AULC gain "
        f"over {BASELINE_STRATEGY} on the same seeds (mean rank among all strategies over seeds, 1 = best). "
        "trend ρ: Spearman correlation of the gain with the step along the dial (negative = the advantage "
        "shrinks as the embedding degrades). knn/linear-probe accuracy: the embedding's quality at each step." + notes,
    )


def advisor_table(validation: Validation) -> Table:
    """Mean regret per embedding of the advisor and the two fixed choices (leave one dataset out)."""
    from ..advisor.validate import PICKERS

    rows: list[list[Any]] = []
    for embedding in [*validation.embeddings, None]:
        regrets = [validation.mean_regret(picker, embedding) for picker in PICKERS]
        better, same, worse = validation.wins(embedding)
        label = embedding if embedding is not None else "all"
        rows.append([label, regrets[0][1], *(_num(v, ".4f") for v, _ in regrets), f"{better}/{same}/{worse}"])
    notes = "".join(f" {n[:1].upper()}{n[1:].rstrip('.')}." for n in validation.notes)
    return Table(
        "Advisor: regret leave one dataset out",
        ["embedding", "cells", *PICKERS, "advisor vs best on average (better/same/worse)"],
        rows,
        note="Regret = the best strategy's mean AULC minus the pick's on a cell of a dataset the advisor was "
        "fitted without (pytest_albench.advisor: ridge regressions of each strategy's gain over random on the "
        f"label-free measures, α = {validation.alpha:g}); 'best on average' is the strategy with the largest "
        "mean gain in the same training folds. Cells without label-free measures in their records are left out."
        + notes,
    )


def _finite_mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else -math.inf


def friedman_table(analysis: GridAnalysis) -> Table:
    rows, skipped = [], []
    for label, stats in analysis.per_embedding.items():
        f, post = stats.friedman, stats.posthoc
        if f is None or stats.ranking is None:
            skipped.append(f"{label}: {'; '.join(stats.notes) or 'not enough data'}")
            continue
        rows.append(
            [
                label,
                stats.blocks,
                f.n_blocks,
                f.n_treatments,
                f"{f.statistic:.3f}",
                _p(f.p_value),
                _num(f.iman_davenport_f, ".3f"),
                _p(f.iman_davenport_p),
                _ranks_text(stats.ranking.mean_ranks, stats.ranked.order),
                post.method if post else "-",
                _num(post.critical_difference, ".3f") if post and post.critical_difference is not None else "-",
                "  ".join("[" + " ".join(g) + "]" for g in post.groups) if post else "-",
            ]
        )
    notes = [
        "χ²_F: Friedman test on AULC ranks within blocks (1 = best), tie-corrected; F_ID: its "
        "Iman–Davenport F form (Demšar 2006).",
        f"Post-hoc: {POSTHOC_METHODS[analysis.posthoc_method]}, α = {analysis.alpha:g}; shown whatever the "
        "omnibus result, so read it only where Friedman's p < α.",
        "Groups: maximal runs in mean-rank order with no significant pair inside (CD-diagram bars).",
        f"Blocks: datasets when ≥ {MIN_DATASET_BLOCKS} datasets have every strategy, else (dataset, seed) "
        "pairs (seeds of one dataset are not independent: read p-values as descriptive).",
    ]
    notes += [
        f"{label}: {note}." for label, stats in analysis.per_embedding.items() if stats.friedman for note in stats.notes
    ]
    notes += [f"Not tested: {s}." for s in skipped]
    return Table(
        "Friedman test of AULC ranks per embedding",
        [
            "embedding",
            "blocks",
            "N",
            "k",
            "χ²_F",
            "p",
            "F_ID",
            "p (F_ID)",
            "mean ranks",
            "post-hoc",
            "CD",
            "groups (best first)",
        ],
        rows,
        note=" ".join(notes),
    )


def pairwise_table(stats: EmbeddingStats) -> Table:
    """The adjusted p-value matrix of one label, strategies in the ranking's order."""
    post = stats.posthoc
    assert post is not None
    order = stats.ranked.order
    rows = [
        [a] + ["—" if a == b else _p(post.p_value(a, b)) + ("*" if post.significant(a, b) else "") for b in order]
        for a in order
    ]
    return Table(
        f"Pairwise {post.method} p-values: {stats.label}",
        ["strategy (by mean rank)", *order],
        rows,
        note=f"Adjusted p-values ({POSTHOC_METHODS[post.method]}) over {len(stats.scores)} blocks "
        f"({stats.blocks}); * = significant at α = {post.alpha:g}." + "".join(f" {n}." for n in stats.notes),
    )


def gains_table(analysis: GridAnalysis) -> Table:
    labels = sorted({g.embedding_label for g in analysis.gains})
    strategies = sorted({g.strategy for g in analysis.gains})
    cells = {(g.strategy, g.embedding_label): g for g in analysis.gains}
    rows = []
    for strategy in strategies:
        row: list[Any] = [strategy]
        for label in labels:
            g = cells.get((strategy, label))
            row.append(
                "" if g is None else f"{g.mean:+.4f} [{_num(g.low, '+.4f')}, {_num(g.high, '+.4f')}] n={g.n} {g.unit}"
            )
        rows.append(row)
    return Table(
        f"AULC gain over {BASELINE_STRATEGY} (mean [95% CI]) per embedding",
        ["strategy", *labels],
        rows,
        note=f"Gain = AULC(strategy) − AULC({BASELINE_STRATEGY}) on the same embedding, dataset and seed. "
        f"Student-t interval over per-dataset mean gains when ≥ {MIN_DATASET_BLOCKS} datasets, else "
        "over (dataset, seed) gains; n = 1 gives an unbounded interval (±inf).",
    )


def quality_table(analysis: GridAnalysis) -> Table:
    measures = [m for m in measure_names(analysis.quality) if m not in LABEL_FREE_MEASURES]
    sizes = size_names(analysis.quality)
    rows = [
        [
            embedding,
            dataset,
            *(_num(q.get(m, math.nan), ".4f") for m in measures),
            *(_num(q.get(s, math.nan), ".0f") for s in sizes),
        ]
        for (embedding, dataset), q in sorted(analysis.quality.items())
    ]
    return Table(
        "Embedding quality per (embedding, dataset), without active learning",
        ["embedding", "dataset", *measures, *sizes],
        rows,
        note="linear probe: logistic regression on the whole labeled pool, test accuracy (the AL ceiling); "
        "kNN: 5-NN cosine, test accuracy; k-means purity: k = classes on L2-normalised pool rows; "
        "silhouette: of the true labels, cosine, ≤ 2,000 pool points.",
    )


def label_free_table(analysis: GridAnalysis) -> Table:
    measures = [m for m in LABEL_FREE_MEASURES if m in measure_names(analysis.quality)]
    rows = [
        [embedding, dataset, *(_num(q.get(m, math.nan), ".3f") for m in measures)]
        for (embedding, dataset), q in sorted(analysis.quality.items())
        if any(m in q for m in measures)
    ]
    return Table(
        "Label-free measures of the unlabeled pool per (embedding, dataset)",
        ["embedding", "dataset", *measures],
        rows,
        note="Computed on the pool's embeddings alone, no label read (pytest_albench.engine.label_free says how): "
        "the measures a user has before active learning starts, and the advisor's inputs.",
    )


def early_gain_table(analysis: GridAnalysis) -> Table:
    rows = [[e, d, f"{v:+.4f}"] for (e, d), v in sorted(analysis.ips_early_gain.items())]
    return Table(
        "Early-cycle gain of a TypiClust initial pool over a random one",
        ["embedding", "dataset", "Δ accuracy"],
        rows,
        note=f"Mean over the first {analysis.early_cycles} learning-curve points of accuracy(TypiClust IPS) − "
        "accuracy(random IPS), same strategy and seed, averaged over seeds and strategies run with both.",
    )


def correlation_table(analysis: GridAnalysis) -> Table:
    rows = [[c.measure, c.target, _num(c.rho, "+.3f"), _p(c.p_value), c.n, c.note] for c in analysis.correlations]
    return Table(
        "Spearman correlation of embedding quality with AL gains",
        ["measure", "target", "ρ", "p", "n", "note"],
        rows,
        note="Over (embedding, dataset) cells with a random initial pool; p is scipy's two-sided p-value, "
        "uncorrected for the number of correlations shown.",
    )


def _ranks_text(mean_ranks: Mapping[str, float], order: Sequence[str]) -> str:
    return "  ".join(f"{s} {mean_ranks[s]:.2f}" for s in order)


def _num(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return format(value, fmt)


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"
