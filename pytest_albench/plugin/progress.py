"""Per-case progress: inline after the test id without xdist, whole throttled lines from the controller with it.

The engine reports ``progress(stage, i, total)`` with the stages ``dataset`` and ``embedding`` (when a
problem is built, not when it comes from the process's cache) and ``cycle`` (``i`` of ``total``, per seed);
the albench fixture adds ``slot`` (``i`` 0 while its worker waits for a compute slot, 1 once it has one;
``--albench-cpu-slots``).

* **Without xdist** (``-v``): :class:`InlineProgress` writes ``[dataset] [embedding] s0:.....`` after the
  test's id, as the case runs.
* **Under xdist**: a worker cannot write to the terminal, and xdist has no channel for a plugin's own
  messages from worker to controller (its events are a fixed set, and the reports arrive only once a test
  is done). So each worker appends its events as JSON lines to a file of its own in the session folder
  (:mod:`.workers`), and the controller's :class:`ProgressMonitor` reads them once a second in a thread
  and prints, for a case running longer than ``--albench-progress-every`` seconds (10 by default), one
  whole line at most that often::

      albench [gw1] test_bbc[bbc_news-minilm-l6-margin-ips_random] 40 s: embedding (38 s)
      albench [gw1] test_bbc[bbc_news-minilm-l6-margin-ips_random] 62 s: embedded in 51 s
      albench [gw1] test_bbc[bbc_news-minilm-l6-margin-ips_random] 72 s: seed 1, cycle 7/10

  The thread writes only while holding a lock that the controller's hooks which print test results
  (``pytest_runtest_logstart/logreport/logfinish``) hold while they run, and starts its line on a fresh
  one, so a line never lands inside xdist's or pytest's own. ``-q`` or ``--albench-no-progress`` hide it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

#: The engine's progress callback: ``(stage, i, total)``.
Callback = Callable[[str, int, int], None]
#: A worker's progress file in the session folder: ``progress-<worker id>.jsonl``.
FILE_PATTERN = "progress-{worker}.jsonl"


class ProgressSink(Protocol):
    """Where a case's progress goes: the albench fixture asks it for one callback per seed."""

    def for_seed(self, node: pytest.Item, seed: int) -> Callback | None: ...


class InlineProgress:
    """Text after the verbose test id, in the running process: ``[dataset] [embedding] s0:.....``."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def for_seed(self, node: pytest.Item, seed: int) -> Callback:
        say = self._write
        seen: set[str] = set()

        def report(stage: str, i: int, total: int) -> None:
            if stage == "cycle":
                say(f" s{seed}:" if i == 1 else "")
                say(".")
            elif stage not in seen:
                seen.add(stage)
                say(f" [{stage}]")

        return report


class FileProgress:
    """An xdist worker's events, appended as JSON lines to its own file for the controller to read."""

    def __init__(self, path: Path, worker: str) -> None:
        self.path = path
        self.worker = worker

    def _emit(self, node: pytest.Item, **event: Any) -> None:
        record = {"w": self.worker, "node": node.nodeid, "name": node.name, "t": time.time(), **event}
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        except OSError:  # progress is a courtesy: a full disk must not fail the case
            pass

    def case_started(self, node: pytest.Item) -> None:
        self._emit(node, stage="start")

    def for_seed(self, node: pytest.Item, seed: int) -> Callback:
        def report(stage: str, i: int, total: int) -> None:
            self._emit(node, stage=stage, seed=seed, i=i, n=total)

        return report


@dataclass
class _Case:
    """What the controller knows of one running case."""

    worker: str
    name: str
    started: float
    stage: str = "start"
    since: float = 0.0
    seed: int = 0
    i: int = 0
    n: int = 0
    printed: float | None = None
    embedding_shown: bool = False

    def state(self, now: float) -> str:
        if self.stage == "cycle":
            return f"seed {self.seed}, cycle {self.i}/{self.n}"
        if self.stage == "embedding":
            return f"embedding ({now - self.since:.0f} s)"
        if self.stage == "dataset":
            return f"loading the dataset ({now - self.since:.0f} s)"
        if self.stage == "slot":
            return f"waiting for a CPU slot ({now - self.since:.0f} s)"
        return "setting up"


class ProgressMonitor:
    """The controller's reader of the workers' progress files (a plugin, and a daemon thread)."""

    def __init__(
        self,
        folder: Path,
        write_line: Callable[[str], None],
        every: float,
        poll: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.folder = folder
        self.every = every
        self.poll = poll
        self.clock = clock
        self.lock = threading.RLock()
        self._write_line = write_line
        self._offsets: dict[Path, int] = {}
        self._cases: dict[str, _Case] = {}
        self._done: set[str] = set()
        self._embedded: list[tuple[_Case, float]] = []  # "embedded in N s" lines, due at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------ the thread

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="albench-progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - a progress line is never worth a broken session
                return

    def poll_once(self) -> list[str]:
        """Read what the workers appended and print the lines that are due; returns them (for tests)."""
        events = list(self._read())
        with self.lock:
            if self._stop.is_set():
                return []
            for event in events:
                self._apply(event)
            lines = self._due(self.clock())
            for text in lines:
                self._write_line(text)
        return lines

    def _read(self) -> Generator[dict[str, Any], None, None]:
        for path in sorted(self.folder.glob(FILE_PATTERN.format(worker="*"))):
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except OSError:
                continue
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next poll
            self._offsets[path] = offset + len(complete)
            for raw in complete.splitlines():
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    yield event

    def _apply(self, event: dict[str, Any]) -> None:
        node = str(event.get("node", ""))
        if not node or node in self._done:
            return
        stage, at = str(event.get("stage", "")), float(event.get("t", self.clock()))
        case = self._cases.get(node)
        if case is None or stage == "start":
            case = self._cases[node] = _Case(str(event.get("w", "?")), str(event.get("name", node)), at)
        if stage in ("dataset", "embedding"):
            case.stage, case.since = stage, at
        elif stage in ("slot", "cycle"):
            if case.stage == "embedding" and case.embedding_shown:
                self._embedded.append((case, at - case.since))
            if stage == "slot":  # i = 0: waiting for a compute slot; 1: taken (setting up until the first cycle)
                case.stage, case.since = ("slot" if int(event.get("i", 0)) == 0 else "start"), at
                return
            case.stage, case.seed = stage, int(event.get("seed", 0))
            case.i, case.n = int(event.get("i", 0)), int(event.get("n", 0))

    def _due(self, now: float) -> list[str]:
        lines = [self._line(case, now, f"embedded in {seconds:.0f} s") for case, seconds in self._embedded]
        self._embedded.clear()
        for case in self._cases.values():
            if now - case.started < self.every or (case.printed is not None and now - case.printed < self.every):
                continue
            case.printed = now
            case.embedding_shown = case.embedding_shown or case.stage == "embedding"
            lines.append(self._line(case, now, case.state(now)))
        return lines

    @staticmethod
    def _line(case: _Case, now: float, state: str) -> str:
        return f"albench [{case.worker}] {case.name} {now - case.started:.0f} s: {state}"

    # ------------------------------------------------------------------------------ the controller's hooks

    def finished(self, nodeid: str) -> None:
        with self.lock:
            self._cases.pop(nodeid, None)
            self._done.add(nodeid)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logstart(self) -> Generator[None, None, None]:
        with self.lock:
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(self) -> Generator[None, None, None]:
        with self.lock:
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> Generator[None, None, None]:
        with self.lock:
            try:
                return (yield)
            finally:
                self.finished(nodeid)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.stop()


def terminal_line_writer(config: pytest.Config) -> Callable[[str], None] | None:
    """A function that prints one whole line on the terminal, starting a fresh line when the current one
    holds xdist's output (``[gw0] PASSED ...``) or pytest's dots; None without a terminal reporter."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return None

    def write_line(text: str) -> None:
        reporter.ensure_newline()  # after a verbose xdist line (it leaves currentfspath at -2)
        if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
            reporter.write("\n")  # after the dots of the default output
        reporter.write_line(text)
        reporter.flush()

    return write_line
