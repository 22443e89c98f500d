"""The one-page report (issue #5): contents, escaping, folding, the no-matplotlib path, and the plugin's
``--albench-plots`` option end to end."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from markdown_tables import table_mapping
from pytester_grid import run
from synthetic_results import results_document

from pytest_albench.report.page import RunInfo, build_page, write_report
from pytest_albench.report.render import render_html, render_markdown

INFO = RunInfo(sources=("results/run.json",), profiles=("smoke",), seeds=(0, 1, 2))


def cases() -> list[dict]:
    return results_document()["cases"]


class TestContents:
    def test_the_page_says_what_was_run_and_holds_every_table(self, tmp_path: Path) -> None:
        outcome = write_report(tmp_path, cases(), [], INFO, plot_formats=())
        markdown = (tmp_path / "report.md").read_text()
        assert [p.name for p in outcome.pages] == ["report.md", "report.html"] and not outcome.figures
        expected = {
            "results from": "results/run.json",
            "cases": "30",
            "datasets": "3: ag_news, sst2, trec6",
            "embeddings": "2: tfidf-lsa, minilm-l6",
            "strategies": "3: margin, random, typiclust",
            "variants": "ips=typiclust",
            "version: torch": "2.13.0+cpu",
            "devices": "cpu (x86_64, 1 threads)",
        }
        run_table = table_mapping(markdown, "Run")  # cells, not tabulate's padding
        assert {item: run_table.get(item) for item in expected} == expected
        for title in (
            "Mean rank of each strategy across datasets",
            "Friedman test of AULC ranks per embedding",
            "AULC gain over random",
            "Embedding quality per (embedding, dataset)",
            "Early-cycle gain of a TypiClust initial pool",
            "Spearman correlation of embedding quality",
            "Pairwise wins/ties/losses",
            "AULC ranking: minilm-l6 / trec6 [ips=typiclust]",
        ):
            assert f"### {title}" in markdown, title
        assert (
            markdown.index("## Ranks") < markdown.index("## Statistics across datasets") < markdown.index("## Details")
        )

    def test_many_cells_and_pairwise_matrices_are_folded(self) -> None:
        from pytest_albench.analysis.grid import analyze

        markdown = render_markdown(build_page(cases(), [], INFO, analysis=analyze(cases())), Path("."))
        assert "<details><summary>AULC ranking per embedding × dataset (12 tables)</summary>" in markdown
        assert "<details><summary>Pairwise post-hoc p-values (4 embeddings)</summary>" in markdown

    def test_html_escapes_every_name(self) -> None:
        grid = cases()
        for case in grid:
            if case["strategy"] == "typiclust":
                case["strategy"] = "typi<script>&"
        page = build_page(grid, ["test_x.py::test[<b>]"], INFO)
        text = render_html(page, Path("."))
        assert "typi&lt;script&gt;&amp;" in text and "<script>" not in text
        assert "test_x.py::test[&lt;b&gt;]" in text
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")

    def test_figures_are_linked_relative_to_the_page(self, tmp_path: Path) -> None:
        pytest.importorskip("matplotlib")
        outcome = write_report(
            tmp_path, [c for c in cases() if c["dataset"] != "ag_news"], [], INFO, plot_formats=("png", "svg")
        )
        markdown = (tmp_path / "report.md").read_text()
        html = (tmp_path / "report.html").read_text()
        images = re.findall(r"!\[(?:\\.|[^\]\\])*\]\(([^)]+)\)", markdown)
        assert images and all(not Path(i).is_absolute() and (tmp_path / i).is_file() for i in images)
        assert (
            "![Mean rank heatmap](figures/rank-heatmap.png)" in markdown
            and "([SVG](figures/rank-heatmap.svg))" in markdown
        )
        assert '<img src="figures/curves-sst2.png"' in html and '<a href="figures/curves-sst2.svg">SVG</a>' in html
        assert len(outcome.figures) == len(images) * 2


class TestWithoutMatplotlib:
    def test_the_tables_are_written_with_a_warning_that_says_how_to_get_figures(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        outcome = write_report(tmp_path, cases(), [], INFO, plot_formats=("png",))
        [warning] = outcome.warnings
        assert "figures need matplotlib, which is not installed; pip install 'pytest-albench[plots]'" in warning
        assert not (tmp_path / "figures").exists() and not outcome.figures
        markdown = (tmp_path / "report.md").read_text()
        assert "No figures: figures need matplotlib" in markdown and "### Friedman test" in markdown

    def test_the_command_warns_and_still_succeeds(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from synthetic_results import write_results

        from pytest_albench.report.cli import main

        monkeypatch.setitem(sys.modules, "matplotlib", None)
        assert main([str(write_results(tmp_path / "r.json")), "--out", str(tmp_path / "out"), "--format", "md"]) == 0
        err = capsys.readouterr().err
        assert "albench-report: warning: figures need matplotlib" in err and "pytest-albench[plots]" in err
        assert (tmp_path / "out" / "report.md").is_file() and not (tmp_path / "out" / "report.html").exists()


PLUGIN_CONFTEST = '''
import numpy as np
from pytest_albench import register_strategy

@register_strategy("first", needs=())
def first(inputs, batch_size, rng):
    """The lowest unlabeled indices: a cheap deterministic strategy that is not random."""
    return np.flatnonzero(~inputs.labeled.cpu().numpy())[:batch_size]
'''

PLUGIN_TESTS = """
import pytest
from pytest_albench import cases

TINY = dict(max_pool=200, max_test=200, cycles=2, initial_pool_size=10, query_size=10)

@pytest.mark.parametrize("dataset,embedding,strategy", cases(["bbc_news"], ["tfidf-lsa"], ["random", "first"]))
def test_al(albench, dataset, embedding, strategy):
    albench(dataset, embedding, strategy, **TINY)
"""


class TestPluginOption:
    def test_albench_plots_writes_the_report_and_the_summary_shows_friedman(
        self, pytester: pytest.Pytester, tmp_path: Path
    ) -> None:
        pytest.importorskip("matplotlib")
        pytester.makeconftest(PLUGIN_CONFTEST)
        pytester.makepyfile(test_tiny=PLUGIN_TESTS)
        pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
        out = tmp_path / "report"
        result = run(
            pytester,
            "--albench-compare=off",
            "--albench-seeds=0,1",
            f"--albench-plots={out}",
            "--albench-plot-format=svg",
        )
        result.assert_outcomes(passed=2)
        result.stdout.fnmatch_lines(
            [
                "Friedman test and post-hoc top group per embedding",
                "*tfidf-lsa*2 dataset×seed*2*",
                f"albench: report written to {out / 'report.md'}",
                f"albench: report written to {out / 'report.html'}",
            ]
        )
        assert "AULC ranking: tfidf-lsa / bbc_news" in (out / "report.md").read_text()
        svgs = sorted(p.name for p in (out / "figures").iterdir())
        assert "curves-bbc_news.svg" in svgs and "rank-heatmap.svg" in svgs
        assert all(name.endswith(".svg") for name in svgs)

    def test_ini_keys_set_the_folder_and_format_and_a_bad_format_is_a_usage_error(
        self, pytester: pytest.Pytester
    ) -> None:
        pytester.makeini("[pytest]\nalbench_plots = out\nalbench_plot_format = both\n")
        pytester.makepyfile("""
def test_settings(request):
    from pytest_albench.plugin.hooks import SETTINGS_KEY
    settings = request.config.stash[SETTINGS_KEY]
    assert settings.plots_dir == str(request.config.rootpath / "out")
    assert settings.plot_format == "both"
""")
        pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
        bad = pytester.runpytest("--albench-plot-format=pdf")
        assert bad.ret == pytest.ExitCode.USAGE_ERROR
        bad.stderr.fnmatch_lines(["*--albench-plot-format: invalid value 'pdf'; choose one of png, svg, both*"])
