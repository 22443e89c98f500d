"""The results file: one JSON document, rewritten atomically after every (cell, seed).

Why: a banking77 run takes hours on a small machine. Writing a temporary file and ``os.replace``-ing
it over the old one after each finished (cell, seed) means a killed run keeps everything it finished
and never leaves a half-written file; a rerun with the same ``--out`` skips the entries whose settings
match (same protocol, budget, peer iteration cap and library versions) and redoes the others.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "ResultsFile", "load_results"]

#: The file's format marker (a reader refuses anything else).
FORMAT = "albench-agreement/1"


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class ResultsFile:
    """The results of one ``--out`` path: its runs (command, machine, timings) and entries by key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"format": FORMAT, "runs": [], "entries": {}}
        if path.exists():
            self.data = load_results(path)

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = self.data["entries"]
        return entries

    def finished(self, key: str, settings: dict[str, Any]) -> bool:
        """True when ``key`` holds a result run with ``settings`` (a rerun may skip it)."""
        entry = self.entries.get(key)
        return entry is not None and entry.get("settings") == settings

    def start_run(self, command: str, machine: list[str]) -> None:
        """Note a new invocation; its timing is updated on every save."""
        now = time.time()
        self.data["runs"].append(
            {
                "command": command,
                "machine": machine,
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                "started_unix": now,
                "wall_s": 0.0,
                "peak_rss_mib": _peak_rss_mib(),
                "computed": 0,
                "skipped": 0,
                "finished": False,
            }
        )

    def note(self, **fields: Any) -> None:
        """Update the current run's bookkeeping (``computed``/``skipped`` counts, ``finished``)."""
        run = self.data["runs"][-1]
        for name, value in fields.items():
            run[name] = run.get(name, 0) + value if name in ("computed", "skipped") else value

    def put(self, record: dict[str, Any]) -> None:
        """Store one (cell, seed) record and save the file."""
        self.entries[record["key"]] = record
        self.save()

    def save(self) -> None:
        """Rewrite the file atomically: a temporary file in the same folder, then ``os.replace``."""
        if self.data["runs"]:
            run = self.data["runs"][-1]
            run["wall_s"] = round(time.time() - run["started_unix"], 1)
            run["peak_rss_mib"] = round(_peak_rss_mib(), 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self.data, fh, indent=1, sort_keys=False)
                fh.write("\n")
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would make a results file unreadable to others
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def load_results(path: Path) -> dict[str, Any]:
    """A results file's content, or SystemExit saying why it is not one."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read agreement results {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SystemExit(f"{path} is not an agreement results file (format {FORMAT!r})")
    return data
