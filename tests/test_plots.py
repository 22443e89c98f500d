"""Figures of a grid (issue #5): every kind is written, readable, and byte-identical on a rerun."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
from synthetic_results import results_document

from pytest_albench.report import figures as plots
from pytest_albench.analysis.grid import analyze

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_svg(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "<svg" in text[:1000] and text.rstrip().endswith("</svg>")
    assert "<dc:date>" not in text, "no date in the metadata, so reruns give the same bytes"


@pytest.fixture(scope="module")
def grid() -> tuple[list[dict], object]:
    cases = results_document()["cases"]
    return cases, analyze(cases)


class TestEveryFigure:
    def test_the_grid_gives_heatmap_cd_gain_and_curve_figures_in_png_and_svg(
        self, grid: tuple[list[dict], object], tmp_path: Path
    ) -> None:
        cases, analysis = grid
        figures = plots.draw_figures(cases, analysis, tmp_path, ("png", "svg"))
        names = sorted(p.name for f in figures for p in f.paths)
        assert "rank-heatmap.png" in names and "rank-heatmap.svg" in names
        assert {"cd-tfidf-lsa.png", "cd-minilm-l6.png", "cd-minilm-l6_ips_typiclust.png"} <= set(names)
        assert {"gain-vs-linear_probe_accuracy.png", "gain-vs-silhouette.svg"} <= set(names)
        assert {"curves-trec6.png", "curves-sst2.svg", "curves-ag_news.png"} <= set(names)
        for figure in figures:
            for path in figure.paths:
                assert path.stat().st_size > 1000
                png_size(path) if path.suffix == ".png" else assert_svg(path)
            assert figure.caption and figure.section

    def test_a_rerun_writes_byte_identical_files(self, grid: tuple[list[dict], object], tmp_path: Path) -> None:
        cases, analysis = grid
        subset = [c for c in cases if c["dataset"] == "trec6"]
        first = plots.learning_curve_figures(subset, tmp_path / "a", ("png", "svg"))
        first += [plots.rank_heatmap({"e": {"x": 1.0, "y": 2.0}}, tmp_path / "a", ("png", "svg"))]
        second = plots.learning_curve_figures(subset, tmp_path / "b", ("png", "svg"))
        second += [plots.rank_heatmap({"e": {"x": 1.0, "y": 2.0}}, tmp_path / "b", ("png", "svg"))]
        for a, b in zip(first, second):
            for pa, pb in zip(a.paths, b.paths):
                assert pa.read_bytes() == pb.read_bytes(), pa.name

    def test_the_cd_diagram_names_the_test_and_draws_the_nemenyi_cd(self, tmp_path: Path) -> None:
        ranks = {"margin": 1.4, "badge": 1.9, "random": 3.1, "bald": 3.6}
        figure = plots.cd_diagram("minilm-l6", ranks, [("margin", "badge"), ("random", "bald")], tmp_path, ("svg",),
                                  method="nemenyi", alpha=0.05, critical_difference=1.48, friedman_p=0.004,
                                  blocks="10 datasets")
        text = figure.paths[0].read_text()
        assert figure.caption.endswith("the red bar is the Nemenyi critical difference (1.48).")
        assert "Nemenyi test" in figure.caption
        assert_svg(figure.paths[0])
        assert text.count("<path") > 10

    def test_a_large_grid_stays_a_readable_size(self, tmp_path: Path) -> None:
        """11 strategies × 5 embeddings × 2 IPS variants on one dataset: one figure, legend outside."""
        template = results_document()["cases"][0]
        cases = [
            {**template, "embedding": e, "strategy": s, "variant": v}
            for e in plots.LADDER for s in [f"strategy{i}" for i in range(10)] + ["random"]
            for v in ("ips=random", "ips=typiclust")
        ]
        [figure] = plots.learning_curve_figures(cases, tmp_path, ("png",))
        width, height = png_size(figure.paths[0])
        assert 1200 < width < 2200 and 400 < height < 1200


class TestHelpers:
    def test_embeddings_are_ordered_weakest_first_then_by_name(self) -> None:
        names = ["zeta", "minilm-l6 [ips=typiclust]", "minilm-l6 [ips=random]", "tfidf-lsa", "alpha", "glove-50d"]
        assert plots.embedding_order(names) == [
            "tfidf-lsa", "glove-50d", "minilm-l6 [ips=random]", "minilm-l6 [ips=typiclust]", "alpha", "zeta",
        ]
        assert plots.embedding_order(names, ["zeta", "minilm-l6"])[:3] == ["zeta", "minilm-l6 [ips=random]",
                                                                           "minilm-l6 [ips=typiclust]"]

    def test_mean_curve_averages_the_seeds_that_reached_each_point(self) -> None:
        case = {"runs": [
            {"curve": {"n_labeled": [10, 20, 30], "accuracy": [0.5, 0.6, 0.7]}},
            {"curve": {"n_labeled": [10, 20], "accuracy": [0.7, 0.8]}},
        ]}
        xs, mean, std, seeds = plots.mean_curve(case)
        assert xs.tolist() == [10, 20, 30] and seeds == 2
        assert mean.tolist() == pytest.approx([0.6, 0.7, 0.7])
        assert std[2] == 0.0 and std[0] == pytest.approx(0.1414, abs=1e-4)

    def test_without_matplotlib_the_error_says_how_to_install_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        with pytest.raises(plots.PlotsUnavailableError, match=r"pip install 'pytest-albench\[plots\]'"):
            plots.require_matplotlib()

    def test_an_unknown_format_is_refused_with_the_choices(self) -> None:
        with pytest.raises(plots.AlbenchError, match="choose one of png, svg, both"):
            plots.formats_for("pdf")
