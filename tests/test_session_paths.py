"""Bad paths and settings are refused at start-up, with the fix, before any case runs; none can make a
session write one output over another, over a test file, over a device, or over an earlier journal.

The sessions are real pytest subprocesses on the small grid of :mod:`pytester_grid`; most stop at
start-up (``--collect-only``), so they cost a second each.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pytester_grid import CONFTEST, TEST_FILE, load_json, run

from pytest_albench.plugin.case import case_seeds, checked_judge_settings
from pytest_albench.plugin.options import MAX_SEEDS, parse_seeds
from pytest_albench.plugin.parametrize import cases
from pytest_albench.storage.atomic import write_text_atomic
from pytest_albench.storage.journal import JournalError, keep_earlier_journal, read_journal

ONE_CASE = TEST_FILE.replace('["random", "mine", "entropy"]', '["random"]')


def _usage_error(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(test_grid=ONE_CASE)
    result = run(pytester, "--collect-only", "-q", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()[-2000:]
    text = result.stderr.str()
    assert "Traceback" not in text + result.stdout.str()
    return text


def test_two_outputs_naming_one_file_are_refused(pytester: pytest.Pytester) -> None:
    text = _usage_error(pytester, "--albench-json=out/same", "--albench-csv=out/same")
    assert "--albench-csv and --albench-json name the same file" in text
    assert "give each output its own path" in text


def test_an_output_over_the_report_page_of_plots_is_refused(pytester: pytest.Pytester) -> None:
    text = _usage_error(pytester, "--albench-markdown=rep/report.md", "--albench-plots=rep")
    assert "the report page of --albench-plots (report.md) and --albench-markdown name the same file" in text


def test_an_output_through_a_symlink_to_another_output_is_refused(pytester: pytest.Pytester) -> None:
    (pytester.path / "target.json").write_text("{}")
    (pytester.path / "link.csv").symlink_to(pytester.path / "target.json")
    text = _usage_error(pytester, "--albench-json=target.json", "--albench-csv=link.csv")
    assert "name the same file" in text


def test_an_output_that_swallowed_a_test_file_is_refused_and_the_file_kept(pytester: pytest.Pytester) -> None:
    victim = pytester.makepyfile(test_victim="def test_x():\n    pass\n")
    source = victim.read_text()
    text = _usage_error(pytester, "--albench-markdown", str(victim))
    assert "is a Python file; did the option miss its value?" in text
    assert victim.read_text() == source


@pytest.mark.parametrize("option", ["--albench-json", "--albench-csv", "--albench-markdown"])
def test_an_output_that_is_a_folder_is_refused(pytester: pytest.Pytester, option: str) -> None:
    (pytester.path / "adir").mkdir()
    assert f"{option}: {pytester.path / 'adir'} is a folder; give a file path inside it" in _usage_error(
        pytester, f"{option}=adir"
    )


def test_an_output_under_a_file_is_refused(pytester: pytest.Pytester) -> None:
    (pytester.path / "afile").write_text("x")
    text = _usage_error(pytester, "--albench-csv=afile/rows.csv")
    assert f"cannot be created: {pytester.path / 'afile'} is a file, not a folder" in text


def test_an_output_that_is_a_device_or_pipe_is_refused(pytester: pytest.Pytester) -> None:
    fifo = pytester.path / "pipe"
    os.mkfifo(fifo)
    text = _usage_error(pytester, f"--albench-json={fifo}")
    assert "is not a regular file (a device, a pipe or a socket)" in text
    assert fifo.exists() and not fifo.is_file()  # left as it was


@pytest.mark.parametrize("option", ["--albench-plots", "--albench-cache-dir"])
def test_a_folder_setting_that_is_a_file_is_refused(pytester: pytest.Pytester, option: str) -> None:
    (pytester.path / "afile").write_text("x")
    assert f"{option}: {pytester.path / 'afile'} is a file, not a folder" in _usage_error(pytester, f"{option}=afile")


def test_a_data_dir_that_does_not_exist_is_refused(pytester: pytest.Pytester) -> None:
    text = _usage_error(pytester, "--albench-data-dir=no_such_dir")
    assert f"--albench-data-dir: {pytester.path / 'no_such_dir'} does not exist" in text


@pytest.mark.parametrize("workers", [("-p", "no:xdist"), ("-n", "2")], ids=["serial", "xdist"])
def test_test_files_sharing_a_baseline_folder_fail_without_writing(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    pytester.makeconftest(CONFTEST)
    for folder in ("a", "b"):
        (pytester.path / folder).mkdir()
        (pytester.path / folder / "test_same.py").write_text(ONE_CASE)
    args = ("--import-mode=importlib", "--albench-baseline-dir=bl", "--albench-update=all")
    result = run(pytester, *workers, *args)
    result.assert_outcomes(errors=2)
    text = result.stdout.str()
    assert "INTERNALERROR" not in text
    assert "would share the baseline folder" in text and "rename one of the files" in text
    assert not (pytester.path / "bl").exists()  # no baseline written over another
    # one of the two files per session is fine: the clash is between the selected files only
    alone = run(pytester, *workers, *args, str(pytester.path / "a"))
    alone.assert_outcomes(passed=1)


def test_a_data_dir_from_the_environment_does_not_fail_other_sessions(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin is loaded by every pytest run of its environment: an ALBENCH_DATA_DIR or ini data folder
    not built yet must not fail another project's tests (a local case skips, naming the folder)."""
    monkeypatch.setenv("ALBENCH_DATA_DIR", str(pytester.path / "not_built_yet"))
    pytester.makeini("[pytest]\nalbench_cache_dir = a_file\n")
    (pytester.path / "a_file").write_text("x")
    pytester.makepyfile(test_plain="def test_a():\n    pass\n")
    run(pytester).assert_outcomes(passed=1)


def test_an_existing_plots_folder_needs_to_be_writable_itself_not_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_albench.plugin import paths

    plots = tmp_path / "shared" / "plots"
    plots.mkdir(parents=True)
    real_access = os.access
    parent_locked = {str(tmp_path / "shared")}
    monkeypatch.setattr(paths.os, "access", lambda p, mode: str(p) not in parent_locked and real_access(p, mode))
    paths._check_folder("--albench-plots", plots, writable=True)  # its parent is read-only: fine
    parent_locked.add(str(plots))
    with pytest.raises(pytest.UsageError, match="no permission to create files in it"):
        paths._check_folder("--albench-plots", plots, writable=True)
    paths._check_folder("--albench-cache-dir", plots, writable=False)  # a read-only shared cache is fine


def test_a_collect_only_session_leaves_an_earlier_journal_where_it_is(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_grid=ONE_CASE)
    left = pytester.path / "res.json.partial.jsonl"
    left.write_text('{"albench_journal": 1, "collected": ["x"]}\n')
    assert run(pytester, "--collect-only", "-q", "--albench-json=res.json").ret == pytest.ExitCode.OK
    assert left.read_text() == '{"albench_journal": 1, "collected": ["x"]}\n'
    assert not list(pytester.path.glob("*.interrupted-*"))


def test_merge_outputs_stay_out_of_the_shards_folders_and_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_albench.report.cli import main

    shards = tmp_path / "shards"
    shards.mkdir()
    for k in range(2):
        (shards / f"s{k}.json").write_text("{}")
    before = {p.name: p.read_bytes() for p in shards.iterdir()}
    files = [str(shards / "s0.json"), str(shards / "s1.json")]
    assert main(["--merge", *files, "--json", str(shards / "merged.json")]) == 2
    assert "in a folder of the shards being merged" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["--merge", *files, "--markdown", str(out / "x"), "--csv", str(out / "x")]) == 2
    assert "--csv and --markdown name the same file" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in shards.iterdir()} == before and not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--albench-alpha=0",), "--albench-alpha: '0' must lie strictly between 0 and 1"),
        (("--albench-alpha=1",), "--albench-alpha: '1' must lie strictly between 0 and 1"),
        (("--albench-tolerance=nan",), "--albench-tolerance: 'nan' is not a finite number"),
        (("--albench-progress-every=nan",), "--albench-progress-every: 'nan' is not a number of seconds"),
        (("--albench-seeds=0-100000000",), "'0-100000000' is 100,000,001 seeds, more than 1,000"),
    ],
)
def test_settings_that_would_make_a_run_meaningless_are_refused(
    pytester: pytest.Pytester, args: tuple[str, ...], message: str
) -> None:
    assert message in _usage_error(pytester, *args)


def test_seed_lists_are_capped_without_building_the_range() -> None:
    assert len(parse_seeds(f"0-{MAX_SEEDS - 1}")) == MAX_SEEDS
    with pytest.raises(pytest.UsageError, match="more than 1,000"):
        parse_seeds(f"0-{10**12}")  # refused at once, not after minutes
    with pytest.raises(pytest.UsageError, match="holds more than"):
        parse_seeds(",".join(f"{i * 2}-{i * 2}" for i in range(MAX_SEEDS + 1)))


@pytest.mark.parametrize(
    ("value", "seeds"),
    [
        ("0-2", (0, 1, 2)),
        ("10", (10,)),
        (3, (3,)),
        ((2, 0, 0, 1), (0, 1, 2)),
        ([], ()),
        (np.arange(3), (0, 1, 2)),
        (np.int64(4), (4,)),
        (range(2), (0, 1)),
    ],
)
def test_a_cases_seeds_are_read_like_the_option(value: object, seeds: tuple[int, ...]) -> None:
    assert case_seeds(value) == seeds


@pytest.mark.parametrize("value", ["0-x", [-1], [0.5], [True], None, "", "-1", list(range(1001))])
def test_bad_seeds_of_a_case_are_one_line_errors(value: object) -> None:
    from pytest_albench.errors import ConfigError

    with pytest.raises(ConfigError, match="seeds"):
        case_seeds(value)


@pytest.mark.parametrize(
    ("judge", "message"),
    [
        ({"tolerance": 2}, r"tolerance=2\): must be a number in \[0, 1\]"),
        ({"tolerance": -1}, r"tolerance=-1\)"),
        ({"alpha": 0}, r"alpha=0\): must be strictly between 0 and 1"),
        ({"alpha": "x"}, r"alpha='x'\)"),
        ({"alpha": True}, r"alpha=True\)"),
    ],
)
def test_a_markers_judging_settings_are_checked_like_the_options(judge: dict[str, object], message: str) -> None:
    from pytest_albench.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        checked_judge_settings(dict(judge))
    assert checked_judge_settings({"alpha": 0.01, "tolerance": 0, "test": "t"}) == {
        "alpha": 0.01,
        "tolerance": 0.0,
        "test": "t",
    }


def test_cases_refuses_a_string_for_a_list_and_run_settings() -> None:
    with pytest.raises(TypeError, match=r"datasets is the string 'bbc_news'; give a list of names"):
        cases("bbc_news", ["tfidf-lsa"], ["random"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unknown keyword.*cycles.*albench"):
        cases(["bbc_news"], ["tfidf-lsa"], ["random"], cycles=2)
    assert len(cases(["bbc_news"], ["tfidf-lsa"], ["random", "margin"], marks=pytest.mark.skip)) == 2


def test_atomic_writes_follow_a_symlink_and_refuse_a_device(tmp_path: Path) -> None:
    target = tmp_path / "runs" / "one.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="is not a regular file"):
        write_text_atomic(fifo, "x")
    assert not fifo.is_file()
    (tmp_path / "adir").mkdir()
    with pytest.raises(OSError, match="is not a regular file"):
        write_text_atomic(tmp_path / "adir", "x")


def test_an_earlier_journal_is_moved_aside_not_overwritten(tmp_path: Path) -> None:
    journal = tmp_path / "res.json.partial.jsonl"
    assert keep_earlier_journal(journal) is None
    journal.write_text("one\n")
    first = keep_earlier_journal(journal)
    journal.write_text("two\n")
    second = keep_earlier_journal(journal)
    assert first is not None and second is not None and first != second
    assert first.name.startswith("res.json.interrupted-") and first.name.endswith(".partial.jsonl")
    assert first.read_text() == "one\n" and second.read_text() == "two\n" and not journal.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"albench_journal": ', "killed while writing its header"),
        ('{"albench_journal": 1, "collected": 5}\n', "'collected' is not a list of test ids"),
    ],
)
def test_a_damaged_journal_header_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.json.partial.jsonl"
    path.write_text(text)
    with pytest.raises(JournalError, match=message):
        read_journal(path)


def test_a_rerun_keeps_the_journal_a_killed_session_left(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_grid=ONE_CASE)
    left = pytester.path / "res.json.partial.jsonl"
    left.write_text('{"albench_journal": 1, "collected": ["x"]}\n')
    result = run(pytester, "-p", "no:xdist", "--albench-json=res.json", "--albench-compare=off")
    result.assert_outcomes(passed=1)
    kept = list(pytester.path.glob("res.json.interrupted-*.partial.jsonl"))
    assert len(kept) == 1
    assert kept[0].read_text() == '{"albench_journal": 1, "collected": ["x"]}\n'
    assert f"it is kept as {kept[0]}" in result.stdout.str()
    assert len(load_json(pytester.path / "res.json")["cases"]) == 1
    assert not left.exists()  # this session's own journal was removed once its results file was written


def test_the_status_table_says_why_a_case_is_stale() -> None:
    from pytest_albench.report.tables import status_table

    stale = {"status": "stale", "message": "the baseline shares no seed with this run; rerun with X", "written": ""}
    rows = status_table(
        [
            {"nodeid": "a", "case_id": "a", "baseline": stale},
            {"nodeid": "b", "case_id": "b", "baseline": {**stale, "written": "baseline written"}},
            {"nodeid": "c", "case_id": "c", "baseline": {"status": "ok", "message": "within tolerance", "written": ""}},
        ]
    ).rows
    assert [row[-1] for row in rows] == [stale["message"], "baseline written", ""]


def test_an_empty_option_value_is_refused(pytester: pytest.Pytester) -> None:
    assert "--albench-json: the value is empty; give one, or leave the option out" in _usage_error(
        pytester, "--albench-json="
    )


def test_the_report_says_a_journals_last_line_was_cut_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_albench.report.cli import main

    journal = tmp_path / "r.json.partial.jsonl"
    journal.write_text(
        '{"albench_journal": 1, "collected": ["t::a"], "profile": "default", "seeds": [0]}\n{"case_id": '
    )
    assert main([str(journal), "--out", str(tmp_path / "rep")]) == 2  # no case finished: nothing to report
    err = capsys.readouterr().err
    assert "albench-report: note:" in err and "the last line was cut off" in err
