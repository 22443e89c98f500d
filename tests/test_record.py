"""The case record (``pytest_albench.record``): built once, checked on reading, stable through JSON and files."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytester_grid import CONFTEST, TEST_FILE, load_json, run
from synthetic_results import results_document as synthetic_document

from pytest_albench.errors import AlbenchError
from pytest_albench.record import (
    RECORD_VERSION,
    CaseRecord,
    RecordError,
    RunSummary,
    case_record,
    check_record,
    version_of,
)
from pytest_albench.storage.atomic import write_json_atomic
from pytest_albench.storage.results_file import ResultsFileError, load_results, results_document

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
#: A results file written by pytest-albench before records carried a version (520 cases).
LOCAL_SUITE = REPO / "docs" / "local-suite" / "default-smoke" / "results.json.gz"  # written before record_version


def make_run(seed: int, aulc: float) -> RunSummary:
    return {
        "seed": seed,
        "aulc": aulc,
        "final_accuracy": aulc + 0.05,
        "aulc_macro_f1": aulc - 0.02,
        "query_time_s": 0.01,
        "train_time_s": 0.02,
        "total_time_s": 0.05,
        "curve": {
            "n_labeled": [10, 20, 30],
            "accuracy": [aulc - 0.1, aulc, aulc + 0.05],
            "macro_f1": [aulc - 0.12, aulc - 0.02, aulc + 0.03],
        },
        "initial_pool": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3],
        "selected": [[], list(range(10)), list(range(10, 20))],
    }


def make_record(**changes: Any) -> CaseRecord:
    """A record as the plugin builds it, from numpy-flavoured parts like the engine's."""
    parts: dict[str, Any] = {
        "nodeid": "b/test_x.py::test_al[bbc_news-tfidf-lsa-margin]",
        "case_id": "test_al[bbc_news-tfidf-lsa-margin]",
        "dataset": "bbc_news",
        "embedding": "tfidf-lsa",
        "strategy": "margin",
        "variant": "ips=typiclust",
        "profile": "smoke",
        "config": {
            "dataset": "bbc_news",
            "strategy": "margin",
            "cycles": 2,
            "max_pool": None,
            "head_params": {},
            "budget_schedule": None,
        },
        "config_hash": "0123456789abcdef",
        "seeds": (0, 1),
        "runs": [make_run(0, 0.8), make_run(1, 0.75)],
        "environment": {
            "versions": {"pytest-albench": "0.1.0", "torch": "2.13.0+cpu"},
            "platform": "Linux-x86_64",
            "python_implementation": "cpython",
            "device": "cpu (x86_64, 2 threads)",
        },
        "data": {
            "name": "bbc_news × tfidf-lsa",
            "dim": np.int64(64),
            "pool_size": 300,
            "pool_source_rows": [np.int64(i) for i in range(5)],
            "dataset_source": Path("/data/bbc"),
            "embedding_identity": {"kind": "tfidf", "settings": {"k": 64}},
        },
        "quality": {"n_pool": 300, "linear_probe_accuracy": np.float64(0.9), "silhouette": float("nan")},
    }
    parts.update(changes)
    return case_record(**parts)


def document_with(case: Any) -> str:
    return json.dumps({"format_version": 1, "profile": "smoke", "seeds": [0], "cases": [case], "missing": []})


class TestBuilding:
    def test_a_built_record_carries_the_version_and_only_builtins(self) -> None:
        record = make_record()
        assert record["record_version"] == RECORD_VERSION and version_of(record) == RECORD_VERSION
        assert record["seeds"] == [0, 1]
        assert type(record["data"]["dim"]) is int and record["data"]["pool_source_rows"] == [0, 1, 2, 3, 4]
        assert record["data"]["dataset_source"] == "/data/bbc"
        assert record["quality"] == {"n_pool": 300, "linear_probe_accuracy": 0.9, "silhouette": None}

    def test_a_wrong_part_fails_when_built_naming_the_field(self) -> None:
        bad_run = {**make_run(0, 0.8), "seed": np.int64(0)}  # an engine value that was not made a builtin
        expected = r"built for b/test_x\.py::.*: case test_al.*: runs\[0\]\.seed is a int64 .*expected an integer"
        with pytest.raises(RecordError, match=expected):
            make_record(runs=[bad_run])


class TestRoundTrips:
    def test_through_json(self) -> None:
        record = make_record()
        again = json.loads(json.dumps(record, allow_nan=False))
        assert again == record
        assert check_record(again, "json") == record

    def test_through_a_results_file(self, tmp_path: Path) -> None:
        first, second = make_record(), make_record(nodeid="b/test_x.py::a", case_id="a")
        path = tmp_path / "results.json"
        write_json_atomic(path, results_document("smoke", [0, 1], [first, second], ["b/test_x.py::lost"]))
        loaded = load_results(path)
        assert loaded.cases == [second, first]  # in node-id order, each exactly as built
        assert loaded.seeds == (0, 1) and loaded.missing == ["b/test_x.py::lost"]


class TestChecking:
    @pytest.mark.parametrize("key", ["nodeid", "case_id", "dataset", "embedding", "strategy", "runs"])
    def test_a_missing_required_field_is_named(self, key: str) -> None:
        record: dict[str, Any] = copy.deepcopy(dict(make_record()))
        del record[key]
        with pytest.raises(RecordError, match=rf"^results file r\.json: case .* lacks '{key}'$"):
            check_record(record, "results file r.json")

    @pytest.mark.parametrize("key", ["seed", "aulc", "final_accuracy"])
    def test_a_missing_run_field_is_named_with_the_run(self, key: str) -> None:
        record: dict[str, Any] = copy.deepcopy(dict(make_record()))
        del record["runs"][1][key]
        with pytest.raises(RecordError, match=rf"case test_al\[bbc_news-tfidf-lsa-margin\]: runs\[1\] lacks '{key}'"):
            check_record(record, "f")

    @pytest.mark.parametrize(
        "path, value, message",
        [
            ("dataset", 3, "dataset is an integer (3), expected a string"),
            ("runs", {}, "runs is an object, expected a list"),
            ("runs.0.aulc", "0.8", "runs[0].aulc is a string ('0.8'), expected a number"),
            ("runs.1.seed", True, "runs[1].seed is a boolean (True), expected an integer"),
            (
                "runs.0.curve.n_labeled",
                [10, 20.5],
                "runs[0].curve.n_labeled[1] is a number (20.5), expected an integer",
            ),
            ("runs.0.selected.1", "all", "runs[0].selected[1] is a string ('all'), expected a list"),
            ("quality.silhouette", "n/a", "quality.silhouette is a string ('n/a'), expected a number or null"),
            ("data.pool_source_rows", "all", "data.pool_source_rows is a string ('all'), expected a list or null"),
            ("environment.versions", {"torch": 2}, "environment.versions.torch is an integer (2), expected a string"),
            ("baseline", "new", "baseline is a string ('new'), expected an object"),
            ("baseline", {"status": "new"}, "baseline lacks 'message'"),
            ("baseline", {"status": None, "message": "m"}, "baseline.status is null, expected a string"),
            ("write_baseline", "yes", "write_baseline is a string ('yes'), expected true or false"),
            ("record_version", "1", "record_version is a string ('1'), expected an integer"),
            ("config", [], "config is a list, expected an object"),
        ],
    )
    def test_an_ill_typed_field_is_named(self, path: str, value: Any, message: str) -> None:
        record = _with(make_record(), path, value)
        with pytest.raises(RecordError) as info:
            check_record(record, "results file r.json")
        assert str(info.value) == f"results file r.json: case test_al[bbc_news-tfidf-lsa-margin]: {message}"

    @pytest.mark.parametrize(
        "path, value",
        [
            ("runs.0.aulc", 1),  # an integer is a fine number
            ("quality.knn_accuracy", None),
            ("data.pool_source_rows", None),
            ("baseline", {"status": "stale", "message": "m", "baseline_config": None}),
            ("some_future_field", {"anything": [1, "x"]}),  # kept, not checked: a newer writer may add fields
            ("environment.gpu", "H200"),
        ],
    )
    def test_what_the_record_allows_is_accepted(self, path: str, value: Any) -> None:
        record = _with(make_record(), path, value)
        assert check_record(record, "f") is record

    def test_a_case_that_is_not_an_object_or_has_no_runs(self) -> None:
        with pytest.raises(RecordError, match=r"^f: case #4 is a list, not an object$"):
            check_record([1], "f", index=4)
        with pytest.raises(RecordError, match=r"case test_al\S* has no runs"):
            check_record(_with(make_record(), "runs", []), "f")

    def test_record_errors_are_albench_errors(self) -> None:
        assert issubclass(RecordError, AlbenchError)

    def test_a_results_file_names_itself_and_the_field(self, tmp_path: Path) -> None:
        path = tmp_path / "r.json"
        path.write_text(document_with(_with(make_record(), "runs.0.final_accuracy", [0.7])))
        with pytest.raises(ResultsFileError) as info:
            load_results(path)
        assert str(info.value) == (
            f"results file {path}: case test_al[bbc_news-tfidf-lsa-margin]: "
            "runs[0].final_accuracy is a list, expected a number"
        )

    @pytest.mark.parametrize(
        "path, value, message",
        [
            ("runs.0.curve.accuracy", [0.5], "runs[0].curve has 3 n_labeled but 1 accuracy values"),
            ("runs.1.curve.n_labeled", [1, 2], "runs[1].curve has 2 n_labeled but 3 accuracy values"),
            ("runs.0.curve.macro_f1", [0.5, 0.6], "runs[0].curve has 3 n_labeled but 2 macro_f1 values"),
            ("runs.0.aulc", float("inf"), "runs[0].aulc is inf, expected a score in [0, 1]"),
            ("runs.0.aulc", 5.0, "runs[0].aulc is 5.0, expected a score in [0, 1]"),
            ("runs.1.final_accuracy", -0.1, "runs[1].final_accuracy is -0.1, expected a score in [0, 1]"),
            ("runs.0.aulc_macro_f1", float("-inf"), "runs[0].aulc_macro_f1 is -inf, expected a score in [0, 1]"),
        ],
    )
    def test_a_well_typed_run_that_cannot_be_is_named(self, path: str, value: Any, message: str) -> None:
        """A curve that the figures' zip(strict=True) would crash on, and AULCs no curve can have."""
        with pytest.raises(RecordError) as info:
            check_record(_with(make_record(), path, value), "results file r.json")
        assert str(info.value).startswith(f"results file r.json: case test_al[bbc_news-tfidf-lsa-margin]: {message}")

    @pytest.mark.parametrize("value", [float("nan"), 0, 1, 1.0 + 1e-12])
    def test_scores_at_the_edges_or_undefined_are_accepted(self, value: float) -> None:
        record = _with(make_record(), "runs.0.aulc", value)
        assert check_record(record, "f") is record

    def test_infinity_in_a_results_file_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "r.json"
        path.write_text(document_with(_with(make_record(), "runs.0.aulc", float("inf"))))
        assert "Infinity" in path.read_text()  # what Python's json writes, and reads back
        with pytest.raises(ResultsFileError, match=r"runs\[0\]\.aulc is inf, expected a score in \[0, 1\]"):
            load_results(path)


class TestVersions:
    def test_a_record_without_a_version_is_version_1(self) -> None:
        record: dict[str, Any] = dict(make_record())
        del record["record_version"]
        assert version_of(check_record(record, "f")) == 1
        assert "record_version" not in record  # read as it is: nothing is added

    @pytest.mark.parametrize(
        "version, message",
        [
            (RECORD_VERSION + 1, f"has record_version {RECORD_VERSION + 1}, newer than this pytest-albench reads"),
            (0, "has record_version 0; versions start at 1"),
        ],
    )
    def test_an_unknown_version_is_refused(self, version: int, message: str) -> None:
        with pytest.raises(RecordError, match=message):
            check_record(_with(make_record(), "record_version", version), "f")

    def test_the_committed_local_suite_results_load(self) -> None:
        """Written before the version field existed: every case still passes the checked reader."""
        raw = json.loads(gzip.decompress(LOCAL_SUITE.read_bytes()))
        assert all("record_version" not in case for case in raw["cases"])
        loaded = load_results(LOCAL_SUITE)
        assert len(loaded.cases) == len(raw["cases"]) == 520
        assert loaded.cases == raw["cases"] and {version_of(c) for c in loaded.cases} == {1}

    def test_the_synthetic_report_results_load(self, tmp_path: Path) -> None:
        document = synthetic_document()
        path = tmp_path / "r.json"
        path.write_text(json.dumps(document))
        assert load_results(path).cases == document["cases"]


def test_a_real_plugin_run_writes_checked_versioned_records(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One real case, run twice: the record with a new baseline (written), then with a full ``ok`` verdict."""
    monkeypatch.delenv("ALBENCH_TEST_WORSEN", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_grid=TEST_FILE)
    pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    run(pytester, "-k", "random", "--albench-update=new", f"--albench-json={first}").assert_outcomes(passed=1)
    run(pytester, "-k", "random", "--albench-compare=strict", f"--albench-json={second}").assert_outcomes(passed=1)
    records = []
    for path in (first, second):
        (case,) = load_json(path)["cases"]
        records.append(check_record(case, str(path)))
        assert case["record_version"] == RECORD_VERSION
        assert load_results(path).cases == [case]
    new, ok = records
    assert new["baseline"]["status"] == "new" and new["baseline"]["written"] == "baseline written"
    assert new["write_baseline"] is True and Path(new["baseline_path"]).is_file()
    assert ok["baseline"]["status"] == "ok" and ok["baseline"]["seeds"] == ok["seeds"] == [0, 1, 2]
    assert _without_times(ok["runs"]) == _without_times(new["runs"])  # the same points picked, the same AULCs
    assert ok["variant"] == "" and ok["quality"].get("n_pool") == 300


def _without_times(runs: list[RunSummary]) -> list[dict[str, Any]]:
    return [{k: v for k, v in run.items() if not k.endswith("time_s")} for run in runs]


def _with(record: CaseRecord, path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``record`` with the field at ``path`` (dots; digits index lists) set to ``value``."""
    out: dict[str, Any] = copy.deepcopy(dict(record))
    *parents, last = path.split(".")
    target: Any = out
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return out


def test_strategy_params_are_part_of_the_variant() -> None:
    from pytest_albench.record import variant_label

    assert variant_label({}) == ""
    assert variant_label({"initial_pool_method": "typiclust"}) == "ips=typiclust"
    assert (
        variant_label({"strategy_params": {"k_neighbors": 5, "alphas": (0.1, 0.2)}}) == "alphas=0.1,0.2 k_neighbors=5"
    )
    assert variant_label({"head": "mlp", "strategy_params": {}}) == "head=mlp"
