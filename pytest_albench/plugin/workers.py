"""What the xdist controller and its workers share beyond xdist's own reports, and how cases are scheduled.

**The session folder.** Under ``pytest -n N`` the controller makes a temporary folder and hands its path
to every worker in ``workerinput`` (``pytest_configure_node``); it is removed when the session ends.
Workers write two kinds of files there, which the controller reads:

* ``collection-<worker>.json`` at the end of collection: which (encoder, dataset) pair each selected
  case belongs to (for the scheduler below) and the worker's deselection lines (:mod:`.requirements`),
  which the controller prints once, before the first result.
* ``progress-<worker>.jsonl``: the running cases' progress events (:mod:`.progress`).

A worker that cannot see the folder (``--tx ssh=...`` on another machine) writes nothing: the
scheduler then behaves as xdist's ``load``, the deselection lines come at the end (from
``workeroutput``), and there are no progress lines.

**Scheduling.** The cases of one (encoder, dataset) pair share one embedding (an on-disk cache entry
behind a file lock), and xdist's ``load`` scheduling hands consecutive cases, mostly of one pair, to
different workers, which then wait on the lock while one of them embeds. ``--dist loadgroup`` with one
``xdist_group`` per pair avoids that but cannot split a pair: the default suite has four or five pairs,
so ``-n 8`` would leave half the workers idle. So under ``-n N`` (xdist's default ``--dist load``) the
plugin schedules with :class:`.pair_scheduling.PairScheduling`: a pair is *cold* until its first case
has finished (its embedding is then cached); a worker gets the first case of a cold pair nobody has
claimed when it is not embedding one already, and otherwise cases of warm pairs or of the pairs it
embeds itself. A worker is handed a case of a pair another worker is still embedding only when there
is no other work (xdist runs a worker's case only once it holds the next one). ``--albench-schedule
xdist``, or any other ``--dist``, leaves scheduling to xdist; the cases carry an ``xdist_group`` mark
per pair, so ``--dist loadgroup`` groups whole pairs (and xdist appends ``@group`` to the node ids).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from .progress import FILE_PATTERN, FileProgress, ProgressMonitor, terminal_line_writer
from .requirements import WORKEROUTPUT_KEY, deselection_lines
from .shard import is_case, unit_of

PLUGIN_NAME = "albench-workers"
#: glibc's malloc in each local worker (set as ``GLIBC_TUNABLES`` while xdist starts them, unless the user
#: set that variable). By default glibc maps every allocation over a few MiB afresh and unmaps it when
#: freed, so a transformer encoding at one thread page-faults its attention tensors in again for every
#: batch: MiniLM-L6 on 400 BBC News texts took 2.2 million minor faults and 3.3 s of system time in 23.4 s;
#: with these thresholds (256 MiB: allocations below it come from the heap, and up to that much freed
#: memory is kept for reuse) 25 thousand faults and 21.0 s, the vectors bit for bit the same.
WORKER_MALLOC = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=268435456"
#: The ``workerinput`` key of the session folder.
FOLDER_KEY = "albench_session_folder"
COLLECTION_PATTERN = "collection-{worker}.json"
#: Where a worker keeps its :class:`WorkerSide` (the albench fixture asks it for the progress sink).
WORKER_KEY = pytest.StashKey["WorkerSide"]()


def distributing(config: pytest.Config) -> bool:
    """Whether this process is the controller of an xdist session that runs tests on workers."""
    option = config.option
    return (
        getattr(option, "dist", "no") != "no"
        and bool(getattr(option, "tx", None))
        and not getattr(option, "collectonly", False)
        and not hasattr(config, "workerinput")
    )


def worker_folder(config: pytest.Config) -> Path | None:
    """The session folder, in a worker that can see it; None elsewhere."""
    workerinput = getattr(config, "workerinput", None)
    folder = workerinput.get(FOLDER_KEY) if workerinput is not None else None
    return Path(folder) if folder and os.path.isdir(folder) else None


def pair_key(item: pytest.Item) -> str | None:
    """The (encoder, dataset) pair of an albench case as one string, or None (no pair, no shared embedding)."""
    if not is_case(item):
        return None
    unit = unit_of(item)
    return f"{unit[2]}-{unit[1]}" if unit[0] == "pair" else None


def read_collection(folder: Path) -> dict[str, Any]:
    """The first worker's collection file (all workers collect alike), or {} when there is none yet."""
    for path in sorted(folder.glob(COLLECTION_PATTERN.format(worker="*"))):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict):
            return document
    return {}


class WorkerSide:
    """In an xdist worker: the pair marks, the collection file, the progress sink."""

    def __init__(self, config: pytest.Config, folder: Path | None) -> None:
        self.config = config
        self.folder = folder
        self.worker = str(config.workerinput.get("workerid", "gw?"))  # type: ignore[attr-defined]

    @pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marks under --dist loadgroup
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            key = pair_key(item)
            if key is not None and item.get_closest_marker("xdist_group") is None:
                item.add_marker(pytest.mark.xdist_group(name=key))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.folder is None:
            return
        document = {
            "units": {item.nodeid: pair_key(item) for item in session.items},
            "deselected": deselection_lines(self.config),
        }
        path = self.folder / COLLECTION_PATTERN.format(worker=self.worker)
        temporary = path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(document), encoding="utf-8")
            os.replace(temporary, path)
        except OSError:
            pass

    def progress(self) -> FileProgress | None:
        if self.folder is None:
            return None
        return FileProgress(self.folder / FILE_PATTERN.format(worker=self.worker), self.worker)


class ControllerSide:
    """In the xdist controller: the session folder, the scheduler, the deselection lines, the progress monitor."""

    def __init__(self, config: pytest.Config, schedule: str, progress_every: float | None) -> None:
        self.config = config
        self.schedule = schedule
        self.folder = Path(tempfile.mkdtemp(prefix="albench-session-"))
        self.lines: list[str] | None = None
        self.printed = False
        self.progress_every = progress_every
        self.monitor: ProgressMonitor | None = None
        self._starting = 0  # local workers xdist is still starting
        self._set_malloc = False  # whether GLIBC_TUNABLES is ours to remove

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, specs: list[Any]) -> None:
        """Local workers inherit the controller's environment when xdist starts them: give them
        :data:`WORKER_MALLOC` (glibc reads it only at process start), then restore ours."""
        self._starting = sum(1 for spec in specs if getattr(spec, "popen", False))
        if self._starting and sys.platform.startswith("linux") and "GLIBC_TUNABLES" not in os.environ:
            os.environ["GLIBC_TUNABLES"] = WORKER_MALLOC
            self._set_malloc = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_newgateway(self, gateway: Any) -> None:
        self._starting -= 1
        if self._starting <= 0:
            self._restore_malloc()

    def _restore_malloc(self) -> None:
        if self._set_malloc:
            os.environ.pop("GLIBC_TUNABLES", None)
            self._set_malloc = False

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[FOLDER_KEY] = str(self.folder)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if self.schedule != "pairs" or config.getvalue("dist") != "load":
            return None
        from .pair_scheduling import PairScheduling

        return PairScheduling(config, log, self.units)

    def units(self) -> Mapping[str, str | None]:
        units = read_collection(self.folder).get("units")
        return units if isinstance(units, dict) else {}

    @pytest.hookimpl(trylast=True)  # the terminal reporter exists by now
    def pytest_sessionstart(self) -> None:
        write_line = terminal_line_writer(self.config)
        if self.progress_every is not None and write_line is not None and self.monitor is None:
            self.monitor = ProgressMonitor(self.folder, write_line, every=self.progress_every)
            self.config.pluginmanager.register(self.monitor, "albench-progress")
            self.monitor.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if self.lines is None:
            lines = read_collection(self.folder).get("deselected")
            if isinstance(lines, list):
                self.lines = [str(text) for text in lines]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        lines = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if self.lines is None and isinstance(lines, list):
            self.lines = [str(text) for text in lines]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self) -> None:
        self._print_lines()

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self._print_lines()

    def _print_lines(self) -> None:
        if self.printed or not self.lines:
            return
        self.printed = True
        write_line = terminal_line_writer(self.config)
        if write_line is not None:
            for text in self.lines:
                write_line(text)

    def pytest_unconfigure(self) -> None:
        self._restore_malloc()  # a worker that failed to start never reported its gateway
        if self.monitor is not None:
            self.monitor.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def register_workers(config: pytest.Config, schedule: str, progress_every: float | None) -> None:
    """Register the xdist side of this process: a worker's, or the controller's (``progress_every`` None: no
    progress lines). Nothing without xdist."""
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    if hasattr(config, "workerinput"):
        worker = WorkerSide(config, worker_folder(config))
        config.pluginmanager.register(worker, PLUGIN_NAME)
        config.stash[WORKER_KEY] = worker
    elif distributing(config):
        config.pluginmanager.register(ControllerSide(config, schedule, progress_every), PLUGIN_NAME)
