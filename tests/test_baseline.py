"""Baseline files and verdicts: new, stale, regressed, improved, drift, numeric, ok, and broken files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_albench.analysis.verdict import CompareSettings, compare
from pytest_albench.record import CaseRecord, check_record
from pytest_albench.storage.baselines import (
    BaselineFileError,
    baseline_from_case,
    case_file_name,
    read_baseline,
    write_baseline,
)

NUMERICS = {"cpu": "AMD EPYC", "torch_cpu_capability": "AVX512", "numpy_blas": "openblas 0.3.31 Haswell"}
ENV = {
    "versions": {"pytest-albench": "0.1.0", "torch": "2.13.0"},
    "platform": "Linux-x86_64",
    "device": "cpu",
    "numerics": NUMERICS,
}


def make_case(aulcs: list[float], config_hash: str = "abc", env: dict[str, Any] | None = None) -> CaseRecord:
    runs = [
        {
            "seed": seed,
            "aulc": a,
            "final_accuracy": a + 0.05,
            "curve": {"n_labeled": [10, 20], "accuracy": [a - 0.1, a + 0.1]},
        }
        for seed, a in enumerate(aulcs)
    ]
    return check_record(
        {
            "case_id": "test_al[bbc_news-minilm-l6-margin]",
            "nodeid": "b/test_x.py::test_al[bbc_news-minilm-l6-margin]",
            "dataset": "bbc_news",
            "embedding": "minilm-l6",
            "strategy": "margin",
            "profile": "smoke",
            "config": {"strategy": "margin"},
            "config_hash": config_hash,
            "runs": runs,
            "environment": env or ENV,
        },
        "make_case",
    )


SETTINGS = CompareSettings(tolerance=0.01, alpha=0.05, test="ttest")


def test_missing_baseline_is_new() -> None:
    assert compare(make_case([0.8, 0.8, 0.8]), None, SETTINGS).status == "new"


def test_changed_configuration_is_stale_not_compared() -> None:
    stored = baseline_from_case(make_case([0.8, 0.8, 0.8], config_hash="old"))
    verdict = compare(make_case([0.5, 0.5, 0.5], config_hash="new"), stored, SETTINGS)
    assert verdict.status == "stale" and "--albench-update=all" in verdict.message


def test_identical_rerun_is_ok() -> None:
    case = make_case([0.80, 0.81, 0.79])
    assert compare(case, baseline_from_case(case), SETTINGS).status == "ok"


def test_consistent_drop_beyond_tolerance_regresses_with_per_seed_message() -> None:
    stored = baseline_from_case(make_case([0.80, 0.81, 0.79]))
    verdict = compare(make_case([0.75, 0.77, 0.73]), stored, SETTINGS)
    assert verdict.status == "regressed"
    for text in ("0.8000", "0.7500", "-0.0500", "tolerance 0.0100", "paired t-test", "p ="):
        assert text in verdict.message
    assert verdict.details["p_worse"] < 0.05


def test_drop_within_tolerance_is_not_a_regression_but_same_env_drift() -> None:
    stored = baseline_from_case(make_case([0.80, 0.81, 0.79]))
    verdict = compare(make_case([0.795, 0.805, 0.785]), stored, SETTINGS)
    assert verdict.status == "drift"


def test_noisy_drop_that_is_not_significant_is_not_a_regression() -> None:
    stored = baseline_from_case(make_case([0.80, 0.80, 0.80]))
    other_env = {**ENV, "device": "cuda:0 (GPU)"}
    verdict = compare(make_case([0.70, 0.90, 0.74], env=other_env), stored, SETTINGS)
    assert verdict.status == "ok"  # mean drop 0.013 > tolerance but p is large; other env: no drift


def test_consistent_gain_is_improved() -> None:
    stored = baseline_from_case(make_case([0.70, 0.71, 0.69]))
    assert compare(make_case([0.80, 0.80, 0.79]), stored, SETTINGS).status == "improved"


def test_baseline_round_trip_and_file_name(tmp_path: Path) -> None:
    case = make_case([0.8, 0.7, 0.6])
    path = tmp_path / "b" / case_file_name(case["case_id"])
    write_baseline(path, case)
    stored = read_baseline(path)
    assert stored is not None and stored["per_seed"]["1"]["aulc"] == 0.7
    assert stored["mean_curve"]["accuracy"] == pytest.approx([0.6, 0.8])
    assert case_file_name("test_al[glue/sst2-e-s]") != case_file_name("test_al[glue_sst2-e-s]")
    assert "/" not in case_file_name("test_al[glue/sst2-e-s]")


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (json.dumps({"format_version": 99}), "format version"),
        (json.dumps({"format_version": 1, "per_seed": {}}), "lacks"),
        (json.dumps({"format_version": 1, "config_hash": "a", "environment": {}, "per_seed": {"x": {}}}), "malformed"),
    ],
)
def test_broken_baseline_file_names_the_file(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(content)
    with pytest.raises(BaselineFileError, match=match) as info:
        read_baseline(path)
    assert str(path) in str(info.value)


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    case = make_case([0.8])
    path = tmp_path / "case.json"
    write_baseline(path, case)
    bad = copy.deepcopy(case)
    bad["runs"][0]["aulc"] = float("nan")  # not valid JSON: the write must fail and keep the old file
    with pytest.raises(ValueError):
        write_baseline(path, bad)
    assert read_baseline(path)["per_seed"]["0"]["aulc"] == 0.8
    assert [p.name for p in tmp_path.iterdir()] == ["case.json"]


@pytest.mark.parametrize(
    "current, stored, status",
    [
        ([0.8, 0.8, 0.8], None, "new"),
        ([0.5, 0.5, 0.5], "other", "stale"),  # carries the baseline's configuration
        ([0.75, 0.77, 0.73], "abc", "regressed"),  # carries the paired test
        ([0.80, 0.81, 0.79], "abc", "ok"),
    ],
)
def test_every_verdict_fits_the_case_record_and_json(current: list[float], stored: str | None, status: str) -> None:
    """The verdict is stored in the case record: it must pass the record's reader and survive JSON."""
    baseline = None if stored is None else baseline_from_case(make_case([0.80, 0.81, 0.79], config_hash=stored))
    case = make_case(current)
    case["baseline"] = compare(case, baseline, SETTINGS).to_dict()
    again = json.loads(json.dumps(case, allow_nan=False))
    assert check_record(again, "verdict") == case
    assert again["baseline"]["status"] == status


def test_same_software_on_other_numerics_is_numeric_not_drift() -> None:
    stored = baseline_from_case(make_case([0.80, 0.80, 0.80]))
    other_cpu = {**ENV, "numerics": {**NUMERICS, "torch_cpu_capability": "AVX2"}}
    verdict = compare(make_case([0.795, 0.805, 0.785], env=other_cpu), stored, SETTINGS)
    assert verdict.status == "numeric"
    assert "torch_cpu_capability: 'AVX512' -> 'AVX2'" in verdict.message
    assert "floating-point rounding, not by code" in verdict.message


def test_a_baseline_without_numerics_cannot_blame_the_code() -> None:
    legacy = {k: v for k, v in ENV.items() if k != "numerics"}
    stored = baseline_from_case(make_case([0.80, 0.80, 0.80], env=legacy))
    verdict = compare(make_case([0.795, 0.805, 0.785]), stored, SETTINGS)
    assert verdict.status == "numeric"
    assert "does not record the CPU and BLAS" in verdict.message


def _with_data(case: CaseRecord, **data: Any) -> CaseRecord:
    case["data"] = {
        "dataset_fingerprint": "aaa",
        "pool_source_rows": [1, 2, 3],
        "test_size": 10,
        "embedding_identity": {"kind": "st", "model": "m", "weights": "w1"},
        **data,
    }
    return case


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"dataset_fingerprint": "bbb"}, "the dataset's content changed (fingerprint aaa -> bbb)"),
        ({"pool_source_rows": [1, 2, 4]}, "the pool's rows changed"),
        (
            {"embedding_identity": {"kind": "st", "model": "m", "weights": "w2"}},
            "the encoder changed (model=m, weights=w1 -> model=m, weights=w2)",
        ),
    ],
)
def test_changed_inputs_make_the_baseline_stale_and_say_which(change: dict[str, Any], says: str) -> None:
    stored = baseline_from_case(_with_data(make_case([0.80, 0.80, 0.80])))
    verdict = compare(_with_data(make_case([0.80, 0.80, 0.80]), **change), stored, SETTINGS)
    assert verdict.status == "stale"
    assert says in verdict.message
    same = compare(_with_data(make_case([0.80, 0.80, 0.80])), stored, SETTINGS)
    assert same.status == "ok"


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "true", "false", "null", '"0.8"'])
def test_non_finite_or_boolean_baseline_values_are_refused(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "b.json"
    write_baseline(path, make_case([0.8, 0.8, 0.8]))
    text = path.read_text().replace('"aulc": 0.8', f'"aulc": {bad}', 1)
    path.write_text(text)
    before = path.read_bytes()
    with pytest.raises(BaselineFileError, match=r"per_seed\['0'\]\.aulc is .*expected a finite number"):
        read_baseline(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda b: b.update(environment="x"), r"environment is a string \('x'\), expected an object"),
        (lambda b: b["environment"].update(numerics=[1]), r"environment\.numerics is a list, expected an object"),
        (lambda b: b.update(inputs="x"), r"inputs is a string \('x'\), expected an object"),
        (lambda b: b.update(inputs=None), r"inputs is null, expected an object"),
        (lambda b: b["per_seed"]["0"].update(aulc=5.0), r"per_seed\['0'\]\.aulc is 5\.0, expected a score in \[0, 1\]"),
        (lambda b: b["per_seed"]["0"].update(final_accuracy=-0.5), r"final_accuracy is -0\.5, expected a score"),
    ],
)
def test_ill_typed_parts_a_verdict_reads_are_refused(tmp_path: Path, change: Any, problem: str) -> None:
    """The review's cases: each gave an AttributeError in the verdict, or passed a baseline it should not."""
    path = tmp_path / "b.json"
    write_baseline(path, make_case([0.8, 0.8, 0.8]))
    stored = json.loads(path.read_text())
    change(stored)
    path.write_text(json.dumps(stored))
    with pytest.raises(BaselineFileError, match=problem) as info:
        read_baseline(path)
    assert str(path) in str(info.value) and "--albench-update=new" in str(info.value)


def test_a_baseline_without_inputs_or_numerics_still_reads(tmp_path: Path) -> None:
    """Older baselines lack inputs, and environments without numerics exist: the verdict says so."""
    path = tmp_path / "b.json"
    write_baseline(path, make_case([0.8, 0.8, 0.8], env={**ENV, "numerics": None}))
    stored = json.loads(path.read_text())
    del stored["inputs"]
    path.write_text(json.dumps(stored))
    assert read_baseline(path) is not None
