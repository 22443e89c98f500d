"""The controlling process: gathers case records, writes baselines and outputs, gates, prints the tables.

Nothing one case or one file does may cost the session its other results. So every write here is
guarded on its own: a baseline folder that cannot be written is a warning per case (the tables and the
results file still come), each output file is written independently, every case record is appended to
a journal as it arrives (a killed session keeps what finished), and an ``--albench-update`` session
marks the baseline folders it writes until it has finished, so a set left half old, half new is
reported by the next session instead of being trusted.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..record import CaseRecord
from .options import AlbenchSettings

if TYPE_CHECKING:
    from ..analysis import GridSummary
    from ..analysis.gate import GateResult
    from ..storage.journal import ResultsJournal

#: Left in a baseline folder while an ``--albench-update`` session writes it; removed when it finishes.
UPDATE_MARKER = ".albench-update-in-progress.json"


class SessionState:
    """What the controller gathers while reports stream in (and, in every process, the engine)."""

    def __init__(self) -> None:
        self.cases: list[CaseRecord] = []
        self.missing: list[str] = []
        self.written: list[str] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.engine: Any = None
        self.threads: int | None = None
        #: In an xdist worker: how many workers the session has (for the compute slots); 0 elsewhere.
        self.workers: int = 0
        self.family_size: int = 0
        self.gate: GateResult | None = None
        #: ``--albench-embed-only``: the (dataset × encoder) pairs the stage's cases embedded, with rows.
        self.embedded: dict[str, int] = {}
        #: Cases whose test file shares its baseline folder with another's: node id → the error they fail with.
        self.baseline_clashes: dict[str, str] = {}


class Controller:
    """Registered only in the controlling process (the main one, or xdist's controller)."""

    def __init__(self, config: pytest.Config, settings: AlbenchSettings, state: SessionState, case_marker: str) -> None:
        self.config = config
        self.settings = settings
        self.state = state
        self.case_marker = case_marker
        self.journal: ResultsJournal | None = None
        self.marked_folders: set[Path] = set()
        self.prepared = False

    # ------------------------------------------------------------------------------ collection

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        items = [item for item in session.items if item.get_closest_marker(self.case_marker)]
        self._prepare([item.nodeid for item in items], {Path(str(item.path)) for item in items})

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Under xdist the controller collects nothing itself; the first worker's ids stand in."""
        if not self.prepared:
            rootdir = Path(str(self.config.rootpath))
            self._prepare(list(ids), {rootdir / nodeid.split("::", 1)[0] for nodeid in ids})

    def _prepare(self, nodeids: list[str], test_files: set[Path]) -> None:
        """Before the first case: warn about half-written baseline sets, remove temp files of killed
        writes, and open the results journal."""
        self.prepared = True
        if not nodeids:
            return
        from ..storage.atomic import remove_stale_temp_files

        folders = {self.settings.baseline_dir_for(path) for path in test_files}
        self.state.warnings.extend(_interrupted_updates(folders))
        for folder in folders:
            remove_stale_temp_files(folder)
        if self.settings.json_path:
            from ..storage.journal import ResultsJournal, journal_path

            header = {
                "profile": self.settings.profile,
                "seeds": list(self.settings.seeds or ()),
                "started": time.time(),
                "collected": nodeids,
            }
            self.journal = ResultsJournal(journal_path(self.settings.json_path), header)

    # ------------------------------------------------------------------------------ reports

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        embedded = getattr(report, "albench_embedded", None)
        if embedded is not None and report.when == "call":
            self.state.embedded[str(embedded["pair"])] = int(embedded["rows"])
        case = getattr(report, "albench", None)
        if case is not None and report.when == "call":
            self.state.cases.append(case)
            self._journal(case)
            if case.get("write_baseline") and case.get("baseline_path"):
                self._write_baseline(case)
        elif (
            report.failed
            and (self.case_marker in report.keywords or "crashed while running" in str(report.longrepr))
            and report.nodeid not in self.state.missing
        ):
            self.state.missing.append(report.nodeid)

    def _journal(self, case: CaseRecord) -> None:
        if self.journal is None:
            return
        from ..storage.journal import EarlierJournalError

        path = self.journal.path
        try:
            kept = self.journal.append(case)
        except EarlierJournalError as exc:  # never written over: this session goes without a journal
            self.state.warnings.append(
                f"the journal {path} of an earlier, interrupted session could not be moved aside ({exc}); it is "
                f"left as it was and this session keeps no journal. albench-report {path} builds its report"
            )
            self.journal = None
            return
        except (OSError, ValueError) as exc:
            self.state.warnings.append(
                f"the results journal {path} could not be written ({exc}); "
                "results are kept in memory until the session ends"
            )
            self.journal = None
            return
        if kept is not None:
            self.state.warnings.append(
                f"an interrupted session's results journal was at {path}; it is kept as {kept} "
                f"(albench-report {kept} builds its report)"
            )

    def _write_baseline(self, case: CaseRecord) -> None:
        from ..errors import AlbenchError
        from ..storage.baselines import write_baseline

        path = Path(case["baseline_path"])
        try:
            self._mark_update(path.parent)
            write_baseline(path, case)
        except (OSError, ValueError, AlbenchError) as exc:
            case["baseline"]["written"] = f"NOT written: {exc}"
            self.state.warnings.append(
                f"the baseline of {case['case_id']} could not be written to {path} ({type(exc).__name__}: {exc}); "
                "its old baseline, if any, is unchanged. Make the folder writable or pass --albench-baseline-dir"
            )
            return
        self.state.written.append(str(path))

    def _mark_update(self, folder: Path) -> None:
        """Mark a baseline folder as being rewritten until this session finishes."""
        if folder in self.marked_folders:
            return
        from ..storage.atomic import write_json_atomic

        write_json_atomic(
            folder / UPDATE_MARKER,
            {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
        )
        self.marked_folders.add(folder)

    # ------------------------------------------------------------------------------ the end

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """The session-wide gate runs before the summary, so that the tables show its verdicts and a
        regression it finds fails the run (without raising, as a test failure would)."""
        for folder in self.marked_folders:
            (folder / UPDATE_MARKER).unlink(missing_ok=True)
        compared = [c for c in self.state.cases if "baseline" in c]
        if not compared or self.settings.compare == "off":
            return
        if self.settings.shard is not None:
            # a shard holds part of the grid's p-values: adjusting them alone could flag what the whole
            # grid's correction would not, so the merge (albench-report --merge) runs the gate
            self.state.notes.append(
                f"shard {self.settings.shard.label}: the session-wide regression gate "
                "runs when the shards are merged (albench-report --merge); only cases below alpha / (cases in the "
                "grid) failed here"
            )
            return
        from ..analysis.gate import session_gate

        self.state.gate = session_gate(self.state.cases, self.settings.alpha, self.settings.correction)
        late = set(self.state.gate.flagged_late) - {c["case_id"] for c in self.state.cases if c.get("write_baseline")}
        if late and "regressed" in self.settings.fail_on and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        if self.settings.embed_only:
            terminalreporter.write_sep("=", "pytest-albench embedding stage")
            rows = sum(state.embedded.values())
            terminalreporter.write_line(
                f"albench: {len(state.embedded)} (dataset × encoder) pair(s), {rows:,} pool and test rows, are in "
                "the embedding cache; run the same selection without --albench-embed-only to run its AL cases"
            )
            for pair in sorted(state.embedded):
                terminalreporter.write_line(f"  {pair}: {state.embedded[pair]:,} rows")
            return
        if not state.cases and not state.missing and not state.warnings:
            return
        terminalreporter.write_sep("=", "pytest-albench results")
        for line in self._summary_lines():
            terminalreporter.write_line(line)

    def _summary_lines(self) -> list[str]:
        from ..analysis import summarize
        from ..analysis.gate import gate_lines
        from ..report.outputs import RESULTS_JSON, write_outputs
        from ..report.tables import render_text

        state, settings = self.state, self.settings
        summary = summarize(state.cases) if state.cases else None  # ranked once; every table reads it
        # the files first: a table that fails to render must not cost the session's results files
        written: set[str] = set()
        output_lines = write_outputs(settings, state.cases, state.missing, summary, written)
        lines: list[str] = []
        if state.cases or state.missing:
            try:
                lines.append(render_text(state.cases, state.missing, summary))
            except Exception as exc:  # noqa: BLE001 - the results files are written; say so, do not crash
                lines.append(
                    f"albench: WARNING: the rank tables could not be rendered ({type(exc).__name__}: {exc}); "
                    "rebuild them with albench-report from the --albench-json file"
                )
        if state.gate is not None:
            lines += gate_lines(state.gate)
        lines += [f"albench: {note}" for note in state.notes]
        if state.written:
            lines.append(f"albench: wrote {len(set(state.written))} baseline file(s)")
        lines += [f"albench: WARNING: {warning}" for warning in state.warnings]
        lines += output_lines
        if self.journal is not None:
            if RESULTS_JSON in written:
                self.journal.finish()  # the results file holds everything the journal held
            else:  # keep it: it is then the only file with this session's results
                self.journal.close()
                lines.append(f"albench: this session's results are kept in {self.journal.path}")
        elif settings.json_path and state.cases and RESULTS_JSON not in written:
            lines.append(
                "albench: WARNING: neither the results JSON nor its journal could be written: this session's "
                "results are in no file"
            )
        if state.cases:
            try:
                lines += grid_report_lines(settings, state.cases, state.missing, summary)
            except Exception as exc:  # noqa: BLE001 - the results are already written; a report failure must not hide them
                lines.append(
                    f"albench: WARNING: the statistics/report step failed ({type(exc).__name__}: {exc}); "
                    "rebuild it later with albench-report from the --albench-json file"
                )
        return lines


def _interrupted_updates(folders: set[Path]) -> list[str]:
    """Warnings for baseline folders an earlier ``--albench-update`` session left half written."""
    warnings = []
    for folder in sorted(folders):
        marker = folder / UPDATE_MARKER
        if not marker.is_file():
            continue
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            who = f"started {info.get('started')} by pid {info.get('pid')} on {info.get('host')}"
        except (OSError, ValueError):
            who = "of unknown origin"
        warnings.append(
            f"the baselines in {folder} may be a mix of old and new: an --albench-update session ({who}) did not "
            f"finish. Rerun with --albench-update=all to rewrite them all (then {marker.name} goes away)"
        )
    return warnings


def grid_report_lines(
    settings: AlbenchSettings, cases: list[CaseRecord], missing: list[str], grid_summary: GridSummary | None = None
) -> list[str]:
    """The Friedman/post-hoc digest (when something can be ranked) and, with ``--albench-plots``, the
    report page and figures; returns the lines to print. A missing matplotlib is a warning line."""
    from ..report.page import RunInfo, friedman_summary, grid_analysis, write_report

    analysis, note = grid_analysis(cases, summary=grid_summary)
    lines = []
    if analysis is not None:
        summary = friedman_summary(analysis)
        if summary.rows:
            lines.append("\n" + summary.render("simple"))
    if settings.plots_dir:
        from ..report.figures import formats_for

        sources = (f"{settings.json_path} (this session)",) if settings.json_path else ()
        info = RunInfo(sources=sources, profiles=(settings.profile,), seeds=settings.seeds)
        outcome = write_report(
            Path(settings.plots_dir),
            cases,
            missing,
            info,
            plot_formats=formats_for(settings.plot_format),
            analysis=(analysis, note),
            summary=grid_summary,
        )
        lines.extend(f"albench: WARNING: {message}" for message in outcome.warnings)
        if outcome.figures:
            lines.append(
                f"albench: {len(outcome.figures)} figure file(s) written to {Path(settings.plots_dir) / 'figures'}"
            )
        lines.extend(f"albench: report written to {path}" for path in outcome.pages)
    return lines
