"""Shards and their merge (issue #14): ``--albench-shard K/N``, ``albench-report --merge``, the soft cache lock."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytester_grid import CONFTEST

from pytest_albench.plugin.shard import ShardSpec, assign, parse_shard, resolve_shard, shard_from_env
from pytest_albench.report.cli import main
from pytest_albench.storage.cache import ArrayCache, CacheKey

REPO = Path(__file__).resolve().parents[1]


class TestShardSpec:
    @pytest.mark.parametrize("text, expected", [("0/3", (0, 3)), (" 2/3 ", (2, 3)), ("0/1", (0, 1)), ("off", None)])
    def test_valid_values(self, text: str, expected: tuple[int, int] | None) -> None:
        assert parse_shard(text, "--albench-shard") == expected

    @pytest.mark.parametrize("text", ["3/3", "-1/2", "1/0", "1", "a/b", "1/2/3"])
    def test_invalid_values_are_usage_errors_naming_the_source(self, text: str) -> None:
        with pytest.raises(pytest.UsageError, match=r"ALBENCH_SHARD: invalid shard .*K/N with 0 <= K < N"):
            parse_shard(text, "ALBENCH_SHARD")

    @pytest.mark.parametrize(
        "environ, expected",
        [
            ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, ("2/4", "SLURM_ARRAY_TASK_ID of")),
            (
                {
                    "SLURM_ARRAY_TASK_ID": "3",
                    "SLURM_ARRAY_TASK_MIN": "1",
                    "SLURM_ARRAY_TASK_MAX": "4",
                    "SLURM_ARRAY_TASK_COUNT": "4",
                },
                ("2/4", "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN"),
            ),
            ({"JOB_COMPLETION_INDEX": "1", "ALBENCH_SHARD_COUNT": "3"}, ("1/3", "JOB_COMPLETION_INDEX")),
            (
                {"ALBENCH_SHARD": "0/2", "SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"},
                ("0/2", "ALBENCH_SHARD"),
            ),
            ({}, None),
        ],
    )
    def test_the_schedulers_environment(self, environ: dict[str, str], expected: tuple[str, str] | None) -> None:
        found = shard_from_env(environ)
        assert (found is None) == (expected is None)
        if found is not None and expected is not None:
            assert found[0] == expected[0] and found[1].startswith(expected[1])

    @pytest.mark.parametrize(
        "environ, message",
        [
            (
                {
                    "SLURM_ARRAY_TASK_ID": "4",
                    "SLURM_ARRAY_TASK_MIN": "0",
                    "SLURM_ARRAY_TASK_MAX": "8",
                    "SLURM_ARRAY_TASK_COUNT": "5",
                },
                "stepped or listed --array",
            ),
            ({"SLURM_ARRAY_TASK_ID": "1"}, "without SLURM_ARRAY_TASK_COUNT"),
            ({"JOB_COMPLETION_INDEX": "1"}, "ALBENCH_SHARD_COUNT is not"),
        ],
    )
    def test_an_unmappable_environment_is_a_usage_error(self, environ: dict[str, str], message: str) -> None:
        with pytest.raises(pytest.UsageError, match=message):
            shard_from_env(environ)

    def test_the_option_wins_then_the_environment_then_the_ini_file(self) -> None:
        env = {"ALBENCH_SHARD": "1/4"}
        assert resolve_shard("2/3", "0/2", env) == ShardSpec(2, 3, "--albench-shard")
        assert resolve_shard(None, "0/2", env) == ShardSpec(1, 4, "ALBENCH_SHARD")
        assert resolve_shard(None, "0/2", {}) == ShardSpec(0, 2, "albench_shard (ini)")
        assert resolve_shard(None, "0/2", {"ALBENCH_SHARD": "off"}) is None
        assert resolve_shard(None, None, {}) is None


def _paper_shape() -> dict[tuple[str, ...], int]:
    """The paper suite's units: 10 datasets x 7 encoders, 21 cases each (7 strategies x 3 IPS methods)."""
    return {("pair", f"encoder{e}", f"dataset{d}"): 21 for e in range(7) for d in range(10)}


class TestAssignment:
    def test_it_does_not_depend_on_the_order_units_arrive_in(self) -> None:
        weights = {("pair", f"e{i % 3}", f"d{i}"): 5 + i % 4 for i in range(40)}
        shuffled = list(weights.items())
        random.Random(7).shuffle(shuffled)
        assert assign(weights, 6) == assign(dict(shuffled), 6)

    @pytest.mark.parametrize("count", [*range(2, 36), 70])  # up to 2 pairs per shard on average, and 1 each
    def test_no_shard_of_the_paper_grid_exceeds_one_and_a_half_times_the_mean(self, count: int) -> None:
        weights = _paper_shape()
        shards = assign(weights, count)
        loads = [sum(w for unit, w in weights.items() if shards[unit] == k) for k in range(count)]
        assert sum(loads) == 1470 and min(loads) > 0
        assert max(loads) <= 1.5 * 1470 / count

    def test_unequal_units_stay_within_one_unit_of_the_mean(self) -> None:
        weights = {("pair", f"e{i}", "d"): w for i, w in enumerate([50, 40, 30, 20, 10, 10, 5, 5, 5, 1])}
        shards = assign(weights, 3)
        loads = [sum(w for unit, w in weights.items() if shards[unit] == k) for k in range(3)]
        assert max(loads) <= sum(loads) / 3 + max(weights.values())


def _collected(*args: str) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, check=False, env={**os.environ, "ALBENCH_SHARD": ""}
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_paper_suite_splits_into_three_disjoint_balanced_shards_of_whole_pairs() -> None:
    paper = "benchmarks/test_paper.py::test_paper"  # by node id: kept (skipped) where it cannot run
    every = _collected(paper)
    shards = [_collected(paper, f"--albench-shard={k}/3") for k in range(3)]
    assert sorted(id_ for shard in shards for id_ in shard) == sorted(every) and len(every) == 1470
    assert max(map(len, shards)) <= 1.5 * len(every) / 3
    pair_of = {f"{d}-{e}" for d in ("ag_news", "trec") for e in ("bert-base-uncased", "mpnet-base")}
    for pair in pair_of:  # every case of one (dataset, encoder) pair is in one shard
        assert sum(any(f"[{pair}-" in id_ for id_ in shard) for shard in shards) == 1, pair


# ---------------------------------------------------------------------------------------------- the cache


_SOFT_REQUESTER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from pytest_albench.storage.cache import ArrayCache, CacheKey
    root, work, i = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    while not (work / "go").exists():
        time.sleep(0.01)
    def compute():
        (work / f"computing{i}").touch()
        time.sleep(1.0)
        return np.arange(12.0)
    fetched = ArrayCache(root, lock="soft").get_or_compute(CacheKey.from_inputs({"k": 1}), compute)
    print(int(fetched.hit), float(fetched.array.sum()))
""")


def test_concurrent_processes_on_one_cache_with_the_soft_lock_compute_once(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SOFT_REQUESTER, str(tmp_path / "cache"), str(work), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for i in range(3)
    ]
    time.sleep(2.0)  # let the interpreters start, then release them together
    (work / "go").touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    assert len(list(work.glob("computing*"))) == 1
    assert sorted(out.split()[0] for out, _ in outputs) == ["0", "1", "1"]
    assert not list((tmp_path / "cache").rglob("*.lock"))  # released: no lock file is left behind


def test_a_soft_lock_left_by_a_killed_process_is_removed_once_stale(tmp_path: Path) -> None:
    cache = ArrayCache(tmp_path, lock="soft", stale_after=2.0, lock_timeout=30)
    key = CacheKey.from_inputs({"k": 2})
    lock_path = cache.path(key).with_suffix(".lock")
    lock_path.parent.mkdir(parents=True)
    lock_path.write_text("left by a killed process")
    os.utime(lock_path, (time.time() - 60, time.time() - 60))
    with pytest.warns(UserWarning, match=r"removed the soft lock .*unrefreshed for"):
        fetched = cache.get_or_compute(key, lambda: np.ones(3))
    assert not fetched.hit and not lock_path.exists()


def test_a_live_holder_keeps_its_soft_lock_past_the_staleness_age(tmp_path: Path) -> None:
    import threading

    key = CacheKey.from_inputs({"k": 3})
    computed: list[str] = []
    started = threading.Event()

    def slow() -> np.ndarray:
        started.set()
        computed.append("holder")
        time.sleep(2.0)  # four times the staleness age: only the heartbeat keeps the lock fresh
        return np.zeros(2)

    holder = threading.Thread(
        target=lambda: ArrayCache(tmp_path, lock="soft", stale_after=0.5).get_or_compute(key, slow)
    )
    holder.start()
    started.wait(10)
    waiter = ArrayCache(tmp_path, lock="soft", stale_after=0.5).get_or_compute(key, lambda: computed.append("x") or 1)
    holder.join()
    assert computed == ["holder"] and waiter.hit


def test_an_unknown_lock_kind_names_the_choices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pytest_albench.errors import CacheError

    monkeypatch.setenv("ALBENCH_CACHE_LOCK", "nfs")
    with pytest.raises(CacheError, match=r"use hard .* or soft"):
        ArrayCache(tmp_path)


# ------------------------------------------------------------------------------------- the shards, merged

#: Three packaged-data datasets (thirds of BBC News), so three (encoder, dataset) pairs make three shards.
SHARD_CONFTEST = (
    CONFTEST
    + """
from pytest_albench import register_dataset
from pytest_albench.data import build_dataset, load_dataset

def _third(k):
    def load(data_dir=None):
        bbc = load_dataset("bbc_news")
        def part(split):
            return ([t for t in split.texts[k::3]], [bbc.class_names[y] for y in split.labels[k::3]])
        return build_dataset(f"bbc_third{k}", "test:bbc_news", train=part(bbc.train), test=part(bbc.test))
    return load

for k in range(3):
    register_dataset(f"bbc_third{k}")(_third(k))
"""
)

SHARD_TEST_FILE = """
import pytest
from pytest_albench import cases

SMALL = dict(max_pool=300, max_test=300, cycles=4, initial_pool_size=10, query_size=10)

THIRDS = ["bbc_third0", "bbc_third1", "bbc_third2"]

@pytest.mark.parametrize("dataset,embedding,strategy", cases(THIRDS, ["tfidf-lsa"], ["random", "mine", "entropy"]))
def test_al(albench, dataset, embedding, strategy):
    albench(dataset, embedding, strategy, **SMALL)
"""


def _pytest(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environ = {key: value for key, value in os.environ.items() if key != "ALBENCH_TEST_WORSEN"}
    environ.update({"ALBENCH_CACHE_DIR": str(root / "cache"), "ALBENCH_CACHE_LOCK": "soft", "ALBENCH_SHARD": ""})
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *args]
    return subprocess.Popen(
        command,
        cwd=root / "suite",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**environ, **(env or {})},
    )


def _wait(*procs: subprocess.Popen[str]) -> list[tuple[int, str]]:
    return [(p.wait(timeout=900), p.communicate()[0]) for p in procs]


def _shards(root: Path, tag: str, *args: str, xdist_in: int | None = None) -> list[tuple[int, str]]:
    """The three shards as three concurrent processes on one cache (shard ``xdist_in`` with -n 2)."""
    (root / tag).mkdir()
    return _wait(
        *(
            _pytest(
                root,
                f"--albench-shard={k}/3",
                f"--albench-json={root / tag / f'shard{k}.json'}",
                *(("-n", "2") if k == xdist_in else ()),
                *args,
            )
            for k in range(3)
        )
    )


def _grid(root: Path) -> dict[str, Any]:
    """Shards writing the baselines, one session comparing with them, shards comparing with them."""
    suite = root / "suite"
    suite.mkdir(parents=True)
    (suite / "conftest.py").write_text(SHARD_CONFTEST)
    (suite / "test_grid.py").write_text(SHARD_TEST_FILE)
    (suite / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    started = time.monotonic()
    update = _shards(root, "update", "--albench-update=new")  # the baselines, written by the shards
    outputs = (
        f"--albench-json={root / 'single.json'}",
        f"--albench-markdown={root / 'single.md'}",
        f"--albench-csv={root / 'single.csv'}",
    )
    (single,) = _wait(_pytest(root, *outputs))
    compare = _shards(root, "compare", xdist_in=2)
    return {"root": root, "update": update, "single": single, "compare": compare, "seconds": time.monotonic() - started}


def _strip(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Cases without timings and environment (threads, times legitimately differ between processes)."""
    return [
        {
            k: ([{kk: vv for kk, vv in r.items() if not kk.endswith("time_s")} for r in v] if k == "runs" else v)
            for k, v in case.items()
            if k != "environment"
        }
        for case in document["cases"]
    ]


def _page(folder: Path) -> list[str]:
    """The report page without the rows naming its results files and the processes' threads (the -n 2 shard's
    workers ran on fewer threads), nor the column widths those rows set."""
    lines = (folder / "report.md").read_text().splitlines()
    return [
        re.sub(r"-{3,}", "---", " ".join(line.split()))
        for line in lines
        if ".json" not in line and not line.startswith("| devices")
    ]


def _csv_without_times(path: Path) -> list[list[str]]:
    import csv

    rows = list(csv.reader(path.read_text().splitlines()))
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("time_s")]
    return [[row[i] for i in keep] for row in rows]


def test_three_concurrent_shards_on_one_cache_merge_into_one_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The proof of issue #14, as one test: its runs are shared, and xdist must not repeat them on two workers."""
    grid = _grid(tmp_path / "grid")
    checks = TestMergedShards()
    checks.every_shard_passed_and_reported_the_others_as_deselected(grid)
    checks.the_shards_wrote_each_baseline_once(grid)
    for check in (
        checks.the_merge_equals_the_single_run,
        checks.a_missing_shard_fails_the_merge_naming_it,
        checks.a_regressed_case_in_one_shard_fails_the_merged_gate,
    ):
        scratch = tmp_path / check.__name__
        scratch.mkdir()
        check(grid, scratch, capsys)


class TestMergedShards:
    """The checks of the proof (methods without the test_ prefix: run by the test above, in order)."""

    def every_shard_passed_and_reported_the_others_as_deselected(self, grid: dict[str, Any]) -> None:
        for rc, out in grid["update"] + grid["compare"]:
            assert rc == 0, out[-3000:]
        rc, out = grid["single"]
        assert rc == 0, out[-3000:]
        assert "3 passed, 6 deselected" in grid["compare"][0][1]
        assert (
            "albench: shard 2/3: 3 of 9 albench case(s) in 1 of 3 (encoder, dataset) pair(s); 6 deselected"
            in grid["compare"][2][1]
        )  # the -n 2 shard: the record came back from a worker

    def the_shards_wrote_each_baseline_once(self, grid: dict[str, Any]) -> None:
        root = grid["root"]
        paths = [
            c["baseline_path"]
            for k in range(3)
            for c in json.loads((root / "update" / f"shard{k}.json").read_text())["cases"]
        ]
        assert len(paths) == len(set(paths)) == 9
        assert sorted(Path(p).name for p in paths) == sorted(p.name for p in Path(paths[0]).parent.glob("*.json"))

    def the_merge_equals_the_single_run(
        self, grid: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = grid["root"]
        merged = {"json": tmp_path / "m.json", "markdown": tmp_path / "m.md", "csv": tmp_path / "m.csv"}
        code = main(
            [
                "--merge",
                str(root / "compare"),
                "--out",
                str(tmp_path / "page"),
                "--plots",
                "none",
                *(arg for what, path in merged.items() for arg in (f"--{what}", str(path))),
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        single_doc = json.loads((root / "single.json").read_text())
        merged_doc = json.loads(merged["json"].read_text())
        assert _strip(merged_doc) == _strip(single_doc)  # case by case: runs, curves, picks, verdicts
        assert {c["baseline"]["status"] for c in merged_doc["cases"]} == {"ok"}
        assert merged["markdown"].read_bytes() == (root / "single.md").read_bytes()
        assert _csv_without_times(merged["csv"]) == _csv_without_times(root / "single.csv")
        assert main([str(root / "single.json"), "--out", str(tmp_path / "one"), "--plots", "none"]) == 0
        assert _page(tmp_path / "page") == _page(tmp_path / "one")
        assert "merged 3 shard(s)" in out and "AULC ranking: tfidf-lsa / bbc_third0" in out

    def a_missing_shard_fails_the_merge_naming_it(
        self, grid: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = grid["root"]
        files = [str(root / "compare" / f"shard{k}.json") for k in (0, 2)]
        assert main(["--merge", *files]) == 2
        assert "missing shard(s) 1/3: no results file" in capsys.readouterr().err

    def a_regressed_case_in_one_shard_fails_the_merged_gate(
        self, grid: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        root = grid["root"]
        ((rc, out),) = _wait(
            _pytest(
                root,
                "--albench-shard=1/3",
                f"--albench-json={tmp_path / 'shard1.json'}",
                env={"ALBENCH_TEST_WORSEN": "1"},
            )
        )
        assert rc == 1, out[-3000:]
        files = [
            str(root / "compare" / "shard0.json"),
            str(tmp_path / "shard1.json"),
            str(root / "compare" / "shard2.json"),
        ]
        assert main(["--merge", *files]) == 1
        printed = capsys.readouterr().out
        assert "albench: regression gate over 9 compared case(s)" in printed and "1 regressed" in printed


SKIPPED_PAIR_FILE = """
import pytest

SMALL = dict(max_pool=100, max_test=100, cycles=1, initial_pool_size=10, query_size=10)

@pytest.mark.parametrize("dataset,embedding", [("bbc_news", "tfidf-lsa"),
                                               pytest.param("bbc_news", "glove-50d", marks=pytest.mark.skip("absent"))])
def test_al(albench, dataset, embedding):
    albench(dataset, embedding, "random", seeds=(0,), **SMALL)
"""


def test_a_shard_whose_cases_are_all_skipped_is_complete_and_merges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_grid.py").write_text(SKIPPED_PAIR_FILE)
    (tmp_path / "suite" / "pytest.ini").write_text("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    runs = _wait(
        *(
            _pytest(
                tmp_path,
                f"--albench-shard={k}/2",
                "--albench-compare=off",
                f"--albench-json={tmp_path / 'out' / f'shard{k}.json'}",
            )
            for k in range(2)
        )
    )
    assert [rc for rc, _ in runs] == [0, 0], [out[-2000:] for _, out in runs]
    counts = [len(json.loads((tmp_path / "out" / f"shard{k}.json").read_text())["cases"]) for k in range(2)]
    assert sorted(counts) == [0, 1]  # the skipped pair's shard wrote its (empty) results file too
    assert main(["--merge", str(tmp_path / "out")]) == 0
    assert "merged 2 shard(s)" in capsys.readouterr().out


TWO_PAIRS_FILE = """
import pytest

SMALL = dict(max_pool=100, max_test=100, cycles=1, initial_pool_size=10, query_size=10)

@pytest.mark.parametrize("dataset,embedding", [("bbc_news", "tfidf-lsa"), ("bbc_news", "tfidf-lsa-x")])
def test_al(albench, dataset, embedding):
    albench(dataset, "tfidf-lsa", "random", seeds=(0,), **SMALL)
"""


def test_the_embedding_stage_or_an_empty_selection_never_replaces_a_shards_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented workflow embeds first (``--albench-embed-only``), then runs the same command: the
    stage must not write the shard's results file, and a ``-k`` that selects nothing must not either."""
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_grid.py").write_text(TWO_PAIRS_FILE)
    out = tmp_path / "out"

    def shard(k: int, *extra: str) -> tuple[int, str]:
        return _wait(
            _pytest(
                tmp_path,
                f"--albench-shard={k}/2",
                "--albench-compare=off",
                f"--albench-json={out / f's{k}.json'}",
                *extra,
            )
        )[0]

    for k in range(2):
        rc, printed = shard(k)
        assert rc == 0, printed[-2000:]
    before = {k: (out / f"s{k}.json").read_bytes() for k in range(2)}
    rc, printed = shard(0, "--albench-embed-only")
    assert rc == 0, printed[-2000:]
    rc, printed = shard(1, "-k", "nothing_matches")
    assert rc == pytest.ExitCode.NO_TESTS_COLLECTED, printed[-2000:]
    assert {k: (out / f"s{k}.json").read_bytes() for k in range(2)} == before
    assert main(["--merge", str(out)]) == 0
    capsys.readouterr()

    # a shard file that lists a case it holds no result for (nor a skip, nor a failure) is incomplete
    document = json.loads(before[0])
    document["cases"] = []
    (out / "s0.json").write_text(json.dumps(document))
    assert main(["--merge", str(out)]) != 0
    assert "holds no result for 1 of its 1 case(s)" in capsys.readouterr().err


def test_a_scheduler_shard_of_a_session_without_albench_cases_runs_every_test(pytester: pytest.Pytester) -> None:
    """The plugin is loaded by every pytest run of its environment: a Slurm array task running some other
    project's tests must not drop them as "the other shards' ones"."""
    pytester.makepyfile(test_plain="def test_a():\n    pass\n\ndef test_b():\n    assert False\n")
    env = {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "ALBENCH_SHARD": ""}
    for key, value in env.items():
        pytester._monkeypatch.setenv(key, value)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    # an explicit shard keeps the rule: tests that are not albench cases run in shard 0 only
    explicit = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "--albench-shard=1/4")
    explicit.assert_outcomes()
