"""Shards back into one grid: find the shards' results files, check that they are one complete set, merge.

A grid run as ``--albench-shard K/N`` sessions leaves N results files, each with a ``shard`` entry (its
K/N, the digest of the whole grid every shard collected, its own pairs and case ids, and the cases that
never reported). One verdict over them is only honest when they are exactly shards 0..N-1 of one grid
and each finished; otherwise the merge names what is wrong (the missing shard, the file that is of
another grid, the interrupted shard and its cases) instead of ranking a partial grid as if it were whole.
Cases that ran but left no record (a crashed worker) are ``missing`` in the merged grid, as in one run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlbenchError
from ..record import CaseRecord
from ..storage.results_file import MergedResults, ResultsFile, load_results, merge_results
from .gate import GateResult, session_gate

#: Results files a shard folder may hold.
SHARD_SUFFIXES = (".json", ".json.gz")


class IncompleteShardsError(AlbenchError):
    """The shards' files are not shards 0..N-1 of one grid, or one of them did not finish."""


@dataclass(frozen=True)
class ShardSet:
    """A checked, complete set of shards, merged into one grid."""

    count: int
    grid: str
    merged: MergedResults


def shard_files(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The results files named, and those directly inside the folders named (``*.json``, ``*.json.gz``)."""
    found: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(str(p) for p in sorted(path.iterdir()) if p.is_file() and p.name.endswith(SHARD_SUFFIXES))
        else:
            found.append(str(path))
    if not found:
        raise IncompleteShardsError(
            f"no results files in {', '.join(map(str, paths)) or '(nothing given)'}; pass the "
            "folder the shards wrote their --albench-json files to"
        )
    return list(dict.fromkeys(found))


def _grid_digest(nodeids: Sequence[str]) -> str:
    """The digest the shard plugin writes (plugin/shard.py ``digest``): sha256 of the sorted ids, one a line."""
    return hashlib.sha256("\n".join(sorted(nodeids)).encode("utf-8")).hexdigest()


def _consistency(files: Sequence[ResultsFile]) -> list[str]:
    problems = [
        f"{f.path} was not written by a shard session (it has no 'shard' entry); pass only the "
        "--albench-json files of --albench-shard runs"
        for f in files
        if f.shard is None
    ]
    sharded = [f for f in files if f.shard is not None]
    for key, what in (("count", "shard counts"), ("grid", "grids")):
        groups: dict[str, list[str]] = {}
        for f in sharded:
            assert f.shard is not None
            groups.setdefault(str(f.shard.get(key)), []).append(f.path)
        if len(groups) > 1:
            listed = "; ".join(f"{value[:12]}: {', '.join(paths)}" for value, paths in sorted(groups.items()))
            problems.append(
                f"the files are of different {what} ({listed}); every shard must come from one command "
                "(the same suite, options, -k/-m and N)"
            )
    return problems


def _coverage(files: Sequence[ResultsFile], count: int) -> list[str]:
    by_index: dict[int, list[ResultsFile]] = {}
    for f in files:
        assert f.shard is not None
        by_index.setdefault(int(f.shard["index"]), []).append(f)
    problems = [
        f"shard {k}/{count} is in {len(fs)} files ({', '.join(f.path for f in fs)}); keep one of them"
        for k, fs in sorted(by_index.items())
        if len(fs) > 1
    ]
    absent = [k for k in range(count) if k not in by_index]
    if absent:
        names = ", ".join(f"{k}/{count}" for k in absent)
        problems.append(
            f"missing shard(s) {names}: no results file for them; rerun each "
            f"(e.g. pytest ... --albench-shard {absent[0]}/{count} --albench-json=...) and merge again"
        )
    for k, fs in sorted(by_index.items()):
        problems.extend(_shard_problems(fs[0], k, count))
    return problems


def _shard_problems(f: ResultsFile, index: int, count: int) -> list[str]:
    shard = f.shard or {}
    label = f"shard {index}/{count} ({f.path})"
    if not shard.get("collected"):
        return [f"{label} has no collection record (its workers all crashed?); rerun that shard"]
    expected = set(shard.get("cases", []))
    unfinished = list(shard.get("unfinished", []))
    problems = []
    if unfinished:
        problems.append(
            f"{label} is incomplete: {len(unfinished)} of its {len(expected)} case(s) never ran "
            f"(e.g. {unfinished[0]}); the session was interrupted — rerun that shard"
        )
    if "skipped" in shard:  # files of older versions do not list their skipped cases
        accounted = {c["nodeid"] for c in f.cases} | set(shard["skipped"]) | set(f.missing) | set(unfinished)
        silent = sorted(expected - accounted)
        if silent:
            problems.append(
                f"{label} holds no result for {len(silent)} of its {len(expected)} case(s) (e.g. {silent[0]}), "
                "which neither failed nor were skipped: was the file edited? Rerun that shard"
            )
    strangers = [c["nodeid"] for c in f.cases if c["nodeid"] not in expected]
    if strangers:
        problems.append(
            f"{label} holds {len(strangers)} case(s) that are not its own (e.g. {strangers[0]}); "
            "was the file edited or written by another run?"
        )
    return problems


def check_shards(files: Sequence[ResultsFile]) -> list[str]:
    """Every reason the files are not one complete set of shards (empty when they are)."""
    problems = _consistency(files)
    if problems:
        return problems
    count = int(files[0].shard["count"]) if files[0].shard else 0
    problems = _coverage(files, count)
    if not problems:
        union = [nodeid for f in files for nodeid in (f.shard or {}).get("cases", [])]
        grid = str((files[0].shard or {}).get("grid"))
        if len(union) != len(set(union)) or _grid_digest(union) != grid:
            problems.append(
                "the shards' case lists do not add up to their grid (a case in two shards, or one in "
                "none); were the files written by different versions of pytest-albench?"
            )
    return problems


def merge_shards(paths: Sequence[str | os.PathLike[str]]) -> ShardSet:
    """Load the shards' files (folders or files), check them, and merge them into one grid."""
    files = [load_results(path) for path in shard_files(paths)]
    problems = check_shards(files)
    if problems:
        raise IncompleteShardsError("the shards do not make one complete grid:\n  - " + "\n  - ".join(problems))
    ordered = sorted(files, key=lambda f: int((f.shard or {})["index"]))
    first = ordered[0].shard or {}
    return ShardSet(count=int(first["count"]), grid=str(first["grid"]), merged=merge_results(ordered))


def merged_gate(cases: Sequence[CaseRecord]) -> GateResult | None:
    """The session-wide gate over all the shards' cases, at the alpha and correction their verdicts were
    judged with (one pair of them: shards judged differently cannot share one gate); None when no case
    was compared with a baseline."""
    settings = {
        (float(c["baseline"]["alpha"]), str(c["baseline"].get("correction", "bh")))
        for c in cases
        if isinstance(c.get("baseline"), dict) and "alpha" in c["baseline"]
    }
    if not settings:
        return None
    if len(settings) > 1:
        raise IncompleteShardsError(
            f"the shards judged their cases at different alpha/correction settings "
            f"({', '.join(f'{a}/{c}' for a, c in sorted(settings))}); rerun them alike"
        )
    ((alpha, correction),) = settings
    return session_gate(cases, alpha, correction)
