"""The quality dial's analysis, table, page section and figure, on records with known gains."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_albench.analysis import analyze
from pytest_albench.analysis.dial import dial_of, dial_series
from pytest_albench.report.tables import dial_table

ENCODER = "enc"
#: Along the noise dial margin's gain shrinks and CoreSet's grows; random's AULC falls.
NOISE = {0.0: ENCODER, 1.0: f"{ENCODER}|noise:1|normalize", 4.0: f"{ENCODER}|noise:4|normalize"}
PCA = {8: f"{ENCODER}|pca:8", 2: f"{ENCODER}|pca:2"}
GAINS = {"margin": [0.05, 0.03, 0.01], "coreset": [-0.02, 0.0, 0.02]}
RANDOM = [0.70, 0.60, 0.50]


def _case(dataset: str, embedding: str, strategy: str, aulc: float, step: int = 0, **extra: Any) -> dict[str, Any]:
    runs = [{"seed": seed, "aulc": aulc + 0.001 * seed} for seed in (0, 1, 2)]
    return {
        "nodeid": f"t.py::test[{dataset}-{embedding}-{strategy}-{extra}]",
        "dataset": dataset,
        "embedding": embedding,
        "strategy": strategy,
        "variant": extra.pop("variant", ""),
        "config": {"initial_pool_method": extra.pop("ips", "random")},
        "runs": runs,
        "quality": {"knn_accuracy": 0.9 - 0.1 * step, "dim": 16},  # the dial degrades the embedding
        **extra,
    }


def _dial_cases(dataset: str = "d1", variant: str = "") -> list[dict[str, Any]]:
    cases = []
    for step, embedding in enumerate(NOISE.values()):
        cases.append(_case(dataset, embedding, "random", RANDOM[step], step, variant=variant))
        for strategy, gains in GAINS.items():
            cases.append(_case(dataset, embedding, strategy, RANDOM[step] + gains[step], step, variant=variant))
    for step, embedding in enumerate(PCA.values(), start=1):
        cases.append(_case(dataset, embedding, "random", RANDOM[step], step, variant=variant))
        cases.append(_case(dataset, embedding, "margin", RANDOM[step] + 0.05 - 0.01 * step, step, variant=variant))
    return cases


def test_dial_names_are_recognised_and_other_chains_are_not() -> None:
    assert dial_of("enc") == ("enc", "", pytest.approx(math.nan, nan_ok=True))
    assert dial_of("enc|noise:0.25|normalize") == ("enc", "noise", 0.25)
    assert dial_of("enc|noise:2") == ("enc", "noise", 2.0)
    assert dial_of("enc|pca:16") == ("enc", "pca", 16.0)
    assert dial_of("enc|truncate:64") == ("enc", "truncate", 64.0)
    assert dial_of("enc|whiten") is None and dial_of("enc|pca:8|noise:1") is None
    assert dial_of("enc|unknown-op") is None  # a newer results file's chain: not a dial here


def test_gains_ranks_and_trends_follow_the_dial_from_intact_to_degraded() -> None:
    series = {(s.dataset, s.dial): s for s in dial_series(_dial_cases())}
    noise = series[("d1", "noise")]
    assert noise.levels == [0.0, 1.0, 4.0] and noise.embeddings == list(NOISE.values())
    assert noise.gains["margin"] == pytest.approx(GAINS["margin"])
    assert noise.gains["coreset"] == pytest.approx(GAINS["coreset"])
    assert noise.trend["margin"] == pytest.approx(-1.0) and noise.trend["coreset"] == pytest.approx(1.0)
    assert noise.random_aulc == pytest.approx([r + 0.001 for r in RANDOM])
    assert noise.ranks["margin"] == [1.0, 1.0, 2.0] and noise.ranks["coreset"][-1] == 1.0
    assert noise.rank_agreement[0] == pytest.approx(1.0) and noise.rank_agreement[-1] < 0
    pca = series[("d1", "pca")]
    assert pca.levels == [16.0, 8.0, 2.0]  # the intact width first, then fewer dimensions
    assert pca.embeddings == [ENCODER, *PCA.values()]
    assert math.isnan(pca.gains["coreset"][1])  # not run on the pca levels: a gap, not a zero


def test_series_keep_variants_and_datasets_apart() -> None:
    cases = _dial_cases("d1") + _dial_cases("d2") + _dial_cases("d1", variant="protocol=study")
    keys = sorted((s.dataset, s.dial, s.context) for s in dial_series(cases))
    assert keys == [
        ("d1", "noise", ""),
        ("d1", "noise", "protocol=study"),
        ("d1", "pca", ""),
        ("d1", "pca", "protocol=study"),
        ("d2", "noise", ""),
        ("d2", "pca", ""),
    ]


def test_initial_pool_variants_do_not_feed_the_dial() -> None:
    cases = _dial_cases()
    cases.append(_case("d1", NOISE[4.0], "margin", 0.99, ips="typiclust"))
    noise = next(s for s in dial_series(cases) if s.dial == "noise")
    assert noise.gains["margin"][-1] == pytest.approx(GAINS["margin"][-1])


def test_the_table_and_the_page_section_show_the_dial(tmp_path: Path) -> None:
    from pytest_albench.report.page import RunInfo, build_page

    noise = next(s for s in dial_series(_dial_cases()) if s.dial == "noise")
    table = dial_table(noise)
    assert table.headers == ["strategy (best mean gain first)", "0", "1", "4", "trend ρ"]
    assert table.rows[0][:2] == ["margin", "+0.050 (1.0)"] and table.rows[0][-1] == "-1.00"
    assert table.rows[1][0] == "coreset" and table.rows[1][-1] == "+1.00"
    assert any(row[0] == "knn_accuracy" for row in table.rows)
    analysis = analyze(_dial_cases())
    page = build_page([], [], RunInfo(("x",), ("smoke",), (0, 1, 2)), analysis=analysis)
    section = next(s for s in page.sections if s.title == "Quality dial")
    assert [b.tables[0].title for b in section.blocks] == [
        "Quality dial: d1 × enc, noise",
        "Quality dial: d1 × enc, pca",
        "Quality dial: measures against gains within datasets",
    ]
    within = {(c.measure, c.strategy): c for c in analysis.dial_correlations}
    assert within[("knn_accuracy", "margin")].mean_rho == pytest.approx(1.0)  # both fall along the noise dial
    assert within[("knn_accuracy", "coreset")].mean_rho == pytest.approx(-1.0)
    assert within[("knn_accuracy", "margin")].n_series == 2  # the noise and the pca series
    assert within[("knn_accuracy", "coreset")].n_series == 1  # coreset ran on the noise dial only


def test_the_dial_figure_is_drawn_per_encoder_and_dial(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from pytest_albench.report.figures import dial_figures

    figures = dial_figures(dial_series(_dial_cases("d1") + _dial_cases("d2")), tmp_path, ["png"])
    assert [f.title for f in figures] == ["Dial: enc by noise", "Dial: enc by pca"]
    assert all(path.stat().st_size > 1000 for f in figures for path in f.paths)


def test_a_transformed_embeddings_name_does_not_split_a_markdown_cell() -> None:
    from pytest_albench.report.tables import Table

    table = Table("t", ["embedding", "x|y"], [["minilm-l6|pca:32", 1]])
    markdown = table.render("github")
    assert "minilm-l6\\|pca:32" in markdown and "x\\|y" in markdown
    assert all(line.count("|") - line.count("\\|") == 3 for line in markdown.splitlines()[2:5] if line)
    assert "minilm-l6|pca:32" in table.render("simple")  # the terminal shows the name as written
