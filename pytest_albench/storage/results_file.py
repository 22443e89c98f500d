"""Results files (``--albench-json``): the document written, read back, checked, and several merged into one grid.

Why this exists: the report of a grid that took hours must be rebuildable later, and past runs must be
comparable side by side, without rerunning anything. A results file may be old, hand-edited or cut
off by a full disk, so every problem is reported with the file it is in and what to do about it,
never as a ``KeyError`` deep inside a table. Each case is checked by :func:`pytest_albench.record.check_record`,
the one definition of a case record.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AlbenchError
from ..record import CaseRecord, RecordError, check_record, describe
from .journal import JournalError, is_journal, journal_missing, read_journal

#: Version of the document around the cases; each case carries its own ``record_version``.
RESULTS_FORMAT_VERSION = 1
#: A run label becomes part of a variant ("run=old"), so it must not contain spaces or "=".
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")


class ResultsFileError(AlbenchError):
    """A results file that cannot be read, is of another format version, or lacks required fields."""


@dataclass(frozen=True)
class ResultsFile:
    """One loaded results document and where it came from."""

    path: str
    profile: str
    seeds: tuple[int, ...]
    cases: list[CaseRecord]
    missing: list[str]
    label: str | None = None
    #: The ``shard`` entry of a ``--albench-shard`` session's file (see plugin/shard.py), else None.
    shard: dict[str, Any] | None = None
    #: What reading it found worth saying (a journal's last line cut off by the kill).
    notes: list[str] = field(default_factory=list)


@dataclass
class MergedResults:
    """The cases of several files as one grid, with the files they came from (for the report)."""

    files: list[ResultsFile]
    cases: list[CaseRecord] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def profiles(self) -> list[str]:
        return sorted({f.profile for f in self.files})

    @property
    def seeds(self) -> list[int]:
        return sorted({s for f in self.files for s in f.seeds})


def results_document(
    profile: str,
    seeds: Sequence[int],
    cases: Sequence[CaseRecord],
    missing: Sequence[str],
    shard: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document ``--albench-json`` writes: cases in node-id order, so serial and xdist runs agree;
    a shard's file also says which shard of which grid it holds (``shard``)."""
    return {
        **({"shard": dict(shard)} if shard is not None else {}),
        "format_version": RESULTS_FORMAT_VERSION,
        "profile": profile,
        "seeds": list(seeds),
        "cases": sorted(cases, key=lambda c: c["nodeid"]),
        "missing": sorted(missing),
    }


def load_results(path: str | os.PathLike[str], label: str | None = None) -> ResultsFile:
    """Parse and validate one results file; raises :class:`ResultsFileError` naming file and problem.

    A session's journal (``<results>.partial.jsonl``, left by a killed session) reads as a results file
    whose cases are those that finished; the collected cases that never reported are its ``missing``.
    """
    where = str(path)
    if is_journal(path):
        return _load_journal(Path(path), label)
    try:
        raw = Path(path).read_bytes()
        # gzip-compressed results (``.json.gz``) are read as they are: a big grid's file shrinks ~10x
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except FileNotFoundError:
        raise ResultsFileError(f"results file {where} does not exist; pass the path given to --albench-json") from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"results file {where} cannot be read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsFileError(
            f"results file {where} is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "it may be cut off — rerun the session with --albench-json to write it again"
        ) from None
    return _validate(document, where, label)


def _load_journal(path: Path, label: str | None) -> ResultsFile:
    try:
        header, cases, notes = read_journal(path)
    except JournalError as exc:
        raise ResultsFileError(str(exc)) from None
    document = {
        "format_version": RESULTS_FORMAT_VERSION,
        "profile": header.get("profile", "?"),
        "seeds": header.get("seeds"),
        "cases": cases,
        "missing": journal_missing(header, cases),
    }
    results = _validate(document, str(path), label)
    results.notes.extend(notes)
    return results


def _validate(document: Any, where: str, label: str | None) -> ResultsFile:
    if not isinstance(document, dict):
        raise ResultsFileError(
            f"results file {where} holds a JSON {type(document).__name__}, not an object; "
            "is it a results file written by --albench-json?"
        )
    version = document.get("format_version")
    if version is None:
        raise ResultsFileError(
            f"results file {where} has no 'format_version'; "
            "is it a results file written by --albench-json (not a baseline file)?"
        )
    if version != RESULTS_FORMAT_VERSION:
        raise ResultsFileError(
            f"results file {where} has format_version {version!r}, this version of "
            f"pytest-albench reads {RESULTS_FORMAT_VERSION}; rerun the session to write it again"
        )
    cases = document.get("cases")
    if not isinstance(cases, list):
        problem = "has no 'cases' list" if cases is None else f"has 'cases' of type {type(cases).__name__}, not a list"
        raise ResultsFileError(f"results file {where} {problem}; is it a results file written by --albench-json?")
    checked = [_check_case(case, index, where) for index, case in enumerate(cases)]
    # absent, null (a journal whose header has none) or empty seeds are the runs' seeds
    seeds = document.get("seeds")
    seeds = _list_of([] if seeds is None else seeds, "seeds", int, where)
    seeds = seeds or sorted({r["seed"] for c in checked for r in c["runs"]})
    profile = document.get("profile", "?")
    if not isinstance(profile, str):
        raise ResultsFileError(f"results file {where}: 'profile' is {describe(profile)}, expected a string")
    return ResultsFile(
        path=where,
        profile=profile,
        seeds=tuple(seeds),
        cases=checked,
        missing=_list_of(document.get("missing", []), "missing", str, where),
        label=label,
        shard=document["shard"] if isinstance(document.get("shard"), dict) else None,
    )


def _list_of(value: Any, key: str, kind: type, where: str) -> list[Any]:
    """``value`` (the document's ``key``), checked to be a list of ``kind`` rather than converted:
    ``int()`` of ``"abc"`` raises deep inside, ``[0.5]`` would become seed 0 and the string ``"abc"``
    would become three missing cases."""
    expected = "a list of integers" if kind is int else "a list of strings"
    if not isinstance(value, list):
        raise ResultsFileError(f"results file {where}: {key!r} is {describe(value)}, expected {expected}")
    for i, item in enumerate(value):
        if not isinstance(item, kind) or isinstance(item, bool):
            raise ResultsFileError(f"results file {where}: {key}[{i}] is {describe(item)}, expected {expected}")
    return value


def _check_case(case: object, index: int, where: str) -> CaseRecord:
    try:
        return check_record(case, f"results file {where}", index=index)
    except RecordError as exc:
        raise ResultsFileError(str(exc)) from None


def parse_label(text: str) -> tuple[str, str]:
    """``NAME=FILE`` → (name, file); raises :class:`ResultsFileError` with the accepted form."""
    name, sep, path = text.partition("=")
    if not sep or not path:
        raise ResultsFileError(f"--label {text!r}: use NAME=FILE, e.g. --label old=results-v1.json")
    if not _LABEL.match(name):
        raise ResultsFileError(
            f"--label {text!r}: the name {name!r} must be letters, digits, '.', '_' or '-' "
            "(it becomes part of the variant, e.g. run=old)"
        )
    return name, path


def _labelled(case: CaseRecord, label: str) -> CaseRecord:
    """A copy of the case whose variant (and id) carries ``run=<label>``, so tables keep runs apart."""
    labelled = case.copy()
    labelled["variant"] = " ".join(part for part in (case.get("variant", ""), f"run={label}") if part)
    labelled["run_label"] = label
    labelled["nodeid"] = f"{case['nodeid']} [run={label}]"
    return labelled


def merge_results(files: Sequence[ResultsFile]) -> MergedResults:
    """One grid from several files; a case in two files is an error unless run labels tell them apart."""
    merged = MergedResults(files=list(files))
    seen: dict[tuple[str, str], str] = {}
    for results in files:
        for case in results.cases:
            case = _labelled(case, results.label) if results.label else case
            key = (case["case_id"], case.get("variant", ""))
            if key in seen:
                raise ResultsFileError(
                    f"case {case['case_id']} is in both {seen[key]} and {results.path}; to compare the runs "
                    f"side by side give them labels (--label old={seen[key]} --label new={results.path}), "
                    "otherwise pass only one of them"
                )
            seen[key] = results.path
            merged.cases.append(case)
        merged.missing.extend(f"{m} [run={results.label}]" if results.label else m for m in results.missing)
    return merged


def load_and_merge(paths: Sequence[str], labels: Sequence[str] = ()) -> MergedResults:
    """Load the files (positional ones and those named by ``NAME=FILE`` labels) and merge them."""
    by_path: dict[str, str] = {}
    for text in labels:
        name, path = parse_label(text)
        key = os.path.realpath(path)
        if key in by_path and by_path[key] != name:
            raise ResultsFileError(f"--label: {path} is labelled both {by_path[key]!r} and {name!r}")
        by_path[key] = name
    if len(set(by_path.values())) != len(by_path):
        raise ResultsFileError("--label: two files share one label; give each file its own name")
    ordered = list(dict.fromkeys([*paths, *(p for _, p in map(parse_label, labels))]))
    unique: dict[str, str] = {}
    for path in ordered:
        unique.setdefault(os.path.realpath(path), path)
    if not unique:
        raise ResultsFileError("no results files given; pass RESULTS.json (written by --albench-json)")
    return merge_results([load_results(path, by_path.get(key)) for key, path in unique.items()])
