"""The session's paths, checked once at start-up: an hours-long run must not learn at its end that its
results had nowhere to go, nor write one output over another, over a test file, or over a device.

Output files are written at the end of the session, by replacing the file (``storage/atomic.py``).
So each output must be a plain file path in a folder that can be written, no two outputs (nor the
results journal) may name the same file, and an output that swallowed a test file's path (a
forgotten value: ``pytest --albench-markdown test_x.py``) is refused instead of overwriting the test.
The data and cache folders are checked too: a mistyped ``--albench-data-dir`` would otherwise skip
every local case and leave the run green.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..storage.atomic import shared_output
from ..storage.journal import journal_path
from .options import AlbenchSettings

#: The report page's files inside ``--albench-plots`` (``report/page.py`` writes them).
REPORT_PAGES = ("report.md", "report.html")


def output_files(settings: AlbenchSettings) -> list[tuple[str, Path]]:
    """(what, path) of every file the session may write at its end, the journal included."""
    files: list[tuple[str, Path]] = []
    if settings.json_path:
        files += [("--albench-json", Path(settings.json_path))]
        files += [("the results journal of --albench-json", journal_path(settings.json_path))]
    if settings.csv_path:
        files.append(("--albench-csv", Path(settings.csv_path)))
    if settings.markdown_path:
        files.append(("--albench-markdown", Path(settings.markdown_path)))
    if settings.plots_dir:
        pages = Path(settings.plots_dir)
        files += [(f"the report page of --albench-plots ({name})", pages / name) for name in REPORT_PAGES]
    return files


def check_paths(settings: AlbenchSettings, given: frozenset[str] = frozenset()) -> None:
    """Raise one :class:`pytest.UsageError` naming the first unusable path and the fix.

    ``given`` names the folder settings given on this command line (``data-dir``, ``cache-dir``): only
    those are checked here. The plugin is loaded by every pytest run of its environment, so a data
    folder named in ``ALBENCH_DATA_DIR`` or an ini file and not built yet must not fail another
    project's tests; there, a local case skips naming the folder, and the cache says what is wrong when
    it is used.
    """
    if settings.data_dir and "data-dir" in given:
        data = Path(settings.data_dir)
        if not data.is_dir():
            state = "is a file, not a folder" if data.exists() else "does not exist"
            raise pytest.UsageError(
                f"--albench-data-dir: {data} {state}; give the folder that holds <name>/train.csv etc."
            )
    if settings.cache_dir and "cache-dir" in given:
        # existence and type only: a read-only shared cache is fine (its misses are computed, not stored)
        _check_folder("--albench-cache-dir", Path(settings.cache_dir), writable=False)
    if settings.plots_dir:
        _check_folder("--albench-plots", Path(settings.plots_dir), writable=True)
    outputs = output_files(settings)
    for what, path in outputs:
        _check_file(what, path)
    clash = shared_output(outputs)
    if clash is not None:
        raise pytest.UsageError(clash)


def _check_folder(what: str, folder: Path, writable: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise pytest.UsageError(f"{what}: {folder} is a file, not a folder; give a folder path")
    if not writable:
        return
    if folder.is_dir():  # an existing folder: it must take new files, whatever its parent allows
        if not os.access(folder, os.W_OK | os.X_OK):
            raise pytest.UsageError(f"{what}: {folder} cannot be written: no permission to create files in it")
        return
    _check_writable_parent(what, folder)


def _check_file(what: str, path: Path) -> None:
    if path.suffix == ".py":
        raise pytest.UsageError(
            f"{what}: {path} is a Python file; did the option miss its value? Give the output's own path"
        )
    if path.is_dir():
        raise pytest.UsageError(f"{what}: {path} is a folder; give a file path inside it")
    if path.exists() and not path.is_file():
        raise pytest.UsageError(
            f"{what}: {path} is not a regular file (a device, a pipe or a socket); outputs are written by "
            "replacing the file, so give a plain file path"
        )
    _check_writable_parent(what, path)


def _check_writable_parent(what: str, path: Path) -> None:
    """The nearest existing folder above ``path`` must be a folder this process can create files in."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise pytest.UsageError(f"{what}: {path} cannot be created: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise pytest.UsageError(f"{what}: {path} cannot be written: no permission to create files in {parent}")
