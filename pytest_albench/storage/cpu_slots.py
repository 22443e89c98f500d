"""Compute slots: at most N processes of one session compute at once, encoders first.

``pytest -n 8`` on a 2-core machine runs eight single-threaded workers on two cores. The kernel then
shares the cores fairly among them, which is the wrong thing for a cold run: the slowest encoding
(about two minutes of one core for BBC News × MiniLM-L6) gets a quarter of a core while AL cases of
the warm pairs take the rest, and every case of that encoder waits for it. With slots, a worker holds
one of N slots while it computes (an AL case, or an encoding) and the others sleep, so each running
process has a core of its own; and a free slot goes to the waiter of the highest priority: an encoding
that runs a model on every text (:data:`MODEL_ENCODING`) before one that looks vectors up or fits
TF-IDF (:data:`LIGHT_ENCODING`), both before an AL case (:data:`AL_CASE`), and that before a process
helping with another's encoding (:data:`HELPING`), which is useful only on a core nobody else wants.
So the encodings that every later case needs are on the cores from the start, the longest first.

The slots are ``flock`` locks on files ``slot-<i>.lock`` in one folder (the xdist session folder: a
worker that cannot see it, on another machine, takes no slot), released by the OS if a process dies.
Priorities use one gate file per level above :data:`HELPING`, ``gate-<level>.lock``: a waiter holds
its own level's gate shared while it waits, and takes a free slot only when it can lock every higher
level's gate exclusively, i.e. when nobody of a higher level waits. On systems without ``fcntl``
(Windows) and in a process that was not configured, a slot is taken at once and means nothing.

Helpers are few: each one first loads the encoder's model (seconds of CPU), and with N slots at most
N − 1 of them can compute beside the owner. So a process helps only while it holds one of the N − 1
*helper places* of that encoding (:func:`helping_place`, ``help-<name>-<i>.lock``, taken without
waiting), or when it already has the model in memory; the others wait for the encoding.

Deadlock rule: a process never waits for a cache entry's lock while it holds a slot. An encoder waits
for a slot while it holds its cache entry's lock; so an AL case must have its problem (embeddings)
before it takes a slot (the plugin builds it first), and the slot is reentrant: an encoding inside a
held slot takes no second one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no slots
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "AL_CASE",
    "HELPING",
    "LIGHT_ENCODING",
    "MODEL_ENCODING",
    "SlotPool",
    "compute_slot",
    "configure_slots",
    "configured_slots",
    "helping_place",
    "usable_cores",
]

#: The priorities of :meth:`SlotPool.hold`, lowest first. ``HELPING`` is a process that encodes part of
#: another's encoding while it would otherwise wait for it: worth a core only when nobody else wants one.
HELPING, AL_CASE, LIGHT_ENCODING, MODEL_ENCODING = 0, 1, 2, 3
#: Seconds between tries while no slot is free: an encoder retries sooner than an AL case.
_POLL_S = (0.05, 0.05, 0.01, 0.01)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it, else all of them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass
class SlotPool:
    """``slots`` lock files in ``folder``; :meth:`hold` takes one of them for the body of a ``with``.

    The slot belongs to the process, not to a thread: a nested :meth:`hold` (from any thread of a
    process that holds one) takes no second slot.
    """

    folder: Path
    slots: int
    #: Seconds this process spent waiting for a slot (diagnostics and tests).
    waited_s: float = 0.0
    _depth: int = 0

    def __post_init__(self) -> None:
        if self.slots < 1:
            raise ValueError(f"a slot pool needs at least one slot, got {self.slots}")

    @contextlib.contextmanager
    def hold(self, priority: int = AL_CASE) -> Iterator[None]:
        """Hold a slot while the body runs; a free slot goes to the waiter of the highest ``priority``."""
        if not HELPING <= priority <= MODEL_ENCODING:
            raise ValueError(f"priority must be {HELPING}..{MODEL_ENCODING}, got {priority}")
        handle = self._acquire(priority) if fcntl is not None and not self._depth else None
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    @contextlib.contextmanager
    def place(self, name: str, places: int) -> Iterator[bool]:
        """Hold one of ``places`` places named ``name`` if one is free (True), else take none (False).

        Never waits, so it can be asked for while a cache lock or a slot is held.
        """
        if fcntl is None:  # no locks (Windows): the slots mean nothing either
            yield True
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = self._free_file(f"help-{name}", places)
        try:
            yield handle is not None
        finally:
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()

    def _acquire(self, priority: int) -> IO[bytes]:
        self.folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with contextlib.ExitStack() as files:
            gates = {
                level: files.enter_context(open(self.folder / f"gate-{level}.lock", "a+b"))
                for level in range(max(priority, HELPING + 1), MODEL_ENCODING + 1)
            }
            if priority in gates:  # said while waiting: nobody of a lower level passes this gate
                fcntl.flock(gates[priority], fcntl.LOCK_SH)
            higher = [gate for level, gate in gates.items() if level > priority]
            while True:
                handle = self._free_slot_if_none_waits(higher)
                if handle is not None:
                    self.waited_s += time.perf_counter() - start
                    return handle  # the gates close with the stack: the shared lock goes with them
                time.sleep(_POLL_S[priority])

    def _free_slot_if_none_waits(self, higher: Sequence[IO[bytes]]) -> IO[bytes] | None:
        """A free slot, unless a waiter of a higher level holds one of the ``higher`` gates."""
        with contextlib.ExitStack() as passed:
            for gate in higher:
                try:
                    fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while such a waiter holds it shared
                except BlockingIOError:
                    return None
                passed.callback(fcntl.flock, gate, fcntl.LOCK_UN)
            return self._free_slot()

    def _free_slot(self) -> IO[bytes] | None:
        """The first free slot's file, locked; None when every slot is taken."""
        return self._free_file("slot", self.slots)

    def _free_file(self, stem: str, count: int) -> IO[bytes] | None:
        """The first of ``<stem>-0.lock`` .. ``<stem>-<count − 1>.lock`` that is free, locked; else None."""
        for index in range(count):
            handle = open(self.folder / f"{stem}-{index}.lock", "a+b")  # noqa: SIM115 - held by the caller
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            return handle
        return None


_POOL: SlotPool | None = None


def configure_slots(folder: Path | None, slots: int) -> None:
    """Make ``slots`` slots in ``folder`` this process's pool; ``folder`` None or ``slots`` 0: no slots."""
    global _POOL
    _POOL = SlotPool(Path(folder), slots) if folder is not None and slots > 0 else None


def configured_slots() -> SlotPool | None:
    """This process's pool, or None when it takes no slots."""
    return _POOL


@contextlib.contextmanager
def helping_place(name: str) -> Iterator[bool]:
    """Whether this process may help with encoding ``name`` now: one of its pool's slots − 1 places.

    True, holding a place for the body, while fewer than slots − 1 processes help with ``name``; False
    when they are all taken (and with one slot: a helper could only take the owner's core). Without a
    pool (no more workers than cores) every waiting process has a core of its own and may help.
    """
    pool = _POOL
    if pool is None:
        yield True
        return
    with pool.place(name, pool.slots - 1) as free:
        yield free


@contextlib.contextmanager
def compute_slot(priority: int = AL_CASE) -> Iterator[None]:
    """Hold one of this process's slots (see the module docstring) while the body runs; nothing when none."""
    pool = _POOL
    if pool is None:
        yield
        return
    with pool.hold(priority):
        yield
