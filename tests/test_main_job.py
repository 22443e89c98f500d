"""The main job reads well (issue #13, item 7): missing requirements are deselected with one line each,
long cases show progress under xdist, and ``-n N`` schedules a pair's cases so no worker waits on an
embedding another worker computes while there is other work."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pytester_grid import run

from pytest_albench.plugin.progress import ProgressMonitor
from pytest_albench.plugin.workers import WORKER_MALLOC

pytest_plugins = ["pytester"]

#: A conftest with an encoder whose package is absent, and a strategy slow enough to show progress.
CONFTEST = """
import time
import numpy as np
from pytest_albench import register_strategy
from pytest_albench.embeddings import EncoderSpec, register_embedding

register_embedding(
    EncoderSpec("ghost-encoder", "callable", packages=("no-such-dist-albench",), pip_hint="pip install ghost")
)

@register_strategy("sleepy", needs=())
def sleepy(inputs, batch_size, rng):
    time.sleep(0.5)
    return np.flatnonzero(~inputs.labeled.cpu().numpy())[:batch_size]
"""

#: No albench case runs here: the requirement marker works on any test, so collection alone is tested.
REQUIRES = """
import pytest

pytestmark = pytest.mark.albench_requires(data_dir=True, label="local")

@pytest.mark.parametrize("embedding", [
    "tfidf-lsa", pytest.param("ghost-encoder", marks=pytest.mark.albench_requires(encoder="ghost-encoder")),
])
@pytest.mark.parametrize("n", range(3))
def test_local(embedding, n):
    pass
"""

OTHERS = """
import pytest

@pytest.mark.albench_requires(packages={"no_such_module_albench": "pip install nothing"}, label="paper")
@pytest.mark.parametrize("n", range(4))
def test_paper(n):
    pass

@pytest.mark.parametrize("embedding", [
    "tfidf-lsa", pytest.param("ghost-encoder", marks=pytest.mark.albench_requires(encoder="ghost-encoder")),
])
def test_default(embedding):
    pass
"""

#: Three pairs of albench cases (the fixture is requested, never called), one of them needing a data dir.
SHARDED = """
import pytest

@pytest.mark.parametrize("embedding", [
    "tfidf-lsa", "minilm-l6", pytest.param("glove-50d", marks=pytest.mark.albench_requires(data_dir=True)),
])
@pytest.mark.parametrize("dataset", ["bbc_news"])
def test_pair(albench, dataset, embedding):
    pass
"""

LOCAL_LINE = "albench: deselected 6 local cases: need --albench-data-dir DIR (or ALBENCH_DATA_DIR)"
PAPER_LINE = "albench: deselected 4 paper cases: need the 'no_such_module_albench' package (pip install nothing)"
GHOST_LINE = (
    "albench: deselected 1 ghost-encoder case: ghost-encoder is not installed (missing no-such-dist-albench): "
    "pip install ghost"
)


@pytest.fixture
def grid(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("ALBENCH_DATA_DIR", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_requires=REQUIRES, test_others=OTHERS)
    pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    return pytester


def albench_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("albench: deselected")]


class TestRequirements:
    def test_missing_requirements_are_deselected_with_one_line_each(self, grid: pytest.Pytester) -> None:
        result = run(grid, "-p", "no:xdist")
        result.assert_outcomes(passed=1, deselected=11)
        # a case missing the data dir and its encoder counts once, under the outer (module) requirement
        assert albench_lines(result) == [PAPER_LINE, GHOST_LINE, LOCAL_LINE]
        result.stdout.fnmatch_lines(["collected 12 items / 11 deselected / 1 selected", PAPER_LINE])

    def test_a_present_requirement_keeps_its_cases(self, grid: pytest.Pytester, tmp_path: Path) -> None:
        result = run(grid, "-p", "no:xdist", f"--albench-data-dir={tmp_path}")
        result.assert_outcomes(passed=4, deselected=8)
        lines = albench_lines(result)
        assert lines[0] == PAPER_LINE and lines[1] == GHOST_LINE.replace(
            "1 ghost-encoder case", "4 ghost-encoder cases"
        )

    def test_the_counts_are_of_what_k_selected(self, grid: pytest.Pytester) -> None:
        result = run(grid, "-p", "no:xdist", "-k", "test_paper")
        result.assert_outcomes(deselected=12)
        assert albench_lines(result) == [PAPER_LINE]

    def test_a_case_named_by_node_id_is_skipped_with_the_reason(self, grid: pytest.Pytester) -> None:
        result = run(
            grid, "-p", "no:xdist", "-rs", "test_others.py::test_paper", "test_requires.py::test_local[0-tfidf-lsa]"
        )
        result.assert_outcomes(skipped=5)
        assert albench_lines(result) == []
        result.stdout.fnmatch_lines(
            [
                "SKIPPED [[]4[]] *: albench: need the 'no_such_module_albench' package (pip install nothing)",
                "SKIPPED [[]1[]] *: albench: need --albench-data-dir DIR (or ALBENCH_DATA_DIR)",
            ]
        )

    def test_xdist_workers_deselect_alike_and_the_controller_prints_each_line_once(self, grid: pytest.Pytester) -> None:
        result = run(grid, "-n", "2")
        result.assert_outcomes(passed=1)  # had the workers collected differently, xdist would have refused
        assert sorted(albench_lines(result)) == sorted([PAPER_LINE, GHOST_LINE, LOCAL_LINE])
        assert "Different tests were collected" not in result.stdout.str()

    def test_the_shards_split_what_can_run(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        """Requirements deselect before ``--albench-shard`` splits the grid: a shard never holds a pair that
        cannot run here, and the shards' grid is what can."""
        monkeypatch.delenv("ALBENCH_DATA_DIR", raising=False)
        monkeypatch.delenv("ALBENCH_SHARD", raising=False)
        pytester.makepyfile(test_pairs=SHARDED)
        result = run(pytester, "-p", "no:xdist", "--collect-only", "--albench-shard=0/2")
        result.stdout.fnmatch_lines(
            ["albench: shard 0/2: 1 of 2 albench case(s) in 1 of 2 (encoder, dataset) pair(s)*"]
        )

    def test_a_wrong_marker_is_a_usage_error(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile("import pytest\n@pytest.mark.albench_requires(gpu=True)\ndef test_x(): pass\n")
        result = run(pytester, "-p", "no:xdist")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*albench_requires takes keywords only (data_dir, hub, cuda, *got [[]'gpu'[]]"])


#: A case slow enough (its strategy sleeps) to be reported.
SLOW = """
import pytest
from pytest_albench import cases

SMALL = dict(max_pool=120, max_test=120, cycles=4, initial_pool_size=10, query_size=10, seeds=(0,))

@pytest.mark.parametrize("dataset,embedding,strategy", cases(["bbc_news"], ["tfidf-lsa"], ["sleepy"]))
def test_al(albench, dataset, embedding, strategy):
    albench(dataset, embedding, strategy, **SMALL)
"""


class TestProgress:
    def test_long_cases_print_whole_progress_lines_under_xdist(self, pytester: pytest.Pytester) -> None:
        pytester.makeconftest(CONFTEST)
        pytester.makepyfile(test_slow=SLOW)
        result = run(pytester, "-n", "2", "--albench-compare=off", "--albench-progress-every=1")
        result.assert_outcomes(passed=1)
        lines = [line for line in result.outlines if "albench [gw" in line]
        progress = re.compile(r"^albench \[gw\d\] test_al\[bbc_news-tfidf-lsa-sleepy\] \d+ s: .+$")
        assert lines, "no progress line came from the workers"
        assert all(progress.match(line) for line in lines), lines  # whole lines: nothing of xdist's inside
        assert any(re.search(r"sleepy\] \d+ s: seed 0, cycle [1-4]/4$", line) for line in lines), lines

    def test_no_progress_hides_them(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile(test_pairs=PAIRS.replace("SLEEP", "3"))
        result = run(pytester, "-n", "2", "--albench-progress-every=0", "--albench-no-progress")
        result.assert_outcomes(passed=2)
        assert not [line for line in result.outlines if "albench [gw" in line]


def _event(folder: Path, worker: str, t: float, stage: str, **extra: Any) -> None:
    record = {"w": worker, "node": "f.py::test[a]", "name": "test[a]", "t": t, "stage": stage, **extra}
    with (folder / f"progress-{worker}.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")


class TestProgressMonitor:
    @staticmethod
    def monitor(folder: Path) -> tuple[ProgressMonitor, list[float]]:
        """A monitor of ``folder`` printing every 10 s of a clock the test sets (``now[0]``, from 100 s)."""
        now = [100.0]
        return ProgressMonitor(folder, lambda line: None, every=10, clock=lambda: now[0]), now

    def test_lines_are_throttled_and_the_end_of_an_embedding_is_told(self, tmp_path: Path) -> None:
        monitor, now = self.monitor(tmp_path)
        _event(tmp_path, "gw1", 100.0, "start")
        _event(tmp_path, "gw1", 100.5, "embedding", seed=0, i=0, n=1)
        now[0] = 105.0
        assert monitor.poll_once() == []  # not running 10 s yet
        now[0] = 111.0
        assert monitor.poll_once() == ["albench [gw1] test[a] 11 s: embedding (10 s)"]
        now[0] = 115.0
        assert monitor.poll_once() == []  # at most one line per case per 10 s
        _event(tmp_path, "gw1", 140.5, "cycle", seed=0, i=1, n=3)
        with (tmp_path / "progress-gw1.jsonl").open("a") as handle:
            handle.write('{"w": "gw1", "node": "f.py::test[a]", "t": 141')  # a line still being written
        now[0] = 141.0
        assert monitor.poll_once() == [
            "albench [gw1] test[a] 41 s: embedded in 40 s",
            "albench [gw1] test[a] 41 s: seed 0, cycle 1/3",
        ]
        with (tmp_path / "progress-gw1.jsonl").open("a") as handle:
            handle.write(', "stage": "cycle", "seed": 1, "i": 2, "n": 3}\n')
        now[0] = 152.0
        assert monitor.poll_once() == ["albench [gw1] test[a] 52 s: seed 1, cycle 2/3"]
        monitor.finished("f.py::test[a]")
        now[0] = 200.0
        assert monitor.poll_once() == []  # a finished case is never printed again

    def test_a_case_waiting_for_a_compute_slot_says_so(self, tmp_path: Path) -> None:
        monitor, now = self.monitor(tmp_path)
        _event(tmp_path, "gw2", 100.0, "start")
        _event(tmp_path, "gw2", 100.0, "embedding", seed=0, i=0, n=1)
        now[0] = 110.0
        assert monitor.poll_once() == ["albench [gw2] test[a] 10 s: embedding (10 s)"]
        _event(tmp_path, "gw2", 115.0, "slot", seed=0, i=0, n=1)
        now[0] = 121.0
        assert monitor.poll_once() == [
            "albench [gw2] test[a] 21 s: embedded in 15 s",
            "albench [gw2] test[a] 21 s: waiting for a CPU slot (6 s)",
        ]
        _event(tmp_path, "gw2", 123.0, "slot", seed=0, i=1, n=1)
        now[0] = 124.0
        monitor.poll_once()
        now[0] = 132.0
        assert monitor.poll_once() == ["albench [gw2] test[a] 32 s: setting up"]  # the slot is taken
        _event(tmp_path, "gw2", 125.0, "cycle", seed=0, i=1, n=3)
        now[0] = 143.0
        assert monitor.poll_once() == ["albench [gw2] test[a] 43 s: seed 0, cycle 1/3"]  # no second "embedded"


class FakeNode:
    """What the scheduler sees of an xdist worker: it is sent indices and may be shut down."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def simulate(scheduler: Any, nodes: list[FakeNode], units: list[str]) -> int:
    """Run the schedule to the end in lockstep; count the cases a worker starts while another worker is
    still running the first case of their pair (the embedding), i.e. the waits on another's embedding."""
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, [f"t.py::test[{i}]" for i in range(len(units))])
    scheduler.schedule()
    warm: set[str] = set()
    waits = 0
    for _ in range(10 * len(units)):
        running = [
            (node, scheduler.node2pending[node][0])
            for node in nodes
            if scheduler.node2pending[node] and (len(scheduler.node2pending[node]) >= 2 or node.shutting_down)
        ]
        if not running:
            break
        leaders = {units[i] for _, i in running if units[i] not in warm}
        firsts: dict[str, FakeNode] = {}
        for node, index in running:
            unit = units[index]
            if unit in warm:
                continue
            if unit in firsts and firsts[unit] is not node:
                waits += 1
            firsts.setdefault(unit, node)
        for node, index in running:
            scheduler.mark_test_complete(node, index)
        warm |= leaders
    assert not scheduler.has_pending, "the simulation did not finish the schedule"
    return waits


def _config(dist: str = "load") -> Any:
    options = {"tx": ["popen", "popen"], "dist": dist, "maxschedchunk": None, "px": None, "numprocesses": 2}
    return SimpleNamespace(getvalue=options.get, getoption=options.get, option=SimpleNamespace(**options))


class TestPairScheduling:
    UNITS = ["a"] * 8 + ["b"] * 8 + ["c"] * 8

    def test_no_worker_waits_on_another_workers_embedding_while_there_is_other_work(self) -> None:
        from pytest_albench.plugin.pair_scheduling import PairScheduling

        nodes = [FakeNode("gw0"), FakeNode("gw1")]
        names = {f"t.py::test[{i}]": unit for i, unit in enumerate(self.UNITS)}
        scheduler = PairScheduling(_config(), None, lambda: names)
        assert simulate(scheduler, nodes, self.UNITS) == 0
        assert self.UNITS[nodes[0].sent[0]] != self.UNITS[nodes[1].sent[0]]  # two embeddings at once
        assert sorted(nodes[0].sent + nodes[1].sent) == list(range(len(self.UNITS)))  # each case once

    def test_xdist_load_scheduling_does_wait_on_this_grid(self) -> None:
        """The same simulation finds the waits of the scheduling it replaces (so it can fail)."""
        from xdist.scheduler import LoadScheduling

        assert simulate(LoadScheduling(_config(), None), [FakeNode("gw0"), FakeNode("gw1")], self.UNITS) > 0


#: Cases that use the fixture (so they have a pair) but do not run the engine; each checks its own mark.
PAIRS = """
import time
import pytest

@pytest.mark.parametrize("embedding", ["tfidf-lsa", "minilm-l6"])
@pytest.mark.parametrize("dataset", ["bbc_news"])
def test_pair(albench, dataset, embedding, request):
    mark = request.node.get_closest_marker("xdist_group")
    assert mark is not None and mark.kwargs == {"name": f"{dataset}-{embedding}"}
    time.sleep(SLEEP)
"""


class TestGrouping:
    def test_n_schedules_by_pairs_and_every_case_carries_its_pairs_group(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile(test_pairs=PAIRS.replace("SLEEP", "0"))
        default = run(pytester, "-n", "2", "-v")
        default.assert_outcomes(passed=2)
        default.stdout.fnmatch_lines(["scheduling tests via PairScheduling"])

    def test_albench_schedule_xdist_leaves_load_to_xdist(self, pytester: pytest.Pytester) -> None:
        from pytest_albench.plugin.pair_scheduling import PairScheduling
        from pytest_albench.plugin.workers import ControllerSide

        config = pytester.parseconfig("-n", "2")
        mine, theirs = ControllerSide(config, "pairs", None), ControllerSide(config, "xdist", None)
        assert isinstance(mine.pytest_xdist_make_scheduler(_config(), None), PairScheduling)
        assert theirs.pytest_xdist_make_scheduler(_config(), None) is None
        # another --dist is xdist's to honour (with pytest 9.2 and xdist 3.8, loadgroup ignores the
        # xdist_group marks: pytest-xdist issue #1386)
        assert mine.pytest_xdist_make_scheduler(_config(dist="loadgroup"), None) is None
        for side in (mine, theirs):
            assert side.folder.is_dir()
            side.pytest_unconfigure()
            assert not side.folder.exists()  # the session folder goes with the session


ENVIRONMENT = """
import os

def test_env():
    with open({out!r}, "a") as handle:
        handle.write(os.environ.get("GLIBC_TUNABLES", "-") + "\\n")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the malloc thresholds are glibc's")
@pytest.mark.parametrize("preset", [None, "glibc.malloc.arena_max=2"])
def test_local_workers_get_the_malloc_thresholds_unless_the_user_set_them(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str | None
) -> None:
    if preset is None:
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    else:
        monkeypatch.setenv("GLIBC_TUNABLES", preset)
    out = tmp_path / "env.txt"
    pytester.makepyfile(test_env=ENVIRONMENT.format(out=str(out)))
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "-n", "2").assert_outcomes(passed=1)
    assert out.read_text().splitlines() == [preset or WORKER_MALLOC]
    assert os.environ.get("GLIBC_TUNABLES") == preset  # the controller's own environment is as it was
