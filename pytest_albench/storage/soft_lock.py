"""The cache's soft lock (``ALBENCH_CACHE_LOCK=soft``): a lock file, for file systems without reliable fcntl.

``filelock.SoftFileLock`` holds the lock by the existence of a file created with ``O_EXCL``, which NFS
(v3 and later) creates atomically across machines, where ``fcntl``/``flock`` locks may be unsupported or
local to one client. Its weakness: a process killed while holding it leaves the file behind, and every
other process would wait forever. So the holder refreshes the file's time every ``stale_after / 8``
seconds (a heartbeat thread), and a waiter removes a file nobody refreshed for ``stale_after`` seconds.
A lock broken by mistake (a holder paused longer than that, or clocks of client and server apart by
more) costs only a duplicate computation: cache entries are content-addressed and renamed into place
whole, so two writers of one entry write the same bytes. By hand: delete the ``.lock`` file named in
the warning or the timeout message once no run is active.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..errors import CacheError

__all__ = ["soft_lock"]


@contextlib.contextmanager
def soft_lock(lock_path: Path, timeout: float, stale_after: float, what: str) -> Iterator[None]:
    """Hold the soft lock ``lock_path`` (waiting at most ``timeout`` s, ``-1``: forever) while the body runs."""
    from filelock import SoftFileLock, Timeout

    lock = SoftFileLock(str(lock_path))
    waited, step = 0.0, min(1.0, stale_after / 8)
    while True:
        try:
            lock.acquire(timeout=step)
            break
        except Timeout:
            waited += step
            if 0 <= timeout <= waited:
                raise CacheError(
                    f"waited {timeout} s for another process computing {what} (soft lock {lock_path}); "
                    "if no other run is active, delete that file"
                ) from None
            _remove_if_stale(lock_path, stale_after)
    stop = threading.Event()
    beat = threading.Thread(target=_refresh, args=(lock_path, stop, stale_after / 8), daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        lock.release()


def _refresh(lock_path: Path, stop: threading.Event, every: float) -> None:
    """The holder's heartbeat: a lock file whose time keeps moving belongs to a live process."""
    while not stop.wait(every):
        with contextlib.suppress(OSError):
            os.utime(lock_path)


def _remove_if_stale(lock_path: Path, stale_after: float) -> None:
    """Remove a soft lock file whose holder stopped refreshing it (killed); warn, naming it."""
    try:
        age = time.time() - lock_path.stat().st_mtime
    except OSError:
        return
    if age <= stale_after:
        return
    with contextlib.suppress(FileNotFoundError):
        lock_path.unlink()
        warnings.warn(
            CacheLockWarning(
                f"removed the soft lock {lock_path}, unrefreshed for {age:.0f} s > {stale_after:.0f} s "
                "(its process was killed); computing the entry here"
            ),
            stacklevel=5,
        )


class CacheLockWarning(UserWarning):
    """A soft lock left by a killed process was removed."""
