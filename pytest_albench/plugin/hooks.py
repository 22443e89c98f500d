"""pytest hooks of pytest-albench; the work happens in the modules these forward to.

Lifecycle: options are resolved once in ``pytest_configure``. Each case runs in whichever process
executes the test (an xdist worker or the main process), attaches its JSON-safe record to the call
report, and ``pytest_runtest_logreport`` collects records on the controller, which alone writes
baseline and result files and prints the tables. The plugin is imported by every pytest run where it
is installed, so torch and the engine are only imported when a case actually runs.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .controller import Controller, SessionState, grid_report_lines
from .options import AlbenchSettings, add_options, given_on_command_line, resolve_settings
from .paths import check_paths
from .progress import InlineProgress, ProgressSink
from .requirements import register_requirements
from .shard import register_shard
from .workers import WORKER_KEY, register_workers, worker_folder

SETTINGS_KEY = pytest.StashKey[AlbenchSettings]()
STATE_KEY = pytest.StashKey["SessionState"]()
CASE_MARKER = "albench_case"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "albench(**settings): per-case settings for the albench fixture: seeds, tolerance, alpha, test, "
        "and run settings (initial_pool_size, query_size, cycles, initial_pool_method, head, max_pool, ..., "
        "strategy_params={name: value} for the strategy's declared parameters, checked against their ranges)",
    )
    config.addinivalue_line("markers", f"{CASE_MARKER}: set on every test that uses the albench fixture")
    config.stash[SETTINGS_KEY] = resolve_settings(config)
    settings = config.stash[SETTINGS_KEY]
    # both deselect in a trylast pytest_collection_modifyitems, which pluggy calls in the order of
    # registration: the cases that cannot run here go first, then the shards split what is left
    register_requirements(config, settings.data_dir)
    register_shard(config, settings.shard)  # --albench-shard: deselects the other shards' cases
    progress_lines = settings.progress and config.getoption("verbose") >= 0  # -q hides them
    register_workers(config, settings.schedule, settings.progress_every if progress_lines else None)
    config.stash[STATE_KEY] = SessionState()
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from ..engine.device import threads_per_worker

        workers = int(workerinput.get("workercount", 1))
        config.stash[STATE_KEY].threads = threads_per_worker(workers)
        config.stash[STATE_KEY].workers = workers
    else:
        _check_device(config.stash[SETTINGS_KEY].device)  # once, at start-up, before any case (xdist too)
        # outputs, data and cache folders: before hours of work, not after
        check_paths(settings, given_on_command_line(config, "data-dir", "cache-dir"))
        controller = Controller(config, config.stash[SETTINGS_KEY], config.stash[STATE_KEY], CASE_MARKER)
        config.pluginmanager.register(controller, "albench-controller")


def _configure_slots(config: pytest.Config, workers: int, device: str) -> None:
    """An xdist worker's compute slots (``--albench-cpu-slots``), in the session folder it shares with the
    other workers of this machine; a worker that cannot see the folder takes none."""
    from ..storage.cpu_slots import configure_slots, usable_cores
    from .options import cpu_slots_for

    slots = cpu_slots_for(config.stash[SETTINGS_KEY].cpu_slots, workers, usable_cores(), on_gpu=device != "cpu")
    folder = worker_folder(config)
    configure_slots(folder / "cpu-slots" if folder is not None else None, slots)


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash[SETTINGS_KEY].header()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "albench" in getattr(item, "fixturenames", ()):
            item.add_marker(CASE_MARKER)


def baseline_clashes(settings: AlbenchSettings, items: list[pytest.Item]) -> dict[str, str]:
    """The selected cases whose test file would share a baseline folder with another selected file, each
    with the message it fails with.

    Two test files must never share one: one's baselines would overwrite the other's, and each would be
    judged against the other's. Under ``--albench-baseline-dir`` the folder is named after the file's
    name alone, so ``a/test_x.py`` and ``b/test_x.py`` would. The cases fail at setup, one line each,
    in whichever process runs them (a usage error raised in an xdist worker would be an internal error).
    """
    if not settings.baseline_dir or (settings.compare == "off" and settings.update == "none"):
        return {}
    folder_of = {item.nodeid: settings.baseline_dir_for(Path(str(item.path))) for item in items}
    files: dict[Path, set[Path]] = {}
    for item in items:
        files.setdefault(folder_of[item.nodeid], set()).add(Path(str(item.path)))
    clashes: dict[str, str] = {}
    for item in items:
        folder = folder_of[item.nodeid]
        if len(files[folder]) > 1:
            names = " and ".join(str(p) for p in sorted(files[folder]))
            clashes[item.nodeid] = (
                f"--albench-baseline-dir: {names} would share the baseline folder {folder} (it is named after the "
                "test file's name), so their baselines would overwrite each other; rename one of the files, or "
                "select one of them per session with a different --albench-baseline-dir"
            )
    return clashes


def pytest_collection_finish(session: pytest.Session) -> None:
    """Every process (xdist workers collect too) learns how many albench cases the session holds: the
    regression gate's family size."""
    config = session.config
    cases = [item for item in session.items if item.get_closest_marker(CASE_MARKER) is not None]
    count = len(cases)
    config.stash[STATE_KEY].baseline_clashes = baseline_clashes(config.stash[SETTINGS_KEY], cases)
    shard = config.stash[SETTINGS_KEY].shard  # a shard's cases are judged as members of the whole grid
    config.stash[STATE_KEY].family_size = shard.grid_cases(count) if shard is not None else count


def _check_device(device: str) -> None:
    """A device that cannot be had is one usage error at start-up, not a traceback at every case."""
    if device in ("auto", "cpu"):
        return
    from ..engine.device import resolve_device
    from ..errors import ConfigError

    try:
        resolve_device(device)
    except ConfigError as exc:
        raise pytest.UsageError(f"--albench-device: {exc}") from None


def _engine(config: pytest.Config) -> Any:
    """One engine per process: it keeps embedded pools in memory across the cases it runs."""
    state = config.stash[STATE_KEY]
    if state.engine is None:
        from ..engine.device import cap_threads, resolve_device
        from ..engine.engine import Engine

        if state.threads:
            cap_threads(state.threads)
        settings = config.stash[SETTINGS_KEY]
        worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
        index = int(worker[2:]) if worker[2:].isdigit() else 0
        device = resolve_device(settings.device, index)
        if state.workers:
            _configure_slots(config, state.workers, device)
        state.engine = Engine(
            data_dir=settings.data_dir,
            cache_dir=settings.cache_dir,
            device=device,
            progress=False,
            trust_remote_code=settings.trust_remote_code,
        )
    return state.engine


@pytest.fixture
def albench(request: pytest.FixtureRequest) -> Any:
    """Run an AL case: ``albench(dataset, embedding, strategy, **overrides)`` returns its record."""
    from .case import AlbenchRunner

    config = request.config
    settings = config.stash[SETTINGS_KEY]
    clash = config.stash[STATE_KEY].baseline_clashes.get(request.node.nodeid)
    if clash is not None:
        pytest.fail(clash, pytrace=False)
    return AlbenchRunner(
        request,
        settings,
        _engine(config),
        _progress_sink(config, request.node) if settings.progress else None,
        family_size=config.stash[STATE_KEY].family_size,
    )


def _progress_sink(config: pytest.Config, node: pytest.Item) -> ProgressSink | None:
    """Under xdist, events to the controller through the session folder (it prints whole lines); without,
    inline progress after the verbose test id."""
    if hasattr(config, "workerinput"):
        if config.getoption("verbose") < 0:  # -q: the controller prints no progress lines
            return None
        worker = config.stash.get(WORKER_KEY, None)
        sink = worker.progress() if worker is not None else None
        if sink is not None:
            sink.case_started(node)
        return sink
    if config.getoption("verbose") < 1:
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return None

    def write(text: str) -> None:
        if not text:
            return
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write(text, flush=True)
        else:
            reporter.write(text, flush=True)

    return InlineProgress(write)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call":
        case = None
        if item.get_closest_marker(CASE_MARKER) is not None:  # .case loads numpy: only albench cases pay
            from .case import CASE_KEY, EMBEDDED_KEY

            case = item.stash.get(CASE_KEY, None)
            embedded = item.stash.get(EMBEDDED_KEY, None)
            if embedded is not None:
                report.albench_embedded = embedded  # the embedding stage's pair, for the controller's count
        if case is not None:
            report.albench = case  # JSON-safe; xdist ships it to the controller with the report
        if call.excinfo is not None:
            from ..errors import AlbenchError

            if isinstance(call.excinfo.value, AlbenchError):
                report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
    return report


__all__ = ["CASE_MARKER", "SETTINGS_KEY", "STATE_KEY", "Controller", "SessionState", "grid_report_lines"]
