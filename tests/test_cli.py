"""``albench-report`` / ``python -m pytest_albench report``: rebuild the report from saved results (issue #5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from synthetic_results import results_document, write_results

from pytest_albench.report.cli import main
from pytest_albench.storage.results_file import ResultsFileError, load_and_merge, load_results

#: A results file with one case ``x`` that has every required field but its runs (``RUNS``).
CASE_X = (
    '{"format_version": 1, "cases": [{"case_id": "x", "nodeid": "t.py::x", "dataset": "d", "embedding": "e", '
    '"strategy": "s", "runs": RUNS}]}'
)


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


class TestLoading:
    def test_a_valid_file_loads_with_its_profile_and_seeds(self, tmp_path: Path) -> None:
        loaded = load_results(write_results(tmp_path / "r.json"))
        assert loaded.profile == "smoke" and loaded.seeds == (0, 1, 2)
        assert len(loaded.cases) == 2 * 3 * 3 + 2 * 3 * 2

    def test_a_gzipped_file_loads_like_the_plain_one(self, tmp_path: Path) -> None:
        import gzip

        plain = write_results(tmp_path / "r.json")
        packed = tmp_path / "r.json.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        assert load_results(packed).cases == load_results(plain).cases
        cut = tmp_path / "cut.json.gz"
        cut.write_bytes(packed.read_bytes()[:40])
        with pytest.raises(ResultsFileError, match=r"cut\.json\.gz cannot be read"):
            load_results(cut)

    @pytest.mark.parametrize(
        "content, problem",
        [
            ('{"format_version": 1, "cases": [', "is not valid JSON"),
            ('{"cases": []}', "has no 'format_version'"),
            ('{"format_version": 7, "cases": []}', "has format_version 7"),
            ('{"format_version": 1}', "has no 'cases' list"),
            ("[1, 2]", "holds a JSON list"),
            (
                '{"format_version": 1, "cases": [{"case_id": "x"}]}',
                "case x lacks 'nodeid', 'dataset', 'embedding', 'strategy', 'runs'",
            ),
            ('{"format_version": 1, "cases": [3]}', "case #0 is an integer"),
            (CASE_X.replace("RUNS", '[{"seed": 0}]'), r"case x: runs\[0\] lacks 'aulc', 'final_accuracy'"),
            (
                CASE_X.replace("RUNS", '[{"seed": 0, "aulc": "0.8", "final_accuracy": 0.7}]'),
                r"case x: runs\[0\]\.aulc is a string \('0\.8'\), expected a number",
            ),
            (CASE_X.replace("RUNS", "[]"), "case x has no runs"),
            (CASE_X.replace("RUNS", "{}"), "case x: runs is an object"),
        ],
    )
    def test_a_bad_file_is_named_with_its_problem(self, tmp_path: Path, content: str, problem: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(ResultsFileError, match=problem) as info:
            load_results(path)
        assert str(path) in str(info.value)

    @pytest.mark.parametrize(
        "changes, problem",
        [
            ({"seeds": 5}, r"'seeds' is an integer \(5\), expected a list of integers"),
            ({"seeds": "abc"}, r"'seeds' is a string \('abc'\), expected a list of integers"),
            ({"seeds": ["a"]}, r"seeds\[0\] is a string \('a'\), expected a list of integers"),
            ({"seeds": [None]}, r"seeds\[0\] is null, expected a list of integers"),
            ({"seeds": [0.5, 1.7]}, r"seeds\[0\] is a number \(0\.5\), expected a list of integers"),
            ({"seeds": [True]}, r"seeds\[0\] is a boolean \(True\), expected a list of integers"),
            ({"missing": 3}, r"'missing' is an integer \(3\), expected a list of strings"),
            ({"missing": None}, r"'missing' is null, expected a list of strings"),
            ({"missing": "abc"}, r"'missing' is a string \('abc'\), expected a list of strings"),
            ({"missing": [1]}, r"missing\[0\] is an integer \(1\), expected a list of strings"),
            ({"profile": [1]}, r"'profile' is a list, expected a string"),
        ],
    )
    def test_ill_typed_top_level_fields_are_named(self, tmp_path: Path, changes: dict[str, Any], problem: str) -> None:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({**results_document(), **changes}))
        with pytest.raises(ResultsFileError, match=rf"^results file {path}: {problem}$"):
            load_results(path)

    def test_absent_or_null_seeds_are_the_runs_seeds(self, tmp_path: Path) -> None:
        document = results_document()
        for seeds in (None, []):
            path = tmp_path / "s.json"
            path.write_text(json.dumps({**document, "seeds": seeds}))
            assert load_results(path).seeds == (0, 1, 2)
        del document["seeds"], document["missing"], document["profile"]
        path.write_text(json.dumps(document))
        loaded = load_results(path)
        assert (loaded.seeds, loaded.missing, loaded.profile) == ((0, 1, 2), [], "?")

    def test_the_same_case_in_two_files_is_an_error_without_labels(self, tmp_path: Path) -> None:
        a, b = write_results(tmp_path / "a.json"), write_results(tmp_path / "b.json")
        with pytest.raises(ResultsFileError, match=r"is in both .*a\.json and .*b\.json.*--label"):
            load_and_merge([str(a), str(b)])

    def test_labels_put_runs_side_by_side_as_variants(self, tmp_path: Path) -> None:
        a, b = write_results(tmp_path / "a.json"), write_results(tmp_path / "b.json")
        merged = load_and_merge([], [f"old={a}", f"new={b}"])
        assert len(merged.cases) == 2 * len(results_document()["cases"])
        variants = {c["variant"] for c in merged.cases}
        assert variants == {"run=old", "run=new", "ips=typiclust run=old", "ips=typiclust run=new"}

    @pytest.mark.parametrize("label, problem", [("old", "use NAME=FILE"), ("a b=x.json", "must be letters")])
    def test_a_malformed_label_says_the_accepted_form(self, label: str, problem: str) -> None:
        with pytest.raises(ResultsFileError, match=problem):
            load_and_merge([], [label])


class TestCommand:
    def test_corrupt_input_exits_2_naming_the_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        bad = tmp_path / "cut.json"
        bad.write_text('{"format_version": 1, "cases": [{"case_id"')
        assert run_cli(bad, "--out", tmp_path / "out") == 2
        err = capsys.readouterr().err
        assert f"albench-report: error: results file {bad} is not valid JSON" in err
        assert "Traceback" not in err
        assert not (tmp_path / "out").exists()

    def test_missing_version_exits_2_naming_the_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        doc = results_document()
        del doc["format_version"]
        path = tmp_path / "old.json"
        path.write_text(json.dumps(doc))
        assert run_cli(path, "--out", tmp_path / "out") == 2
        assert f"results file {path} has no 'format_version'" in capsys.readouterr().err

    @pytest.mark.parametrize("merge", [False, True])
    def test_ill_typed_seeds_exit_2_without_a_traceback(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], merge: bool
    ) -> None:
        path = tmp_path / "seeds_int.json"
        path.write_text(json.dumps({**results_document(), "seeds": 5}))
        args = ["--merge", path] if merge else [path, "--out", tmp_path / "out", "--plots", "none"]
        assert run_cli(*args) == 2
        err = capsys.readouterr().err
        expected = f"results file {path}: 'seeds' is an integer (5), expected a list of integers"
        assert err == f"albench-report: error: {expected}\n"

    def test_a_curve_of_unequal_lengths_exits_2_before_any_figure(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = results_document()
        document["cases"][3]["runs"][0]["curve"]["accuracy"] = [0.5]
        path = tmp_path / "curve_short.json"
        path.write_text(json.dumps(document))
        assert run_cli(path, "--out", tmp_path / "x2", "--plots", "png") == 2
        err = capsys.readouterr().err
        case_id = document["cases"][3]["case_id"]
        assert f"results file {path}: case {case_id}: runs[0].curve has 6 n_labeled but 1 accuracy values" in err
        assert "Traceback" not in err and not (tmp_path / "x2").exists()

    def test_a_file_that_does_not_exist_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_cli(tmp_path / "nope.json", "--out", tmp_path / "out") == 2
        assert "nope.json does not exist" in capsys.readouterr().err

    def test_bad_usage_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            run_cli(tmp_path / "r.json", "--out", tmp_path, "--alpha", "2")
        assert info.value.code == 2
        assert "--alpha: 2.0 must lie strictly between 0 and 1" in capsys.readouterr().err

    def test_no_input_file_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_cli("--out", tmp_path) == 2
        assert "no results files given" in capsys.readouterr().err

    def test_python_dash_m_runs_the_report_command(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.json"
        bad.write_text("{}")
        command = [sys.executable, "-m", "pytest_albench", "report", str(bad), "--out", str(tmp_path / "o")]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 2
        assert f"python -m pytest_albench report: error: results file {bad} has no 'format_version'" in done.stderr
        unknown = subprocess.run(
            [sys.executable, "-m", "pytest_albench", "plot"], capture_output=True, text=True, check=False
        )
        assert unknown.returncode == 2 and "unknown command 'plot'" in unknown.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One results file and the report the command builds from it (PNG and SVG figures)."""
    pytest.importorskip("matplotlib")
    root = tmp_path_factory.mktemp("cli")
    results = write_results(root / "results.json")
    assert main([str(results), "--out", str(root / "report"), "--plots", "both"]) == 0
    return results, root / "report"


class TestReport:
    def test_the_report_and_its_figures_are_written(self, built: tuple[Path, Path]) -> None:
        results, out = built
        markdown = (out / "report.md").read_text()
        html = (out / "report.html").read_text()
        assert str(results) in markdown and "### Friedman test of AULC ranks per embedding" in markdown
        assert "<h3>Friedman test of AULC ranks per embedding</h3>" in html
        figures = sorted((out / "figures").iterdir())
        pngs = [p for p in figures if p.suffix == ".png"]
        svgs = [p for p in figures if p.suffix == ".svg"]
        assert len(pngs) == len(svgs) >= 10
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        assert all(b"<svg" in p.read_bytes()[:1000] for p in svgs)
        assert all(f"figures/{p.name}" in markdown and f"figures/{p.name}" in html for p in figures)

    def test_a_rebuild_is_byte_identical(self, built: tuple[Path, Path], tmp_path: Path) -> None:
        results, out = built
        again = tmp_path / "again"
        assert main([str(results), "--out", str(again), "--plots", "both"]) == 0
        first = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
        assert first == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
        for relative in first:
            assert (out / relative).read_bytes() == (again / relative).read_bytes(), relative

    def test_labelled_runs_are_compared_side_by_side(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        old = write_results(tmp_path / "old.json")
        newer = results_document()
        for case in newer["cases"]:
            for run in case["runs"]:
                run["aulc"] = round(run["aulc"] + 0.01, 4)
        new = write_results(tmp_path / "new.json", newer)
        assert (
            run_cli(
                "--label",
                f"old={old}",
                "--label",
                f"new={new}",
                "--out",
                tmp_path / "r",
                "--plots",
                "none",
                "--format",
                "md",
            )
            == 0
        )
        assert "albench-report: wrote" in capsys.readouterr().out
        markdown = (tmp_path / "r" / "report.md").read_text()
        assert f"{old} (run=old); {new} (run=new)" in markdown
        assert "| 60 " in markdown  # twice the 30 cases
        assert "### AULC ranking: minilm-l6 / trec6 [run=new]" in markdown
        assert "### AULC ranking: minilm-l6 / trec6 [ips=typiclust run=old]" in markdown
        assert "| tfidf-lsa [run=new]" in markdown and "| tfidf-lsa [run=old]" in markdown
        assert not (tmp_path / "r" / "figures").exists() and not (tmp_path / "r" / "report.html").exists()


def _as_shards(folder: Path, count: int, document: dict[str, Any] | None = None) -> list[Path]:
    """The synthetic document split into ``count`` shard files, each with the record --albench-shard writes."""
    import hashlib

    document = document or results_document()
    ids = sorted(case["nodeid"] for case in document["cases"])
    grid = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
    folder.mkdir(exist_ok=True)
    paths = []
    for k in range(count):
        own = [case for i, case in enumerate(document["cases"]) if i % count == k]
        shard = {
            "index": k,
            "count": count,
            "source": "test",
            "grid": grid,
            "grid_cases": len(ids),
            "collected": True,
            "cases": sorted(case["nodeid"] for case in own),
            "unfinished": [],
        }
        paths.append(write_results(folder / f"shard{k}.json", {**document, "cases": own, "shard": shard}))
    return paths


class TestMerge:
    """``albench-report --merge`` (issue #14); the end-to-end proof with real shards is tests/test_shard.py."""

    def test_shards_merge_into_the_unsplit_document(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        _as_shards(tmp_path / "shards", 3)
        out = tmp_path / "merged.json"
        assert run_cli("--merge", tmp_path / "shards", "--json", out, "--markdown", tmp_path / "m.md") == 0
        assert json.loads(out.read_text())["cases"] == results_document()["cases"]
        printed = capsys.readouterr().out
        assert "merged 3 shard(s)" in printed and "AULC ranking: minilm-l6 / trec6" in printed
        assert "### AULC ranking: minilm-l6 / trec6" in (tmp_path / "m.md").read_text()

    @pytest.mark.parametrize(
        "spoil, problem",
        [
            (
                lambda doc: doc["shard"]["unfinished"].append(doc["shard"]["cases"][0]),
                "shard 1/3 .* is incomplete: 1 of its 10 case",
            ),
            (lambda doc: doc["shard"].update(grid="another"), "the files are of different grids"),
            (lambda doc: doc["shard"].update(count=4), "the files are of different shard counts"),
            (lambda doc: doc["shard"].update(index=0), "shard 0/3 is in 2 files"),
            (lambda doc: doc.pop("shard"), "has no 'shard' entry"),
            (lambda doc: doc["shard"]["cases"].pop(), "holds 1 case.* that are not its own"),
        ],
    )
    def test_a_spoilt_shard_exits_2_saying_what(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil: Any, problem: str
    ) -> None:
        import re

        paths = _as_shards(tmp_path / "shards", 3)
        document = json.loads(paths[1].read_text())
        spoil(document)
        paths[1].write_text(json.dumps(document))
        assert run_cli("--merge", tmp_path / "shards") == 2
        assert re.search(problem, capsys.readouterr().err)

    @pytest.mark.parametrize(
        "flag, name, problem",
        [
            ("--json", "shards/shard0.json", "is one of the shard files being merged"),
            ("--markdown", "shards/shard1.json", "is one of the shard files being merged"),
            (
                "--json",
                "shards/merged.json",
                "is in a folder of the shards being merged, where later merges would read it",
            ),
            ("--csv", "shards/rows.json.gz", "is in a folder of the shards being merged"),
        ],
    )
    def test_an_output_over_a_shard_is_refused_before_writing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, name: str, problem: str
    ) -> None:
        """The review's data loss: --json over shard 0's own file destroyed its shard record."""
        paths = _as_shards(tmp_path / "shards", 2)
        before = {path: path.read_bytes() for path in paths}
        out, side = tmp_path / name, ("--csv" if flag == "--markdown" else "--markdown", tmp_path / "side.txt")
        assert run_cli("--merge", tmp_path / "shards", flag, out, *side) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith(f"albench-report: error: {flag} {out} {problem}")
        assert captured.err.count("\n") == 1 and not captured.out
        assert {path: path.read_bytes() for path in paths} == before
        assert not (tmp_path / "side.txt").exists() and sorted((tmp_path / "shards").iterdir()) == sorted(paths)
        assert run_cli("--merge", tmp_path / "shards") == 0  # the grid still merges

    def test_a_shard_named_as_a_file_is_protected_through_a_symlink(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        paths = _as_shards(tmp_path / "shards", 2)
        link = tmp_path / "link.json"
        link.symlink_to(paths[0])
        assert run_cli("--merge", *paths, "--json", link) == 2
        assert "is one of the shard files being merged" in capsys.readouterr().err

    def test_outputs_beside_the_shards_are_fine_when_not_read_back(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _as_shards(tmp_path / "shards", 2)
        args = ["--markdown", tmp_path / "shards" / "m.md", "--csv", tmp_path / "shards" / "rows.csv"]
        assert run_cli("--merge", tmp_path / "shards", *args, "--json", tmp_path / "merged.json") == 0
        assert run_cli("--merge", tmp_path / "shards") == 0

    def test_an_empty_folder_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert run_cli("--merge", tmp_path) == 2
        assert "no results files in" in capsys.readouterr().err

    @pytest.mark.parametrize(
        "args, message",
        [
            (["r.json", "--merge", "d"], "--merge takes the shards' folders or files itself"),
            (["r.json"], "the following arguments are required: --out"),
            (["r.json", "--out", "o", "--json", "x.json"], "--json, --markdown and --csv go with --merge"),
        ],
    )
    def test_merge_usage_errors_exit_2(self, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2 and message in capsys.readouterr().err


class TestInstallEncoder:
    """``albench-install-encoder`` (the packaged encoders' tests cover what it installs)."""

    def test_an_unpinned_hub_id_warns_once_in_one_line(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import warnings

        from pytest_albench.embeddings.install import main as install_main

        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning that escapes the command would fail here
            assert install_main(["foo/bar"]) == 0
        captured = capsys.readouterr()
        assert captured.err.count("\n") == 1 and captured.err.startswith("albench-install-encoder: warning: ")
        assert "foo/bar" in captured.err and "foo/bar needs nothing more here" in captured.out
