"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Baselines, result files and embedding-cache entries all go through :func:`atomic_writer`, so a
crash or a full disk mid-write leaves the previous file intact and no partial file behind.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary handle on a temp file beside ``path``; on success it is fsynced and renamed over it.

    A symlink is followed, so the file it points to is the one replaced (a ``latest.json`` link keeps
    pointing where it did); a path that exists but is not a regular file (a device such as
    ``/dev/null``, a pipe, a folder) is refused with an :class:`OSError` before anything is written,
    since the rename would replace the device itself.
    """
    target = Path(os.path.realpath(path))
    if target.exists() and not target.is_file():
        raise OSError(
            f"{target} exists and is not a regular file (a folder, a device or a pipe); refusing to replace it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target.parent, target.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            # mkstemp makes 0600; give the file the mode a plain open() would (best effort: some
            # filesystems and platforms refuse or lack fchmod, and the write must not fail for it)
            with contextlib.suppress(OSError, AttributeError):
                os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def shared_output(outputs: Iterable[tuple[str, str | os.PathLike[str]]]) -> str | None:
    """Why two of ``outputs`` ((what, path) pairs) would be written over each other, or None.

    Paths are compared after symlinks are resolved, since :func:`atomic_writer` follows them."""
    seen: dict[str, str] = {}
    for what, path in outputs:
        real = os.path.realpath(path)
        if real in seen:
            return f"{what} and {seen[real]} name the same file {path}; give each output its own path"
        seen[real] = what
    return None


#: A temp file older than this was left by a killed write (a live write renames within seconds).
STALE_TEMP_SECONDS = 15 * 60


def remove_stale_temp_files(folder: Path, name: str = "*", older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the hidden ``.NAME.xxxx.tmp`` files that killed writes left in ``folder``.

    Only files of :func:`atomic_writer`'s pattern and older than ``older_than`` seconds go, so a write
    in progress in another process is never touched. Returns what was removed (best effort: a folder
    that cannot be listed or a file that cannot be removed is left as it is).
    """
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for tmp in folder.glob(f".{name if name == '*' else glob.escape(name)}.*.tmp"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > older_than:
                    tmp.unlink()
                    removed.append(tmp)
    return removed


def _read_umask() -> int:
    """The process umask (reading it means setting it, so it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once at import, while no other thread can be creating files in the window.
_UMASK = _read_umask()


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform, hence best effort."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Sorted keys and a trailing newline keep committed JSON files diff-friendly.

    The JSON is serialised before the file is opened, so a value that cannot be written (NaN)
    raises without touching the existing file.
    """
    write_text_atomic(path, json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n")
