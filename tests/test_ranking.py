"""One ranking (issue #11, item 4): every table, digest and figure shows the same strategy order.

The grid is built so that the two rules the package once had disagree. On ``tfidf-lsa`` only two
datasets are complete, so the blocks are (dataset, seed) pairs; ranking per-dataset means instead (the
old mean-rank table) puts margin first, because one lucky seed lifts its mean. On ``minilm-l6``
typiclust ran on two of three datasets: the old mean-rank table dropped it (strategies run
everywhere), the tests kept it (the datasets where every strategy ran). The test first checks that
the grid really is such a case, then that every place that shows an order shows the one ranking.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy.stats import rankdata
from synthetic_results import results_document

from pytest_albench.analysis import GridAnalysis, analyze, summarize
from pytest_albench.report.figures.heatmap import heatmap_grid, heatmap_ranks
from pytest_albench.report.page import RunInfo, build_page, friedman_summary
from pytest_albench.report.tables import Table, mean_rank_table, render_markdown, render_text

SEED_BLOCKED = "tfidf-lsa"
PARTIAL = "minilm-l6"
#: AULC per seed on each of trec6 and sst2 for SEED_BLOCKED. Per-dataset means: margin 0.66, random 0.60,
#: typiclust 0.55. Seed ranks: seed 0 margin, random, typiclust; seed 1 random, typiclust, margin;
#: seed 2 random, margin, typiclust. Mean ranks over the 6 blocks: random 4/3, margin 2, typiclust 8/3.
AULCS = {"margin": (0.90, 0.50, 0.58), "random": (0.60, 0.60, 0.60), "typiclust": (0.55, 0.55, 0.55)}
EXPECTED = {SEED_BLOCKED: ["random", "margin", "typiclust"]}
NAME = re.compile(r"([a-z_]+) \d+\.\d\d")


def disagreeing_grid() -> list[dict[str, Any]]:
    cases = []
    for case in results_document()["cases"]:
        if case["variant"]:
            continue
        if case["embedding"] == SEED_BLOCKED and case["dataset"] in ("trec6", "sst2"):
            for run, value in zip(case["runs"], AULCS[case["strategy"]], strict=True):
                run["aulc"] = value
            cases.append(case)
        elif case["embedding"] == PARTIAL and not (case["strategy"] == "typiclust" and case["dataset"] == "ag_news"):
            cases.append(case)
    return cases


def old_rule_order(cases: list[dict[str, Any]], embedding: str) -> list[str]:
    """What the old mean-rank table showed: strategies run on every dataset, ranked by per-dataset means."""
    cells = [c for c in cases if c["embedding"] == embedding]
    datasets = sorted({c["dataset"] for c in cells})
    strategies = sorted(set.intersection(*({c["strategy"] for c in cells if c["dataset"] == d} for d in datasets)))
    means = {(c["dataset"], c["strategy"]): np.mean([r["aulc"] for r in c["runs"]]) for c in cells}
    scores = np.array([[means[(d, s)] for s in strategies] for d in datasets])
    ranks = rankdata(-scores, axis=1).mean(axis=0)
    return [s for _, s in sorted(zip(ranks, strategies, strict=True))]


@pytest.fixture(scope="module")
def grid() -> tuple[list[dict[str, Any]], GridAnalysis]:
    cases = disagreeing_grid()
    return cases, analyze(cases)


def named_order(text: str) -> list[str]:
    """``"random 1.33  margin 2.00"`` → ``["random", "margin"]``."""
    return NAME.findall(text)


def rank_rows(table: Table) -> dict[str, list[str]]:
    """Label → order from a mean-rank table's last column."""
    return {row[0]: named_order(row[-1]) for row in table.rows}


def page_tables(cases: list[dict[str, Any]], analysis: GridAnalysis) -> dict[str, Table]:
    page = build_page(cases, [], RunInfo((), (), ()), analysis=analysis)
    return {t.title: t for s in page.sections for b in s.blocks for t in b.tables}


def test_the_grid_is_one_where_the_old_rules_disagree(grid: tuple[list[dict[str, Any]], GridAnalysis]) -> None:
    cases, analysis = grid
    assert old_rule_order(cases, SEED_BLOCKED) == ["margin", "random", "typiclust"]
    assert old_rule_order(cases, PARTIAL) == ["margin", "random"]  # typiclust left out
    assert analysis.summary.rankings[SEED_BLOCKED].blocks == "dataset×seed"
    assert analysis.summary.rankings[SEED_BLOCKED].order == EXPECTED[SEED_BLOCKED]
    assert analysis.summary.rankings[SEED_BLOCKED].ranking.mean_ranks == pytest.approx(  # type: ignore[union-attr]
        {"random": 4 / 3, "margin": 2.0, "typiclust": 8 / 3}
    )
    assert set(analysis.summary.rankings[PARTIAL].order) == {"margin", "random", "typiclust"}


def test_every_table_digest_and_figure_shows_the_one_order(
    grid: tuple[list[dict[str, Any]], GridAnalysis], tmp_path: Path
) -> None:
    from pytest_albench.plugin.hooks import grid_report_lines

    cases, analysis = grid
    expected = {label: r.order for label, r in analysis.summary.rankings.items()}
    assert expected[SEED_BLOCKED] == EXPECTED[SEED_BLOCKED] and len(expected[PARTIAL]) == 3
    shown: dict[str, dict[str, list[str]]] = {}

    summary = summarize(cases)
    shown["mean-rank table"] = rank_rows(mean_rank_table(summary))
    text = render_text(cases, [], summary)
    shown["terminal text"] = {
        label: named_order(line)
        for line in text.splitlines()
        for label in expected
        if line.startswith(label) and NAME.search(line)
    }
    markdown = render_markdown(cases, [])
    shown["Markdown file"] = {
        label: named_order(line)
        for line in markdown.splitlines()
        for label in expected
        if line.startswith(f"| {label} ") and NAME.search(line)
    }

    tables = page_tables(cases, analysis)
    shown["page mean-rank table"] = rank_rows(
        tables["Mean rank of each strategy across datasets (1 = best AULC), per embedding (protocol: default)"]
    )
    friedman = tables["Friedman test of AULC ranks per embedding"]
    shown["page Friedman table"] = {row[0]: named_order(row[8]) for row in friedman.rows}
    # One CD group per label (no pair differs on 6 blocks), listed in rank order.
    shown["page CD groups"] = {row[0]: row[-1].strip("[]").split() for row in friedman.rows}
    shown["page pairwise matrix"] = {
        label: tables[f"Pairwise wilcoxon-holm p-values: {label}"].headers[1:] for label in expected
    }

    digest = friedman_summary(analysis)
    shown["Friedman digest"] = {row[0]: row[-1].split() for row in digest.rows}
    lines = grid_report_lines(SimpleNamespace(plots_dir=None), cases, [], summary)  # type: ignore[arg-type]
    printed = "\n".join(lines)
    shown["plugin digest lines"] = {
        label: next(line for line in printed.splitlines() if line.startswith(label)).split()[-3:] for label in expected
    }

    ranks = heatmap_ranks(analysis)
    shown["heatmap rows"] = {label: heatmap_grid({label: ranks[label]})[0] for label in expected}
    shown["CD diagram ranks"] = {
        label: sorted(es.posthoc.mean_ranks, key=lambda s: (es.posthoc.mean_ranks[s], s))
        for label, es in analysis.per_embedding.items()
        if es.posthoc is not None
    }

    for where, orders in shown.items():
        assert orders == expected, where


def test_a_session_ranks_and_counts_wins_once(
    grid: tuple[list[dict[str, Any]], GridAnalysis], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin's terminal tables, Markdown file, digest and report page all read one summary."""
    import pytest_albench.analysis.summary as summary_module
    from pytest_albench.plugin.hooks import grid_report_lines
    from pytest_albench.report.page import write_report

    cases, _ = grid
    calls = []
    counted = summary_module.win_tie_loss_rows
    monkeypatch.setattr(
        summary_module, "win_tie_loss_rows", lambda *args, **kwargs: calls.append(1) or counted(*args, **kwargs)
    )
    summary = summarize(cases)
    render_text(cases, [], summary)
    render_markdown(cases, [], summary)
    grid_report_lines(SimpleNamespace(plots_dir=None), cases, [], summary)  # type: ignore[arg-type]
    write_report(tmp_path, cases, [], RunInfo((), (), ()), plot_formats=(), summary=summary)
    assert len(calls) == 1
    assert "Pairwise wins/ties/losses" in (tmp_path / "report.md").read_text()
