"""A content-addressed, verified, process-safe on-disk cache for numpy arrays.

Embedding a dataset with a large encoder costs minutes to hours, while reading it back costs
milliseconds, so every embedding run goes through this cache. Three properties matter more than speed:

* **Keyed by content.** The key is the sha256 of a canonical JSON document that names everything the
  array depends on (encoder identity and weights revision or file hash, encoder settings, the split's
  content fingerprint, and the key's version). Two encoders, or two versions of a split, can
  never share an entry by accident, and renaming a dataset does not invalidate anything.
* **Never trust a file blindly.** Each entry is one file: a magic string, the format version, the
  sha256 of the JSON header, the header (shape, dtype, payload size and sha256, and the key inputs for
  humans), then the raw bytes. Both checksums are verified on read (an entry of layout 1, written before the header's
  checksum existed, has only the payload's): a payload checksum alone would let
  one flipped bit in the header's dtype (``<f8`` → ``>f8``) or shape turn intact bytes into garbage
  numbers. A truncated, corrupt or stale file is reported with :class:`AlbenchCacheWarning` and
  recomputed, never used; an entry that cannot be read at all (no permission) is a :class:`CacheError`.
  Writes go to a temporary file in the same folder, are fsynced and then renamed over the final name,
  so a crash never leaves a half-written entry under a valid name.
* **One computation under concurrency.** ``pytest -n 8`` starts eight workers that all want the same
  embeddings. :meth:`ArrayCache.get_or_compute` takes a per-entry file lock: one process computes,
  the others wait on the lock and then read the entry it wrote.

On a cluster file system (NFS) ``fcntl``/``flock`` locks may be unsupported or local to one machine:
``ALBENCH_CACHE_LOCK=soft`` uses a lock file instead (:mod:`pytest_albench.storage.soft_lock` says
how a lock left by a killed process is detected and removed, and what that costs).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from ..errors import CacheError
from .atomic import atomic_writer

__all__ = [
    "FORMAT_VERSION",
    "KEY_VERSION",
    "LOCK_KINDS",
    "MAGIC",
    "AlbenchCacheWarning",
    "ArrayCache",
    "CacheKey",
    "Fetched",
    "resolve_cache_dir",
]

#: Bumped whenever the meaning of a key changes: every entry is then a miss (its file name changes).
KEY_VERSION = 1
#: The entry's layout, written into every file. 2: the header's sha256 follows the prefix. Layout 1
#: (payload checksum only) is still read, so that the entries a user has (hours of a 7B encoder's GPU
#: time) are not all recomputed for the new check; they keep their payload-only check until rewritten.
FORMAT_VERSION = 2
#: Layouts this version reads, each with whether it carries the header's checksum.
READABLE_LAYOUTS = {1: False, 2: True}
#: First bytes of every entry, so a foreign or garbage file is recognised before anything is parsed.
MAGIC = b"ALBCACHE"
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length
#: After the prefix: the sha256 of the header bytes (the prefix stays as in version 1, so an entry of
#: another version is always recognised as "stale", never misread).
_HEADER_DIGEST = struct.Struct("32s")
_SUFFIX = ".alb"
#: ``ALBENCH_CACHE_LOCK``: ``hard`` (fcntl/flock, the default) or ``soft`` (a lock file, for NFS).
LOCK_KINDS = ("hard", "soft")
#: Default age in seconds after which a soft lock file counts as left by a killed process.
SOFT_LOCK_STALE_S = 600.0


class AlbenchCacheWarning(UserWarning):
    """A cache entry that was unusable (truncated, corrupt, stale) and is being recomputed."""


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache root: the argument, else ``$ALBENCH_CACHE_DIR``, else the user cache folder.

    The user cache folder is ``$XDG_CACHE_HOME/pytest-albench`` when that variable is set, otherwise
    ``~/.cache/pytest-albench``; a per-user location survives ``git clean`` and is shared by projects.
    """
    if cache_dir is not None and str(cache_dir) != "":
        return _folder(Path(cache_dir).expanduser(), f"the cache folder {cache_dir}")
    env = os.environ.get("ALBENCH_CACHE_DIR")
    if env:
        return _folder(Path(env).expanduser(), f"ALBENCH_CACHE_DIR={env}")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return _folder(Path(base).expanduser() / "pytest-albench", "the user cache folder")


def _folder(path: Path, what: str) -> Path:
    """``path``, unless it exists as something other than a folder: every read under it would then fail
    with an OSError that does not say the cache root is the problem."""
    if os.path.exists(path) and not os.path.isdir(path):  # os.path: never raises, unlike Path.exists
        raise CacheError(
            f"{what} ({path}) is a file, not a folder; point ALBENCH_CACHE_DIR (or --albench-cache-dir) at a folder"
        )
    return path


@dataclass(frozen=True)
class CacheKey:
    """The identity of one cache entry: a digest plus the canonical JSON it was computed from.

    The JSON is kept (not just the digest) so that the entry header tells a human which encoder and
    split produced the file, and so that a file stored under the wrong name is detected on read.
    """

    digest: str
    canonical: str

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, Any]) -> CacheKey:
        """Hash ``inputs`` (JSON-safe builtins only) together with the key's version."""
        document = {"format_version": KEY_VERSION, **inputs}
        try:
            canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise CacheError(
                f"cache key inputs are not plain JSON data ({exc}); pass only str, int, float, bool, "
                "None, lists and dicts (convert numpy scalars and Paths first)"
            ) from exc
        return cls(hashlib.sha256(canonical.encode("utf-8")).hexdigest(), canonical)

    @property
    def inputs(self) -> dict[str, Any]:
        inputs: dict[str, Any] = json.loads(self.canonical)
        return inputs


class Fetched(NamedTuple):
    """An array from :meth:`ArrayCache.get_or_compute` and whether it came from disk."""

    array: np.ndarray
    hit: bool


class _Unusable(Exception):
    """Internal: why an entry on disk cannot be used (the message becomes the warning)."""


class ArrayCache:
    """Arrays on disk under ``root``, one verified file per :class:`CacheKey`.

    ``lock_timeout`` is how long a process waits for another one computing the same entry
    (``-1``: forever, the right default when the other process is encoding a large dataset).
    ``lock`` is ``hard`` or ``soft`` (default: ``$ALBENCH_CACHE_LOCK``, else ``hard``); ``stale_after``
    is the age of a soft lock that counts as abandoned (default: ``$ALBENCH_CACHE_LOCK_STALE``, else 600 s).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        lock_timeout: float = -1,
        lock: str | None = None,
        stale_after: float | None = None,
    ) -> None:
        self.root = Path(root)
        self.lock_timeout = lock_timeout
        self.lock_kind, self.stale_after = _lock_settings(lock, stale_after)

    def path(self, key: CacheKey) -> Path:
        """Entries are sharded by the first two hex digits so no folder grows huge."""
        return self.root / key.digest[:2] / f"{key.digest}{_SUFFIX}"

    def load(self, key: CacheKey, *, report: bool = True) -> np.ndarray | None:
        """The verified array for ``key``, or ``None`` when there is no usable entry.

        An unusable entry is reported with :class:`AlbenchCacheWarning` when ``report`` is true;
        the lock-free fast path of :meth:`get_or_compute` passes ``False`` and reports under the lock.
        """
        path = self.path(key)
        try:
            return _read_entry(path, key)
        except FileNotFoundError:
            return None
        except OSError as exc:  # not a missing entry: one this process may not read (another user's
            # umask 077 in a shared cache), a folder in its place, a cache root under a file
            raise CacheError(
                f"cannot read cache entry {path}: {exc.strerror or exc}; fix its permissions (or delete it), "
                "or point ALBENCH_CACHE_DIR (or --albench-cache-dir) at another folder"
            ) from None
        except _Unusable as exc:
            if report:
                warnings.warn(
                    AlbenchCacheWarning(
                        f"cache entry {path} is unusable ({exc}); recomputing it. If this repeats, "
                        f"delete the folder {self.root} or check the disk"
                    ),
                    stacklevel=3,
                )
            return None

    def store(self, key: CacheKey, array: np.ndarray, meta: Mapping[str, Any] | None = None) -> Path:
        """Write ``array`` atomically; ``meta`` is extra JSON for humans (not part of the key)."""
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_entry(path, key, _contiguous(array), dict(meta or {}))
        except OSError as exc:
            raise CacheError(
                f"cannot write cache entry {path}: {exc}. Check free space and permissions, or point "
                "the cache elsewhere with ALBENCH_CACHE_DIR (or --albench-cache-dir)"
            ) from exc
        return path

    def get_or_compute(
        self,
        key: CacheKey,
        compute: Callable[[], np.ndarray],
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> Fetched:
        """The cached array for ``key``, computing and storing it first if needed.

        Exactly one of several concurrent callers (threads or processes) runs ``compute``; the others
        block on the entry's lock and then read its result. An exception from ``compute`` propagates
        and nothing is stored, so a failed or rejected computation is retried next time.
        """
        cached = self.load(key, report=False)
        if cached is not None:
            return Fetched(cached, True)
        if not self._writable():
            return self._compute_unstored(key, compute)
        with self._locked(key):
            return self._under_lock(key, compute, meta)

    def _under_lock(self, key: CacheKey, compute: Callable[[], np.ndarray], meta: Mapping[str, Any] | None) -> Fetched:
        """With the entry's lock held: the entry another process wrote meanwhile, else computed and stored."""
        cached = self.load(key, report=True)
        if cached is not None:
            return Fetched(cached, True)
        array = compute()
        self.store(key, array, meta)
        return Fetched(array, False)

    def contains(self, key: CacheKey) -> bool:
        """Whether an entry for ``key`` is on disk (not verified: :meth:`load` verifies)."""
        return self.path(key).is_file()

    def try_compute(
        self,
        key: CacheKey,
        compute: Callable[[], np.ndarray],
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> Fetched | None:
        """Like :meth:`get_or_compute`, but None at once when another process holds the entry's lock.

        For work that several processes share by parts (an encoding in chunks): each takes the parts
        nobody has taken. Only with hard locks; with soft locks (and in a read-only cache) it always
        returns None, so the caller's :meth:`get_or_compute` does the work alone.
        """
        from filelock import FileLock, Timeout

        if self.contains(key):
            cached = self.load(key, report=False)
            if cached is not None:
                return Fetched(cached, True)
        if self.lock_kind != "hard" or not self._writable():
            return None
        lock_path = self.path(key).with_suffix(".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return None
        try:
            return self._under_lock(key, compute, meta)
        finally:
            lock.release()

    def remove(self, key: CacheKey) -> None:
        """Delete ``key``'s entry if present (a part no longer needed); never raises. Its lock file stays,
        as every entry's does: a process may be waiting on it, and a new file would be a second lock."""
        with contextlib.suppress(OSError):
            self.path(key).unlink()

    def _writable(self) -> bool:
        """False for a cache folder this process cannot write (a read-only shared cache, a read-only
        mount): its entries are read, and a missing or corrupt one is computed without being stored."""
        folder = self.root
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        return os.access(folder, os.W_OK | os.X_OK)

    def _compute_unstored(self, key: CacheKey, compute: Callable[[], np.ndarray]) -> Fetched:
        cached = self.load(key, report=True)
        if cached is not None:
            return Fetched(cached, True)
        warnings.warn(
            AlbenchCacheWarning(
                f"cache folder {self.root} is read-only: entry {self.path(key).name} is missing or unusable, so "
                "it is computed for this process only and not stored. Make the folder writable, or point "
                "ALBENCH_CACHE_DIR (--albench-cache-dir) at a writable folder to keep it"
            ),
            stacklevel=3,
        )
        return Fetched(compute(), False)

    @contextlib.contextmanager
    def _locked(self, key: CacheKey) -> Iterator[None]:
        from filelock import FileLock, Timeout

        lock_path = self.path(key).with_suffix(".lock")
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the cache folder {lock_path.parent}: {exc}. Set ALBENCH_CACHE_DIR "
                "(or --albench-cache-dir) to a writable folder"
            ) from exc
        if self.lock_kind == "soft":
            from .soft_lock import soft_lock

            with soft_lock(lock_path, self.lock_timeout, self.stale_after, self.path(key).name):
                yield
            return
        lock = FileLock(str(lock_path), timeout=self.lock_timeout)
        try:
            lock.acquire()
        except Timeout as exc:
            raise CacheError(
                f"waited {self.lock_timeout} s for another process computing {self.path(key).name}; "
                f"if no other run is active, delete {lock_path}"
            ) from exc
        try:
            yield
        finally:
            lock.release()


def _lock_settings(lock: str | None, stale_after: float | None) -> tuple[str, float]:
    kind = (lock or os.environ.get("ALBENCH_CACHE_LOCK") or "hard").strip().lower()
    if kind not in LOCK_KINDS:
        raise CacheError(
            f"ALBENCH_CACHE_LOCK={kind!r} is not a lock kind; use hard (fcntl, the default) or "
            "soft (a lock file, for NFS and other cluster file systems)"
        )
    if stale_after is None:
        text = os.environ.get("ALBENCH_CACHE_LOCK_STALE", "").strip()
        try:
            stale_after = float(text) if text else SOFT_LOCK_STALE_S
        except ValueError:
            raise CacheError(f"ALBENCH_CACHE_LOCK_STALE={text!r} is not a number of seconds") from None
    if not stale_after > 0:
        raise CacheError(f"the soft lock's staleness age must be positive seconds, got {stale_after}")
    return kind, float(stale_after)


def _contiguous(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.hasobject:
        raise CacheError(f"cannot cache an array of dtype {array.dtype}: convert it to a numeric dtype")
    return np.ascontiguousarray(array)


def _write_entry(path: Path, key: CacheKey, array: np.ndarray, meta: dict[str, Any]) -> None:
    payload = array.data.cast("B") if array.size else memoryview(b"")
    header = {
        "shape": list(array.shape),
        "dtype": array.dtype.str,
        "payload_bytes": payload.nbytes,
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "key": key.digest,
        "key_inputs": key.inputs,
        "meta": meta,
    }
    header_bytes = json.dumps(header, sort_keys=True, ensure_ascii=False).encode("utf-8")
    with atomic_writer(path) as handle:
        handle.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)))
        handle.write(_HEADER_DIGEST.pack(hashlib.sha256(header_bytes).digest()))
        handle.write(header_bytes)
        handle.write(payload)


def _read_entry(path: Path, key: CacheKey) -> np.ndarray:
    with open(path, "rb") as handle:
        header = _read_header(handle)
        if header.get("key") != key.digest:
            raise _Unusable(f"it belongs to key {header.get('key')!r}, not {key.digest!r}")
        dtype, shape, size = _layout(header)
        buffer = bytearray(size)
        got = handle.readinto(buffer)
        if got != size:
            raise _Unusable(f"payload has {got} of its {size} bytes (truncated)")
        if handle.read(1):
            raise _Unusable(f"trailing bytes after the {size}-byte payload")
    if hashlib.sha256(buffer).hexdigest() != header.get("payload_sha256"):
        raise _Unusable("payload checksum mismatch (corrupted file)")
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def _read_header(handle: BinaryIO) -> dict[str, Any]:
    prefix = handle.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        raise _Unusable("file is shorter than its fixed header (truncated)")
    magic, version, header_len = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise _Unusable("not a pytest-albench cache file (bad magic bytes)")
    if version not in READABLE_LAYOUTS:
        raise _Unusable(f"stale format version {version}; this pytest-albench writes {FORMAT_VERSION}")
    checked = READABLE_LAYOUTS[version]
    digest = handle.read(_HEADER_DIGEST.size) if checked else b""
    raw = handle.read(header_len)
    if len(digest) < (_HEADER_DIGEST.size if checked else 0) or len(raw) < header_len:
        raise _Unusable("file ends inside its header (truncated)")
    if checked and hashlib.sha256(raw).digest() != digest:
        raise _Unusable("header checksum mismatch (corrupted shape, dtype or key)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Unusable(f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _Unusable("header is not a JSON object")
    return header


def _layout(header: Mapping[str, Any]) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    try:
        dtype = np.dtype(header["dtype"])
        shape = tuple(int(n) for n in header["shape"])
        size = int(header["payload_bytes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _Unusable(f"header lacks a valid shape/dtype/size ({exc})") from None
    if dtype.hasobject or size != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise _Unusable("header shape, dtype and payload size disagree")
    return dtype, shape, size
