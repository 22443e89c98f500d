"""Figures of a grid (issue #5): every kind is written, readable, byte-identical on a rerun, and
draws the numbers it claims to (the drawn figures are captured on their way to the file)."""

from __future__ import annotations

import struct
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import rankdata
from synthetic_results import results_document

from pytest_albench.analysis.grid import analyze
from pytest_albench.embeddings import LADDER
from pytest_albench.report import figures as plots
from pytest_albench.report.figures import critical_difference, curves, gain, heatmap

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


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """File stem -> the matplotlib Figure written there, for every figure drawn in the test."""
    figures: dict[str, Any] = {}
    for module in (curves, heatmap, critical_difference, gain):
        real = module.save

        def capture(fig: Any, stem: Path, formats: Any, real: Any = real) -> tuple[Path, ...]:
            figures[stem.name] = fig
            return real(fig, stem, formats)

        monkeypatch.setattr(module, "save", capture)
    yield figures


def texts(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.texts]


def seed_means(cases: list[dict]) -> dict[tuple[str, str, str], float]:
    """(embedding label, dataset, strategy) -> mean AULC over seeds, straight from the records."""
    out = {}
    for case in cases:
        label = case["embedding"] + (f" [{case['variant']}]" if case["variant"] else "")
        out[(label, case["dataset"], case["strategy"])] = float(np.mean([r["aulc"] for r in case["runs"]]))
    return out


def expected_mean_ranks(cases: list[dict]) -> dict[str, dict[str, float]]:
    """Rank the strategies within each dataset (3 complete datasets: datasets are the blocks), 1 = best."""
    means = seed_means(cases)
    by_label: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for (label, dataset, strategy), value in means.items():
        by_label[label][dataset][strategy] = value
    out = {}
    for label, by_dataset in by_label.items():
        strategies = sorted(next(iter(by_dataset.values())))
        ranks = np.array([rankdata([-by_dataset[d][s] for s in strategies]) for d in sorted(by_dataset)])
        out[label] = dict(zip(strategies, ranks.mean(axis=0).tolist(), strict=True))
    return out


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
        cases, _ = grid
        subset = [c for c in cases if c["dataset"] == "trec6"]
        first = plots.learning_curve_figures(subset, tmp_path / "a", ("png", "svg"))
        first += [plots.rank_heatmap({"e": {"x": 1.0, "y": 2.0}}, tmp_path / "a", ("png", "svg"))]
        second = plots.learning_curve_figures(subset, tmp_path / "b", ("png", "svg"))
        second += [plots.rank_heatmap({"e": {"x": 1.0, "y": 2.0}}, tmp_path / "b", ("png", "svg"))]
        for a, b in zip(first, second, strict=True):
            for pa, pb in zip(a.paths, b.paths, strict=True):
                assert pa.read_bytes() == pb.read_bytes(), pa.name

    def test_the_cd_diagram_names_the_test_and_draws_the_nemenyi_cd(
        self, tmp_path: Path, drawn: dict[str, Any]
    ) -> None:
        ranks = {"margin": 1.4, "badge": 1.9, "random": 3.1, "bald": 3.6}
        figure = plots.cd_diagram(
            "minilm-l6",
            ranks,
            [("margin", "badge"), ("random", "bald")],
            tmp_path,
            ("svg",),
            method="nemenyi",
            alpha=0.05,
            critical_difference=1.48,
            friedman_p=0.004,
            blocks="10 datasets",
        )
        assert figure.caption.endswith("the red bar is the Nemenyi critical difference (1.48).")
        assert "Nemenyi test" in figure.caption
        assert_svg(figure.paths[0])
        [ax] = drawn["cd-minilm-l6"].axes
        assert ax.get_title() == "minilm-l6 (10 datasets): Friedman p = 0.004; Nemenyi test, α = 0.05"
        # Each strategy's leader line starts on the rank axis (y = 0) at its mean rank, and its label
        # gives that rank: the better half hangs left, the rest right.
        leaders = {round(float(line.get_xdata()[0]), 6): line for line in ax.lines if len(line.get_xdata()) == 3}
        assert sorted(leaders) == sorted(ranks.values())
        for name, rank in ranks.items():
            line = leaders[rank]
            assert list(line.get_xdata()[:2]) == [rank, rank] and line.get_ydata()[0] == 0
            [label] = [t for t in ax.texts if t.get_text() == f"{name} ({rank:.2f})"]
            assert label.get_ha() == ("right" if name in ("margin", "badge") else "left")
        # Two thick bars join each group from its best to its worst mean rank (± 0.04).
        bars = sorted(tuple(np.round(line.get_xdata(), 6)) for line in ax.lines if line.get_linewidth() == 3.5)
        assert bars == [(1.36, 1.94), (3.06, 3.64)]
        # The red critical-difference bar starts at rank 1 and is CD long.
        [cd] = [
            line
            for line in ax.lines
            if line.get_color() == "firebrick"
            and len(line.get_xdata()) == 2
            and line.get_ydata()[0] == line.get_ydata()[1]
        ]
        assert list(cd.get_xdata()) == pytest.approx([1.0, 2.48])
        assert "CD = 1.48" in texts(ax)

    def test_a_large_grid_stays_a_readable_size(self, tmp_path: Path) -> None:
        """11 strategies × 5 embeddings × 2 IPS variants on one dataset: one figure, legend outside."""
        template = results_document()["cases"][0]
        cases = [
            {**template, "embedding": e, "strategy": s, "variant": v}
            for e in LADDER
            for s in [f"strategy{i}" for i in range(10)] + ["random"]
            for v in ("ips=random", "ips=typiclust")
        ]
        [figure] = plots.learning_curve_figures(cases, tmp_path, ("png",))
        width, height = png_size(figure.paths[0])
        assert 1200 < width < 2200 and 400 < height < 1200


class TestDrawnValues:
    """The numbers in the figures are the numbers of the records, checked on the drawn artists."""

    def test_the_heatmap_cells_are_the_strategies_mean_ranks(
        self, grid: tuple[list[dict], object], tmp_path: Path, drawn: dict[str, Any]
    ) -> None:
        cases, analysis = grid
        plots.draw_figures(cases, analysis, tmp_path, ("png",))
        [ax, _colorbar] = drawn["rank-heatmap"].axes
        expected = expected_mean_ranks(cases)
        columns = ["tfidf-lsa", "minilm-l6"]  # ladder order; the 2-strategy IPS labels are not on this scale
        rows = [t.get_text() for t in ax.get_yticklabels()]
        assert sorted(rows) == sorted(expected["minilm-l6"])
        assert [t.get_text().split("\n")[0] for t in ax.get_xticklabels()] == columns
        cells = np.array([[expected[e][s] for e in columns] for s in rows])
        assert np.asarray(ax.images[0].get_array()) == pytest.approx(cells)
        assert texts(ax) == [f"{v:.2f}" for v in cells.ravel()]
        means = cells.mean(axis=1)
        assert list(means) == sorted(means), "rows are sorted best (lowest mean rank) first"

    def test_a_heatmap_of_known_ranks_sorts_rows_and_marks_missing_cells(
        self, tmp_path: Path, drawn: dict[str, Any]
    ) -> None:
        ranks = {
            "e1": {"zeta": 1.0, "mid": 2.0, "alpha": 3.5, "beta": 3.5},
            "glove-50d": {"zeta": 2.0, "mid": 1.5, "alpha": 2.5},
        }
        plots.rank_heatmap(ranks, tmp_path, ("png",), blocks={"e1": "4 datasets"})
        [ax, _colorbar] = drawn["rank-heatmap"].axes
        assert [t.get_text() for t in ax.get_yticklabels()] == ["zeta", "mid", "alpha", "beta"]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["glove-50d", "e1\n(4 datasets)"]
        image = np.ma.filled(ax.images[0].get_array(), np.nan)
        assert image == pytest.approx(np.array([[2.0, 1.0], [1.5, 2.0], [2.5, 3.5], [np.nan, 3.5]]), nan_ok=True)
        assert texts(ax) == ["2.00", "1.00", "1.50", "2.00", "2.50", "3.50", "–", "3.50"]

    def test_each_curve_is_the_mean_over_seeds_with_a_one_sd_band(
        self, grid: tuple[list[dict], object], tmp_path: Path, drawn: dict[str, Any]
    ) -> None:
        cases, _ = grid
        trec = [c for c in cases if c["dataset"] == "trec6"]
        plots.learning_curve_figures(trec, tmp_path, ("png",))
        panels = {ax.get_title(): ax for ax in drawn["curves-trec6"].axes if ax.get_title()}
        assert sorted(panels) == sorted({c["embedding"] + (f" [{c['variant']}]" if c["variant"] else "") for c in trec})
        for case in trec:
            ax = panels[case["embedding"] + (f" [{case['variant']}]" if case["variant"] else "")]
            accuracy = np.array([r["curve"]["accuracy"] for r in case["runs"]])
            mean, sd = accuracy.mean(axis=0), accuracy.std(axis=0, ddof=1)
            index = [line.get_label() for line in ax.lines].index(case["strategy"])
            line, band = ax.lines[index], ax.collections[index]
            assert list(line.get_xdata()) == case["runs"][0]["curve"]["n_labeled"]
            assert line.get_ydata() == pytest.approx(mean)
            edges = band.get_paths()[0].vertices
            first = edges[np.isclose(edges[:, 0], 10.0)][:, 1]
            assert (first.min(), first.max()) == pytest.approx((mean[0] - sd[0], mean[0] + sd[0]))

    def test_the_gain_points_are_aulc_minus_random_against_quality(
        self, grid: tuple[list[dict], object], tmp_path: Path, drawn: dict[str, Any]
    ) -> None:
        from scipy.stats import spearmanr

        cases, analysis = grid
        plots.draw_figures(cases, analysis, tmp_path, ("png",))
        means = seed_means(cases)
        quality = {(c["embedding"], c["dataset"]): c["quality"]["linear_probe_accuracy"] for c in cases}
        panels = {ax.get_title().split("\n")[0]: ax for ax in drawn["gain-vs-linear_probe_accuracy"].axes}
        for strategy in ("margin", "typiclust"):
            expected = sorted(
                (quality[(e, d)], means[(e, d, strategy)] - means[(e, d, "random")])
                for (e, d, s) in means
                if s == strategy and " [" not in e  # the default treatments' cells
            )
            ax = panels[strategy]
            points = sorted(tuple(xy) for c in ax.collections for xy in c.get_offsets().tolist())
            assert np.array(points) == pytest.approx(np.array(expected))
            # Gains equal up to float noise are ties (two cells here), as the analysis sees them.
            rho = spearmanr(*np.round(np.array(expected).T, 10)).statistic
            assert f"Spearman ρ = {rho:+.2f}" in ax.get_title() and f"(n = {len(expected)})" in ax.get_title()


class TestHelpers:
    def test_embeddings_are_ordered_weakest_first_then_by_name(self) -> None:
        names = ["zeta", "minilm-l6 [ips=typiclust]", "minilm-l6 [ips=random]", "tfidf-lsa", "alpha", "glove-50d"]
        assert plots.embedding_order(names) == [
            "tfidf-lsa",
            "glove-50d",
            "minilm-l6 [ips=random]",
            "minilm-l6 [ips=typiclust]",
            "alpha",
            "zeta",
        ]
        assert plots.embedding_order(names, ["zeta", "minilm-l6"])[:3] == [
            "zeta",
            "minilm-l6 [ips=random]",
            "minilm-l6 [ips=typiclust]",
        ]

    def test_mean_curve_averages_the_seeds_that_reached_each_point(self) -> None:
        case = {
            "runs": [
                {"curve": {"n_labeled": [10, 20, 30], "accuracy": [0.5, 0.6, 0.7]}},
                {"curve": {"n_labeled": [10, 20], "accuracy": [0.7, 0.8]}},
            ]
        }
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
