"""The advisor: fitting, out-of-sample errors, verified model files, LODO regret, the command."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_albench.advisor.cli import main
from pytest_albench.advisor.model import TrainingCell, fit_model, load_model
from pytest_albench.advisor.training import FEATURES, training_cells
from pytest_albench.advisor.validate import validate
from pytest_albench.errors import ConfigError

#: A grid where the better strategy depends on one feature: margin wins on clustered pools (high
#: cluster_silhouette), coreset on the others; "best on average" cannot know which pool it faces.
DATASETS = [f"d{i}" for i in range(6)]


def _features(silhouette: float, rng: np.random.Generator) -> dict[str, float]:
    values = {name: float(rng.normal()) for name in FEATURES}
    values["cluster_silhouette"] = silhouette
    return values


def _grid(seed: int = 0) -> list[TrainingCell]:
    rng = np.random.default_rng(seed)
    cells = []
    for dataset in DATASETS:
        for embedding in ("weak", "strong"):
            silhouette = float(rng.uniform(-1, 1))
            margin, coreset = 0.04 * silhouette, -0.04 * silhouette
            gains = {"margin": margin + rng.normal(0, 0.002), "coreset": coreset + rng.normal(0, 0.002)}
            aulcs = {"random": 0.6, **{s: 0.6 + g for s, g in gains.items()}}
            cells.append(TrainingCell(dataset, embedding, _features(silhouette, rng), gains, aulcs))
    return cells


def test_the_model_learns_which_pool_favours_which_strategy() -> None:
    model = fit_model(_grid(), FEATURES)
    rng = np.random.default_rng(9)
    clustered = model.predict(_features(0.9, rng))
    diffuse = model.predict(_features(-0.9, rng))
    assert clustered["margin"] > 0 > clustered["coreset"]
    assert diffuse["coreset"] > 0 > diffuse["margin"]
    assert clustered["random"] == 0.0
    assert all(0 < e < 0.03 for e in model.errors.values())  # out of sample, and still small here


def test_the_error_is_out_of_sample_not_the_fit() -> None:
    """On pure noise the in-sample fit looks fine, the leave-one-dataset-out error does not."""
    rng = np.random.default_rng(3)
    cells = [
        TrainingCell(d, e, _features(float(rng.uniform(-1, 1)), rng), {"margin": float(rng.normal(0, 0.02))}, {})
        for d in DATASETS
        for e in ("a", "b")
    ]
    model = fit_model(cells, FEATURES, alpha=1e-6)
    residuals = [model.predict(c.features)["margin"] - c.gains["margin"] for c in cells]
    in_sample = math.sqrt(float(np.mean(np.square(residuals))))
    assert model.errors["margin"] > 2 * in_sample


def test_a_model_file_is_verified_on_read(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    model = fit_model(_grid(), FEATURES)
    model.save(path)
    again = load_model(path)
    features = _features(0.5, np.random.default_rng(1))
    assert again.predict(features) == model.predict(features)
    document = json.loads(path.read_text())
    document["model"]["intercepts"]["margin"] += 0.5
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match="does not match its sha256"):
        load_model(path)
    path.write_text("{}")
    with pytest.raises(ConfigError, match="not an advisor model"):
        load_model(path)
    with pytest.raises(ConfigError, match="needs the label-free measures"):
        model.predict({"cluster_silhouette": 0.1})


def test_too_few_cells_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 3 cells"):
        fit_model(_grid()[:2], FEATURES)
    with pytest.raises(ConfigError, match="at least 3 datasets"):
        validate(_grid()[:4], FEATURES)


def test_leave_one_dataset_out_beats_the_fixed_choice_where_the_pool_decides() -> None:
    result = validate(_grid(), FEATURES)
    assert len(result.picks) == len(_grid())
    advisor, _ = result.mean_regret("advisor")
    fixed, _ = result.mean_regret("best on average")
    random, _ = result.mean_regret("always random")
    assert advisor < fixed and advisor < random
    better, same, worse = result.wins()
    assert better > worse and better + same + worse == len(result.picks)
    assert all(regret >= 0 for p in result.picks for regret in p.regrets.values())


def _case(dataset: str, embedding: str, strategy: str, aulc: float, quality: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeid": f"t::{dataset}-{embedding}-{strategy}",
        "dataset": dataset,
        "embedding": embedding,
        "strategy": strategy,
        "config": {"initial_pool_method": "random"},
        "runs": [{"seed": s, "aulc": aulc + 0.01 * s} for s in (0, 1)],
        "quality": quality,
    }


def test_training_cells_read_gains_and_measures_from_records() -> None:
    quality = dict.fromkeys(FEATURES[:-2], 0.5) | {"n_classes": 6, "dim": 384}
    cases = [
        _case("d", "e", "random", 0.6, quality),
        _case("d", "e", "margin", 0.65, quality),
        _case("d", "old", "random", 0.6, {"n_classes": 6, "dim": 384}),  # predates the measures
        _case("d", "old", "margin", 0.6, {"n_classes": 6, "dim": 384}),
        _case("x", "e", "margin", 0.6, quality),  # no random: no gains
    ]
    cells, notes = training_cells(cases)
    assert [(c.dataset, c.embedding) for c in cells] == [("d", "e")]
    assert cells[0].gains == {"margin": pytest.approx(0.05)}
    assert cells[0].features["log_classes"] == pytest.approx(math.log(6))
    assert any("no random case" in n for n in notes) and any("no label-free measures" in n for n in notes)
    remeasured, _ = training_cells(cases, measure=lambda case: quality)
    assert {(c.dataset, c.embedding) for c in remeasured} == {("d", "e"), ("d", "old")}


def test_the_command_advises_on_a_real_pool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "model.json"
    fit_model(_grid(), FEATURES).save(model_path)
    args = ["--dataset", "bbc_news", "--embedding", "tfidf-lsa", "--model", str(model_path), "--max-pool", "400"]
    assert main([*args, "--json"]) == 0
    advice = json.loads(capsys.readouterr().out)
    assert sorted(advice["ranking"]) == ["coreset", "margin", "random"]
    gains = advice["predicted_gain"]
    assert [gains[s] for s in advice["ranking"]] == sorted(gains.values(), reverse=True)
    assert all(0.0 <= p <= 1.0 for s, p in advice["p_beats_random"].items() if s != "random")
    assert advice["pool"]["rows"] == 400 and advice["pool"]["classes"] == 5
    assert set(FEATURES) <= set(advice["features"])
    assert main([*args, "--strategies", "margin,random"]) == 0
    text = capsys.readouterr().out
    assert "margin" in text and "coreset" not in text and "leave-one-dataset-out" in text
    assert main([*args, "--strategies", "nope"]) == 2
    assert "has no results for ['nope']" in capsys.readouterr().err


def test_the_shipped_model_loads_and_names_its_sources() -> None:
    from pytest_albench.advisor.advise import shipped_model

    model, where = shipped_model()
    assert where.endswith("model.json") and model.sources and model.cells
    assert set(model.features) == set(FEATURES)
    assert all(math.isfinite(e) for e in model.errors.values())


def _record(dataset: str, embedding: str, strategy: str, aulc: float, quality: dict[str, Any]) -> dict[str, Any]:
    """A complete case record (as --albench-json writes it) with the given AULC and quality."""
    from synthetic_results import _case as synthetic_case

    record = synthetic_case("trec6", "tfidf-lsa", "random", "")
    case_id = f"test_grid[{dataset}-{embedding}-{strategy}]"
    record.update(_case(dataset, embedding, strategy, aulc, quality), case_id=case_id, nodeid=f"t.py::{case_id}")
    record["config"] = {**record["config"], "dataset": dataset, "embedding": embedding, "strategy": strategy}
    record["config"]["initial_pool_method"] = "random"
    record["runs"] = [
        {**run, "aulc": aulc + 0.01 * run["seed"]} for run in synthetic_case("trec6", "tfidf-lsa", "random", "")["runs"]
    ]
    return record


def _records_grid() -> list[dict[str, Any]]:
    """Complete records of the margin-vs-coreset grid, with the label-free measures in their quality."""
    rng = np.random.default_rng(5)
    cases = []
    for dataset in DATASETS:
        for embedding in ("weak", "strong"):
            silhouette = float(rng.uniform(-1, 1))
            quality = _features(silhouette, rng) | {"n_classes": 4, "dim": 64}
            cases.append(_record(dataset, embedding, "random", 0.6, quality))
            cases.append(_record(dataset, embedding, "margin", 0.6 + 0.04 * silhouette, quality))
            cases.append(_record(dataset, embedding, "coreset", 0.6 - 0.04 * silhouette, quality))
    return cases


def test_build_and_validate_read_results_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = _records_grid()
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"format_version": 1, "cases": cases, "missing": [], "seeds": [0, 1, 2]}))
    model_path, markdown = tmp_path / "model.json", tmp_path / "lodo.md"
    assert main(["build", str(results), "--out", str(model_path)]) == 0
    assert "12 cells, 2 strategies" in capsys.readouterr().out
    model = load_model(model_path)
    assert model.sources[0]["file"] == str(results) and len(model.sources[0]["sha256"]) == 64
    assert main(["validate", str(results), "--markdown", str(markdown)]) == 0
    table = markdown.read_text()
    assert table == capsys.readouterr().out
    assert "| cluster_silhouette | -1.00 (12) | +1.00 (12) |" in table  # coreset, margin: the built-in effect
    assert "| log_classes | n/a | n/a |" in table  # constant here: no rank correlation, not an error
    overall = next(line for line in table.splitlines() if line.startswith("| **all** |"))
    advisor, fixed, random = (float(x) for x in overall.split("|")[3:6])
    assert advisor < fixed and advisor < random  # the pool decides here, and the advisor sees it
    assert main(["validate", str(tmp_path / "missing.json")]) == 2


def _results_files(tmp_path: Path) -> list[Path]:
    """The records grid split over two results files."""
    cases = _records_grid()
    paths = []
    for i, part in enumerate((cases[::2], cases[1::2])):
        path = tmp_path / f"r{i}.json"
        path.write_text(json.dumps({"format_version": 1, "cases": part, "missing": [], "seeds": [0, 1, 2]}))
        paths.append(path)
    return paths


@pytest.mark.parametrize("command, flag", [("build", "--out"), ("validate", "--markdown")])
def test_an_output_over_an_input_results_file_is_refused_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, flag: str
) -> None:
    """The review's data loss: `build ... --out` named one of the inputs and replaced it with the model."""
    paths = _results_files(tmp_path)
    before = [path.read_bytes() for path in paths]
    link = tmp_path / "link.json"
    link.symlink_to(paths[1])
    for out in (paths[1], link, tmp_path / "sub" / ".." / "r1.json"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert main([command, *map(str, paths), flag, str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"albench-advise: {flag} {out} is one of the input results files; choose another path\n"
        assert not captured.out
    assert [path.read_bytes() for path in paths] == before


def test_an_unwritable_output_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [str(p) for p in _results_files(tmp_path)]
    (tmp_path / "mdir").mkdir()
    assert main(["build", *paths, "--out", str(tmp_path / "mdir")]) == 2
    mdir = tmp_path / "mdir"
    assert (
        capsys.readouterr().err
        == f"albench-advise: --out {mdir} is a folder; give a file path, e.g. {mdir / 'model.json'}\n"
    )
    (tmp_path / "afile").write_text("")
    assert main(["build", *paths, "--out", str(tmp_path / "afile" / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"albench-advise: cannot write --out {tmp_path / 'afile' / 'm.json'}: ")
    assert err.endswith("; choose a writable path\n") and ".tmp" not in err


@pytest.mark.parametrize("device", ["bogus", "gpu", "cuda:x"])
def test_a_bad_device_is_a_usage_error_before_anything_runs(capsys: pytest.CaptureFixture[str], device: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--dataset", "bbc_news", "--embedding", "tfidf-lsa", "--device", device])
    assert info.value.code == 2
    assert f"argument --device: {device!r} is not a device; use auto, cpu, cuda or cuda:N" in capsys.readouterr().err


def test_a_missing_data_dir_is_named_not_ignored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nonexistent"
    assert main(["--dataset", "bbc_news", "--embedding", "tfidf-lsa", "--data-dir", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"albench-advise: --data-dir {missing} does not exist; pass the folder that holds <dataset>/train.csv\n"
    )
    paths = [str(p) for p in _results_files(tmp_path)]
    assert main(["validate", *paths, "--data-dir", paths[0]]) == 2
    assert f"--data-dir {paths[0]} is not a folder" in capsys.readouterr().err


def test_ill_typed_seeds_are_named_with_their_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "seeds_str.json"
    path.write_text(json.dumps({"format_version": 1, "cases": _records_grid(), "seeds": ["a"]}))
    assert main(["build", str(path), "--out", str(tmp_path / "m.json")]) == 2
    assert capsys.readouterr().err == (
        f"albench-advise: results file {path}: seeds[0] is a string ('a'), expected a list of integers\n"
    )
    assert not (tmp_path / "m.json").exists()


def test_the_holdout_benchmark_asks_first_then_runs_every_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.perf import advisor_holdout

    monkeypatch.setattr(advisor_holdout, "HOLDOUT", {"bbc_news": {"initial_pool_size": 5, "query_size": 5}})
    monkeypatch.setattr(advisor_holdout, "CAPS", {"max_pool": 150, "max_test": 100, "cycles": 1})
    monkeypatch.setattr(advisor_holdout, "SEEDS", (0,))
    out = tmp_path / "holdout.json"
    args = ["--data-dir", str(tmp_path), "--datasets", "bbc_news", "--embeddings", "tfidf-lsa", "--out", str(out)]
    assert advisor_holdout.main(args) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert set(row["aulc"]) == set(row["advised_ranking"]) and "random" in row["aulc"]
    assert row["best"] == max(row["aulc"], key=row["aulc"].get)
    pick = row["advised_ranking"][0]
    assert row["regret"]["advisor"] == pytest.approx(row["aulc"][row["best"]] - row["aulc"][pick])
    assert all(value >= 0 for value in row["regret"].values())
    assert "| bbc_news | tfidf-lsa |" in capsys.readouterr().out
    assert advisor_holdout.main(args) == 0  # resumes: the pool is not run again
    assert len(json.loads(out.read_text())["rows"]) == 1


def test_the_report_shows_the_leave_one_dataset_out_table_and_figure(tmp_path: Path) -> None:
    from pytest_albench.analysis import analyze
    from pytest_albench.report.page import RunInfo, build_page

    cases = _records_grid()
    page = build_page(cases, [], RunInfo(("x",), ("smoke",), (0, 1, 2)), analysis=analyze(cases))
    section = next(s for s in page.sections if s.title == "Advisor: leave one dataset out")
    (table,) = [b.tables[0] for b in section.blocks]
    assert [row[0] for row in table.rows] == ["strong", "weak", "all"]
    overall = table.rows[-1]
    assert overall[1] == 12 and float(overall[2]) < float(overall[3])  # the pool decides; the advisor sees it
    without = build_page(cases[:9], [], RunInfo(("x",), ("smoke",), (0, 1, 2)), analysis=analyze(cases[:9]))
    assert all(s.title != "Advisor: leave one dataset out" for s in without.sections)  # < 3 datasets
    pytest.importorskip("matplotlib")
    from pytest_albench.advisor.validate import validate_cases
    from pytest_albench.report.figures import advisor_figure

    validation = validate_cases(cases)
    assert validation is not None
    figure = advisor_figure(validation, tmp_path, ["png"])
    assert figure.section == section.title and all(p.stat().st_size > 1000 for p in figure.paths)


def test_a_written_report_validates_the_advisor_once_for_its_table_and_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    import pytest_albench.advisor.validate as validate_module
    from pytest_albench.report.page import RunInfo, write_report

    calls = []
    real = validate_module.validate_cases
    monkeypatch.setattr(validate_module, "validate_cases", lambda cases: calls.append(1) or real(cases))
    outcome = write_report(tmp_path, _records_grid(), [], RunInfo(("x",), ("smoke",), (0, 1, 2)), page_formats=("md",))
    assert len(calls) == 1
    assert any(path.name.startswith("advisor-lodo") for path in outcome.figures)
    assert "## Advisor: leave one dataset out" in (tmp_path / "report.md").read_text()
