"""Faults during a real session, injected for real: a read-only baseline folder, an unwritable output
path, a session killed with SIGKILL during ``--albench-update``, a device that does not exist, a data
folder rebuilt under a baseline, and a results file without cases.

Each test asserts the message (naming the problem and the fix) and that no stored file was lost or
changed. The sessions run the small real grid of :mod:`pytester_grid` in a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from faults import read_only
from pytester_grid import CONFTEST, TEST_FILE, run

# Imported here, at collection: the pytester fixture removes modules first imported during a test, and
# torch's C extension cannot be imported a second time in one process.
from pytest_albench.data import load_dataset
from pytest_albench.data._files import write_csv
from pytest_albench.report.cli import main as report_main

ONE_CASE = TEST_FILE.replace('["random", "mine", "entropy"]', '["random"]')


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _grid(pytester: pytest.Pytester, test_file: str = TEST_FILE) -> Path:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_grid=test_file)
    return pytester.path / "baselines" / "default" / "test_grid"


@pytest.mark.parametrize("workers", [("-p", "no:xdist"), ("-n", "2")], ids=["serial", "xdist"])
def test_read_only_baseline_folder_with_update_all_loses_no_result(
    pytester: pytest.Pytester, workers: tuple[str, str]
) -> None:
    folder = _grid(pytester, ONE_CASE.replace('["random"]', '["random", "entropy"]'))
    run(pytester, "--albench-update=new", "-p", "no:xdist").assert_outcomes(passed=2)
    before = _files(folder)
    with read_only(folder):
        result = run(pytester, *workers, "--albench-update=all", "--albench-json=out.json")
    result.assert_outcomes(passed=2)
    text = result.stdout.str()
    assert "INTERNALERROR" not in text
    assert "could not be written to" in text and "Make the folder writable or pass --albench-baseline-dir" in text
    assert "AULC ranking" in text  # the tables came
    assert len(json.loads((pytester.path / "out.json").read_text())["cases"]) == 2  # the results file came
    assert _files(folder) == before  # nothing stored was lost or changed


def test_an_unwritable_json_path_is_refused_before_any_case_runs(pytester: pytest.Pytester) -> None:
    _grid(pytester, ONE_CASE)
    locked = pytester.path / "locked"
    locked.mkdir()
    (locked / "old.json").write_text('{"kept": true}\n')
    with read_only(locked):
        result = run(pytester, "-p", "no:xdist", f"--albench-json={locked / 'old.json'}", "--albench-csv=rows.csv")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--albench-json: {locked / 'old.json'} cannot be written: no permission to create files in {locked}" in (
        result.stderr.str()
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "rows.csv").exists()  # refused at start-up: no case ran, nothing was written
    assert (locked / "old.json").read_text() == '{"kept": true}\n'


DISK_FULL = (
    CONFTEST
    + """

import errno
import pytest_albench.report.outputs as outputs


def _full(path, obj):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


outputs.write_json_atomic = _full  # the results file cannot be written: the disk is full
"""
)


def test_a_results_file_that_cannot_be_written_keeps_the_journal(pytester: pytest.Pytester) -> None:
    _grid(pytester, ONE_CASE)
    pytester.makeconftest(DISK_FULL)
    (pytester.path / "out.json").write_text('{"older": true}\n')  # an older results file at that path
    result = run(pytester, "-p", "no:xdist", "--albench-json=out.json", "--albench-csv=rows.csv")
    assert result.ret == 0
    assert "the results JSON could not be written" in result.stdout.str()
    assert "Traceback" not in result.stdout.str()
    assert (pytester.path / "rows.csv").read_text().startswith("case_id")  # the other output still came
    journal = pytester.path / "out.json.partial.jsonl"
    assert "this session's results are kept in" in result.stdout.str()
    assert _journal_cases(journal) == 1  # the session's only copy of its results survives
    assert (pytester.path / "out.json").read_text() == '{"older": true}\n'


HANGS = (
    CONFTEST
    + """

@register_strategy("hangs", needs=("proba",))
def hangs(inputs, batch_size, rng):
    import time
    time.sleep(600)
"""
)


@pytest.mark.parametrize("workers", [("-p", "no:xdist"), ("-n", "2")], ids=["serial", "xdist"])
def test_a_session_killed_during_update_keeps_its_results_and_marks_the_set(
    pytester: pytest.Pytester, workers: tuple[str, str]
) -> None:
    folder = _grid(pytester, TEST_FILE.replace('["random", "mine", "entropy"]', '["random", "entropy", "hangs"]'))
    pytester.makeconftest(HANGS)
    env = {**os.environ, "PYTHONPATH": str(pytester.path)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *workers,
        "-p",
        "no:randomly",
        "--albench-update=all",
        "--albench-json=out.json",
        "test_grid.py",
    ]
    journal = pytester.path / "out.json.partial.jsonl"
    with subprocess.Popen(
        command, cwd=pytester.path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as session:
        deadline = time.monotonic() + 300
        # a finished case is journalled, then its baseline written: wait for both (a loaded machine can
        # be between the two when the journal shows the second case)
        while time.monotonic() < deadline and (_journal_cases(journal) < 2 or len(_baselines(folder)) < 2):
            time.sleep(0.5)
        session.send_signal(signal.SIGKILL)
        session.wait(timeout=30)
    assert _journal_cases(journal) == 2, "the two finished cases are on disk although the session was killed"
    assert not (pytester.path / "out.json").exists()
    assert (folder / ".albench-update-in-progress.json").is_file()
    assert len(_baselines(folder)) == 2  # the finished cases

    report = subprocess.run(
        [sys.executable, "-m", "pytest_albench", "report", str(journal), "--out", "page", "--plots", "none"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert report.returncode == 0, report.stderr
    page = (pytester.path / "page" / "report.md").read_text()
    assert "hangs" in page  # listed as missing: it never reported

    later = run(pytester, "-p", "no:xdist", "-k", "not hangs")
    assert "may be a mix of old and new: an --albench-update session" in later.stdout.str()
    assert "Rerun with --albench-update=all" in later.stdout.str()


def _journal_cases(path: Path) -> int:
    if not path.is_file():
        return 0
    return max(0, sum(1 for line in path.read_text().splitlines() if line.strip()) - 1)


@pytest.mark.parametrize(
    ("device", "says"),
    [
        ("tpu", "'tpu' is not a device; use auto, cpu, cuda or cuda:N"),
        ("cuda:7", "is not available; torch sees"),
    ],
)
def test_an_unusable_device_is_one_usage_error_at_start_up(pytester: pytest.Pytester, device: str, says: str) -> None:
    if device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    _grid(pytester)
    result = run(pytester, "-p", "no:xdist", f"--albench-device={device}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert says in result.stderr.str()
    assert "Traceback" not in result.stderr.str() and " passed" not in result.stdout.str()  # one error, no cases


def test_a_rebuilt_data_folder_makes_the_baseline_stale_and_says_why(pytester: pytest.Pytester) -> None:
    bbc = load_dataset("bbc_news")
    data = pytester.path / "data" / "toy"
    data.mkdir(parents=True)
    train = bbc.train.subset(list(range(0, len(bbc.train), 7)))  # every class, about 200 rows
    write_csv(data / "train.csv", list(train.texts), [bbc.class_names[i] for i in train.labels])
    write_csv(data / "test.csv", list(bbc.test.texts[:100]), [bbc.class_names[i] for i in bbc.test.labels[:100]])
    _grid(pytester, ONE_CASE.replace('["bbc_news"]', '["toy"]'))
    run(pytester, "-p", "no:xdist", "--albench-update=new", f"--albench-data-dir={data.parent}").assert_outcomes(
        passed=1
    )
    texts = list(train.texts)
    texts[0] = texts[0] + " (edited)"
    write_csv(data / "train.csv", texts, [bbc.class_names[i] for i in train.labels])
    result = run(pytester, "-p", "no:xdist", "--albench-compare=strict", f"--albench-data-dir={data.parent}")
    result.assert_outcomes(failed=1)
    assert "[albench stale]" in result.stdout.str()
    assert "the dataset's content changed (fingerprint" in result.stdout.str()


def test_albench_report_on_a_file_without_cases_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"format_version": 1, "profile": "smoke", "seeds": [0], "cases": [], "missing": []}))
    assert report_main([str(empty), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "report.md").exists()


def _baselines(folder: Path) -> list[Path]:
    return [p for p in folder.glob("*.json") if not p.name.startswith(".")]
