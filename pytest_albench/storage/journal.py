"""The results journal: every finished case appended to disk as it arrives, so a killed session loses none.

``--albench-json`` writes its results file once, at the end of the session. A session killed after
three hours (a job's time limit, ``kill -9``, a lost node) would lose every result before then; so the
controller also appends each case record, as it arrives, to ``<json path>.partial.jsonl`` — one JSON
object per line, flushed and fsynced — and deletes the journal once the results file is written.
``albench-report`` reads a journal like a results file (see :mod:`.results_file`), skipping a last line
cut off by the kill.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import AlbenchError

JOURNAL_SUFFIX = ".partial.jsonl"
JOURNAL_FORMAT = 1


class JournalError(AlbenchError):
    """A journal that cannot be written or read."""


def journal_path(results_path: str | os.PathLike[str]) -> Path:
    """Where the journal of a results file lives: beside it, named after it."""
    path = Path(results_path)
    return path.with_name(path.name + JOURNAL_SUFFIX)


def is_journal(path: str | os.PathLike[str]) -> bool:
    return str(path).endswith(JOURNAL_SUFFIX)


def keep_earlier_journal(path: str | os.PathLike[str]) -> Path | None:
    """Move a journal that an earlier, killed session left at ``path`` aside, under a name of its own.

    A rerun with the same ``--albench-json`` (say, of the cases the killed session did not finish)
    would otherwise start its journal over the old one, which may be the only copy of the killed
    session's results. The kept file is named ``<results>.interrupted-<time>.partial.jsonl``, so
    ``albench-report`` still reads it as a journal; returns its path, or None when there was none.
    """
    old = Path(path)
    if not old.exists():
        return None
    results = old.name[: -len(JOURNAL_SUFFIX)] if is_journal(old) else old.name
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(old.stat().st_mtime))
    for attempt in range(1000):
        suffix = f"-{attempt}" if attempt else ""
        kept = old.with_name(f"{results}.interrupted-{stamp}{suffix}{JOURNAL_SUFFIX}")
        if not kept.exists():
            os.replace(old, kept)
            return kept
    raise JournalError(f"{old}: too many kept journals beside it; move or delete the old ones")


class EarlierJournalError(JournalError):
    """A journal an earlier session left at the path could not be moved aside; it is left as it was."""


class ResultsJournal:
    """Append-only journal of one session; opened lazily on the first case, so a session without any
    albench case (or one that writes none: ``--collect-only``, the embedding stage) leaves no file behind
    and leaves an earlier session's journal where it is."""

    def __init__(self, path: str | os.PathLike[str], header: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.header = {"albench_journal": JOURNAL_FORMAT, **header}
        self._handle: TextIO | None = None

    def append(self, record: Mapping[str, Any]) -> Path | None:
        """Write one case record durably (flush + fsync): after this returns, a kill cannot lose it.

        The first call opens the journal, first moving an earlier session's journal at the same path
        aside (:func:`keep_earlier_journal`), and returns where that one is now kept; every other call
        returns None. :class:`EarlierJournalError` when it cannot be moved: nothing is then written over it.
        """
        kept = None
        if self._handle is None:
            try:
                kept = keep_earlier_journal(self.path)
            except (OSError, JournalError) as exc:
                raise EarlierJournalError(str(exc)) from exc
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - held for the session
            self._write(self.header)
        self._write(record)
        return kept

    def _write(self, obj: Mapping[str, Any]) -> None:
        assert self._handle is not None
        self._handle.write(json.dumps(obj, sort_keys=True, allow_nan=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def finish(self) -> None:
        """The results file is written: the journal has served its purpose."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_journal(path: Path) -> tuple[dict[str, Any], list[Any], list[str]]:
    """(header, case records, notes) of a journal; a last line cut off by a kill becomes a note."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalError(f"results journal {path} cannot be read ({exc})") from exc
    if not lines:
        raise JournalError(f"results journal {path} is empty: the session was killed before any case finished")
    parsed: list[Any] = []
    notes: list[str] = []
    for number, line in enumerate(lines, start=1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                notes.append(f"{path}: the last line was cut off (the session was killed while writing it)")
                continue
            raise JournalError(f"results journal {path}, line {number}: not JSON; the file is damaged") from None
    if not parsed:  # the one line there was is the header, cut off
        raise JournalError(f"results journal {path}: the session was killed while writing its header; no case finished")
    header = parsed[0]
    if not isinstance(header, dict) or header.get("albench_journal") != JOURNAL_FORMAT:
        raise JournalError(f"{path} is not a pytest-albench results journal (format {JOURNAL_FORMAT})")
    collected = header.get("collected", [])
    if not isinstance(collected, list) or not all(isinstance(nodeid, str) for nodeid in collected):
        raise JournalError(
            f"results journal {path}: its header's 'collected' is not a list of test ids; the file is damaged"
        )
    return header, parsed[1:], notes


def journal_missing(header: Mapping[str, Any], cases: Sequence[Any]) -> list[str]:
    """The collected cases that never reported: the session was killed before they finished."""
    done = {c.get("nodeid") for c in cases if isinstance(c, Mapping)}
    return [nodeid for nodeid in header.get("collected", []) if nodeid not in done]
