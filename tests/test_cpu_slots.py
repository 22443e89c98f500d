"""Compute slots (``storage/cpu_slots.py``, ``--albench-cpu-slots``): at most N holders, encoders first,
reentrant, released by a dying process, and wired into xdist workers without changing any result."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pytester_grid import CONFTEST, TEST_FILE, load_json, run

from pytest_albench.plugin.options import cpu_slots_for
from pytest_albench.storage.cpu_slots import (
    AL_CASE,
    HELPING,
    LIGHT_ENCODING,
    MODEL_ENCODING,
    SlotPool,
    compute_slot,
    configure_slots,
    configured_slots,
    helping_place,
    usable_cores,
)

pytest_plugins = ["pytester"]
fcntl = pytest.importorskip("fcntl", reason="compute slots are flock locks (POSIX only)")


class Holder:
    """A thread that holds a slot of its own pool (its own open files: to flock, another process) until told."""

    def __init__(self, folder: Path, slots: int, priority: int = AL_CASE) -> None:
        self.pool = SlotPool(folder, slots)
        self.priority = priority
        self.holding, self.release = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.pool.hold(self.priority):
            self.holding.set()
            self.release.wait(10)

    def start(self) -> Holder:
        self.thread.start()
        return self

    def finish(self) -> None:
        self.release.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def test_at_most_n_hold_at_once(tmp_path: Path) -> None:
    first, second = Holder(tmp_path, 2).start(), Holder(tmp_path, 2).start()
    assert first.holding.wait(5) and second.holding.wait(5)
    third = Holder(tmp_path, 2).start()
    assert not third.holding.wait(0.4), "a third holder got a slot while both were held"
    first.finish()
    assert third.holding.wait(5), "the freed slot was not taken"
    second.finish()
    third.finish()
    assert third.pool.waited_s >= 0.3


def test_a_waiting_encoder_goes_before_a_waiting_case(tmp_path: Path) -> None:
    busy = Holder(tmp_path, 1).start()
    assert busy.holding.wait(5)
    case = Holder(tmp_path, 1).start()  # waits first
    time.sleep(0.2)
    encoder = Holder(tmp_path, 1, priority=MODEL_ENCODING).start()
    time.sleep(0.2)
    busy.finish()
    assert encoder.holding.wait(5), "the encoder did not get the freed slot"
    assert not case.holding.wait(0.4), "an AL case took a slot while an encoder waited"
    encoder.finish()
    assert case.holding.wait(5), "the AL case never got the slot after the encoder"
    case.finish()


def test_a_free_slot_goes_to_the_highest_priority(tmp_path: Path) -> None:
    """A model's encoding, then a lookup table's, then an AL case, then a process helping another's encoding."""
    busy = Holder(tmp_path, 1).start()
    assert busy.holding.wait(5)
    levels = (HELPING, AL_CASE, LIGHT_ENCODING, MODEL_ENCODING)
    remaining = [Holder(tmp_path, 1, priority).start() for priority in levels]
    time.sleep(0.3)  # all four wait now
    order, previous = [], busy
    while remaining:
        previous.finish()
        previous = the_one_holder(remaining)
        remaining.remove(previous)
        order.append(previous.priority)
    previous.finish()
    assert order == [MODEL_ENCODING, LIGHT_ENCODING, AL_CASE, HELPING]


def the_one_holder(waiters: list[Holder]) -> Holder:
    """The waiter that got the freed slot (after a moment in which a second one could have got it too)."""
    deadline = time.monotonic() + 5
    while not any(w.holding.is_set() for w in waiters) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    holders = [w for w in waiters if w.holding.is_set()]
    assert len(holders) == 1, f"{len(holders)} waiters hold the one slot"
    return holders[0]


def test_a_bad_priority_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="priority"), SlotPool(tmp_path, 1).hold(7):
        pass


def test_a_nested_hold_takes_no_second_slot(tmp_path: Path) -> None:
    pool = SlotPool(tmp_path, 1)
    with pool.hold(), pool.hold(MODEL_ENCODING):  # one slot only: a second acquisition would wait forever
        other = Holder(tmp_path, 1).start()
        assert not other.holding.wait(0.2)
    assert other.holding.wait(5)
    other.finish()


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from pytest_albench.storage.cpu_slots import SlotPool\n"
        "with SlotPool(Path(sys.argv[1]), 1).hold():\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "held"
            waiter = Holder(tmp_path, 1).start()
            assert not waiter.holding.wait(0.3)
            child.kill()
            assert waiter.holding.wait(5), "the dead process's slot was not released"
            waiter.finish()
        finally:
            child.kill()


def test_no_pool_no_wait() -> None:
    configure_slots(None, 4)
    assert configured_slots() is None
    with compute_slot(), compute_slot(MODEL_ENCODING):
        pass


def test_helper_places_are_slots_minus_one_and_never_wait(tmp_path: Path) -> None:
    first, second = SlotPool(tmp_path, 2), SlotPool(tmp_path, 2)  # two processes' pools: own open files
    with first.place("enc", 1) as got_first, second.place("enc", 1) as got_second, second.place("other", 1) as got:
        assert (got_first, got_second, got) == (True, False, True)  # per name; a taken place is not waited for
    with second.place("enc", 1) as got_again:
        assert got_again, "a released place was not free again"
    with second.place("enc", 0) as none:
        assert not none


@pytest.mark.parametrize("slots, helpers", [(1, 0), (2, 1), (4, 3)])
def test_helping_place_allows_slots_minus_one_helpers(tmp_path: Path, slots: int, helpers: int) -> None:
    others = [SlotPool(tmp_path, slots) for _ in range(helpers)]
    try:
        configure_slots(tmp_path, slots)
        with contextlib.ExitStack() as held:
            taken = [held.enter_context(pool.place("split", slots - 1)) for pool in others]
            assert all(taken)
            with helping_place("split") as free:
                assert not free, f"a helper beyond the {helpers} places of {slots} slots"
        with helping_place("split") as free:
            assert free == (helpers > 0)
    finally:
        configure_slots(None, 0)
    with helping_place("split") as free:  # no pool: a core per worker, every waiter may help
        assert free


def test_a_pool_needs_a_slot(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        SlotPool(tmp_path, 0)


@pytest.mark.parametrize(
    "setting, workers, cores, on_gpu, slots",
    [
        (None, 8, 2, False, 2),  # auto: more workers than cores -> one slot per core
        (None, 2, 2, False, 0),  # auto: a core per worker -> no limit
        (None, 1, 4, False, 0),
        (None, 8, 2, True, 0),  # auto: cases on a GPU wait for it, not for the cores
        (0, 8, 2, False, 0),  # off
        (3, 8, 2, False, 3),  # an explicit count wins over the cores
        (3, 8, 2, True, 3),  # and over the device
        (8, 8, 2, False, 0),  # as many slots as workers limit nothing
    ],
)
def test_how_many_slots(setting: int | None, workers: int, cores: int, on_gpu: bool, slots: int) -> None:
    assert cpu_slots_for(setting, workers, cores, on_gpu) == slots


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_slot_count_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(f"--albench-cpu-slots={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--albench-cpu-slots: '{value}' is not auto, off or a positive number*"])


WIRING_TEST = """
from pytest_albench.storage.cpu_slots import configured_slots

def record():
    pool = configured_slots()
    with open({out!r}, "a") as handle:
        handle.write(("none" if pool is None else f"{{pool.slots}} {{pool.folder}}") + "\\n")

def test_a(albench):  # the fixture makes the worker's engine, which configures its slots
    record()

def test_b(albench):
    record()
"""


@pytest.mark.parametrize("args, expected", [(["-n", "2", "--albench-cpu-slots=1"], "1"), (["-n", "2"], None)])
def test_workers_share_one_pool(
    pytester: pytest.Pytester, tmp_path: Path, args: list[str], expected: str | None
) -> None:
    """Each worker's pool lies in the session folder; ``auto`` with a core per worker takes none."""
    if expected is None and usable_cores() < 2:
        pytest.skip("on one core, auto limits two workers to one slot")
    out = tmp_path / "slots.txt"
    pytester.makepyfile(test_wiring=WIRING_TEST.format(out=str(out)))
    run(pytester, *args).assert_outcomes(passed=2)
    lines = out.read_text().splitlines()
    assert len(lines) == 2  # one line per test
    if expected is None:
        assert set(lines) == {"none"}
    else:
        assert len(set(lines)) == 1, lines  # both workers: one count, one folder
        count, folder = lines[0].split(" ", 1)
        assert count == expected and "albench-session-" in folder


def test_one_slot_for_three_workers_gives_the_serial_results(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Cold embeddings, encodings and AL cases through one slot: nothing deadlocks, nothing changes."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_grid=TEST_FILE)
    serial, slotted = tmp_path / "serial.json", tmp_path / "slotted.json"
    cache = tmp_path / "cold-cache"
    run(pytester, f"--albench-json={serial}", "--albench-compare=off").assert_outcomes(passed=3)
    result = run(
        pytester,
        "-n",
        "3",
        "--albench-cpu-slots=1",
        f"--albench-cache-dir={cache}",
        f"--albench-json={slotted}",
        "--albench-compare=off",
    )
    result.assert_outcomes(passed=3)

    def picks(path: Path) -> list[tuple[str, list[object]]]:
        return [(case["case_id"], [run_["selected"] for run_ in case["runs"]]) for case in load_json(path)["cases"]]

    assert picks(serial) == picks(slotted)
