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

from .options import AlbenchSettings, add_options, resolve_settings

SETTINGS_KEY = pytest.StashKey[AlbenchSettings]()
STATE_KEY = pytest.StashKey["SessionState"]()
CASE_MARKER = "albench_case"


class SessionState:
    """What the controller gathers while reports stream in."""

    def __init__(self) -> None:
        self.cases: list[dict[str, Any]] = []
        self.missing: list[str] = []
        self.written: list[str] = []
        self.engine: Any = None
        self.threads: int | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "albench(**settings): per-case settings for the albench fixture: seeds, tolerance, alpha, test, "
        "and run settings (initial_pool_size, query_size, cycles, initial_pool_method, head, max_pool, ...)",
    )
    config.addinivalue_line("markers", f"{CASE_MARKER}: set on every test that uses the albench fixture")
    config.stash[SETTINGS_KEY] = resolve_settings(config)
    config.stash[STATE_KEY] = SessionState()
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from ..engine.device import threads_per_worker

        config.stash[STATE_KEY].threads = threads_per_worker(int(workerinput.get("workercount", 1)))
    else:
        config.pluginmanager.register(Controller(config), "albench-controller")


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash[SETTINGS_KEY].header()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "albench" in getattr(item, "fixturenames", ()):
            item.add_marker(CASE_MARKER)


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
        state.engine = Engine(
            data_dir=settings.data_dir,
            cache_dir=settings.cache_dir,
            device=resolve_device(settings.device, index),
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
    return AlbenchRunner(request, settings, _engine(config), _progress_writer(config) if settings.progress else None)


def _progress_writer(config: pytest.Config) -> Any:
    """Inline progress after the verbose test id, only where it cannot garble output (no xdist)."""
    if hasattr(config, "workerinput") or config.getoption("verbose") < 1:
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

    return write


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if call.when == "call":
        from .case import CASE_KEY

        case = item.stash.get(CASE_KEY, None)
        if case is not None:
            report.albench = case  # JSON-safe; xdist ships it to the controller with the report
        if call.excinfo is not None:
            from ..errors import AlbenchError

            if isinstance(call.excinfo.value, AlbenchError):
                report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
    return report


class Controller:
    """Registered only in the controlling process: gathers case records, writes files, prints tables."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state = config.stash[STATE_KEY]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = getattr(report, "albench", None)
        if case is not None and report.when == "call":
            self.state.cases.append(case)
            if case.get("write_baseline") and case.get("baseline_path"):
                from ..storage.baselines import write_baseline

                write_baseline(Path(case["baseline_path"]), case)
                self.state.written.append(case["baseline_path"])
        elif report.failed and (CASE_MARKER in report.keywords or "crashed while running" in str(report.longrepr)):
            if report.nodeid not in self.state.missing:
                self.state.missing.append(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        if not state.cases and not state.missing:
            return
        from ..report.outputs import write_outputs
        from ..report.tables import render_text

        terminalreporter.write_sep("=", "pytest-albench results")
        terminalreporter.write_line(render_text(state.cases, state.missing))
        if state.written:
            terminalreporter.write_line(f"\nalbench: wrote {len(state.written)} baseline file(s)")
        settings = self.config.stash[SETTINGS_KEY]
        for line in write_outputs(settings, state.cases, state.missing):
            terminalreporter.write_line(line)
        if state.cases:
            try:
                lines = grid_report_lines(settings, state.cases, state.missing)
            except Exception as exc:  # the results are already written; a report failure must not hide them
                lines = [f"albench: WARNING: the statistics/report step failed ({type(exc).__name__}: {exc}); "
                         "rebuild it later with albench-report from the --albench-json file"]
            for line in lines:
                terminalreporter.write_line(line)


def grid_report_lines(settings: AlbenchSettings, cases: list[dict[str, Any]], missing: list[str]) -> list[str]:
    """The Friedman/post-hoc digest (when something can be ranked) and, with ``--albench-plots``, the
    report page and figures; returns the lines to print. A missing matplotlib is a warning line."""
    from ..report.page import RunInfo, friedman_summary, grid_analysis, write_report

    analysis, note = grid_analysis(cases)
    lines = []
    if analysis is not None:
        summary = friedman_summary(analysis)
        if summary.rows:
            lines.append("\n" + summary.render("simple"))
    if settings.plots_dir:
        from ..report.figures import formats_for

        sources = (f"{settings.json_path} (this session)",) if settings.json_path else ()
        info = RunInfo(sources=sources, profiles=(settings.profile,), seeds=settings.seeds)
        outcome = write_report(Path(settings.plots_dir), cases, missing, info,
                               plot_formats=formats_for(settings.plot_format), analysis=(analysis, note))
        lines.extend(f"albench: WARNING: {message}" for message in outcome.warnings)
        if outcome.figures:
            lines.append(f"albench: {len(outcome.figures)} figure file(s) written to {Path(settings.plots_dir) / 'figures'}")
        lines.extend(f"albench: report written to {path}" for path in outcome.pages)
    return lines
