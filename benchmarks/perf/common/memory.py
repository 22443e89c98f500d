"""Peak extra memory of one call: RSS sampling and ``ru_maxrss`` on CPU, the allocator peak on CUDA.

Why it is measured this way: a query's memory is what it allocates on top of the pool and head that
are already there, and on CPU freed-but-kept heap pages hide later allocations unless they are handed
back first. ``PeakProbe`` is shared by ``strategy_cost`` and ``peers`` so that both tables mean the
same thing by "peak extra (MiB)".
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import os
import resource
import threading
from typing import Any

import numpy as np

MIB = 2**20
GIB = 2**30


def _rss_bytes(fd: int) -> int:
    """Current resident set size from /proc/self/statm (second field, in pages)."""
    os.lseek(fd, 0, os.SEEK_SET)
    return int(os.read(fd, 128).split()[1]) * resource.getpagesize()


_LIBC: Any = None


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``) before a measurement.

    Without this, memory freed by the warm-up call stays resident and the next call re-uses it
    without raising RSS, so a later call (e.g. ProbCover with its memo filled) would look free.
    A no-op where glibc is not the allocator.
    """
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6")
        _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        _LIBC = False


def _maxrss_bytes() -> int:
    """Lifetime peak RSS of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakProbe:
    """Peak extra memory of the code inside ``with probe:``; read ``extra_bytes`` afterwards.

    On CPU a daemon thread samples RSS every ``interval_s`` (unless ``sample`` is False); torch
    kernels release the GIL, and pure-Python loops yield it every switch interval, so the sampler
    sees peaks lasting more than a few milliseconds. ``ru_maxrss`` then gives the exact peak whenever
    the call raised the process's lifetime peak (which it usually does in a fresh worker), catching
    spikes the sampler missed. Without sampling, only that ``ru_maxrss`` rise is reported (0 if none).
    """

    def __init__(self, device: str, interval_s: float, sample: bool = True) -> None:
        self.cuda = device.startswith("cuda")
        self.device = device
        self.interval_s = interval_s
        self.sample = sample
        self.extra_bytes = 0
        self._fd = -1
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None
        self._before = 0
        self._ru_before = 0

    def __enter__(self) -> PeakProbe:
        gc.collect()
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        release_free_heap()
        self._fd = os.open("/proc/self/statm", os.O_RDONLY)
        self._ru_before = _maxrss_bytes()
        self._before = self._peak = _rss_bytes(self._fd)
        if self.sample:
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, _rss_bytes(self._fd))

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            self.extra_bytes = max(0, torch.cuda.max_memory_allocated(self.device) - self._before)
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        peak = max(self._peak, _rss_bytes(self._fd)) if self.sample else self._before
        ru_after = _maxrss_bytes()
        if ru_after > self._ru_before:  # the lifetime peak was set during the call: exact value
            peak = max(peak, ru_after)
        os.close(self._fd)
        self.extra_bytes = max(0, peak - self._before)


def nbytes(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by tensors and arrays reachable from ``obj`` (dicts, sequences, dataclasses)."""
    import torch

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(nbytes(k, seen) + nbytes(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sum(nbytes(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return 0
