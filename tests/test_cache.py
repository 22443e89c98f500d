"""The array cache: content keys, verified reads, atomic writes, one computation under concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pytest_albench.errors import CacheError
from pytest_albench.storage.cache import (
    FORMAT_VERSION,
    KEY_VERSION,
    AlbenchCacheWarning,
    ArrayCache,
    CacheKey,
    resolve_cache_dir,
)

REPO = Path(__file__).resolve().parents[1]


def _array() -> np.ndarray:
    return np.arange(24, dtype=np.float32).reshape(6, 4) / 7


def _counting(array: np.ndarray) -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return array

    return calls, compute


@pytest.fixture
def cache(tmp_path: Path) -> ArrayCache:
    return ArrayCache(tmp_path / "cache")


@pytest.fixture
def key() -> CacheKey:
    return CacheKey.from_inputs({"encoder": {"model": "m", "revision": "r"}, "split": "f" * 64})


class TestKeys:
    def test_key_ignores_dict_order_but_not_content(self) -> None:
        a = CacheKey.from_inputs({"x": 1, "y": {"b": 2, "a": 1}})
        b = CacheKey.from_inputs({"y": {"a": 1, "b": 2}, "x": 1})
        c = CacheKey.from_inputs({"x": 1, "y": {"a": 1, "b": 3}})
        assert a == b and a.digest != c.digest and len(a.digest) == 64

    def test_key_includes_the_format_version(self) -> None:
        assert CacheKey.from_inputs({"x": 1}).inputs["format_version"] == KEY_VERSION

    def test_non_json_inputs_are_rejected_with_the_fix(self) -> None:
        with pytest.raises(CacheError, match="plain JSON"):
            CacheKey.from_inputs({"path": Path("/tmp")})
        with pytest.raises(CacheError, match="plain JSON"):
            CacheKey.from_inputs({"nan": float("nan")})


class TestRoundTrip:
    @pytest.mark.parametrize(
        "array",
        [
            _array(),
            np.arange(5, dtype=np.int64),
            np.zeros((0, 3), dtype=np.float32),
            np.float64(2.5) * np.ones((2, 2, 2)),
        ],
    )
    def test_store_then_load_returns_the_same_array(self, cache: ArrayCache, key: CacheKey, array: np.ndarray) -> None:
        cache.store(key, array, meta={"dataset": "demo"})
        loaded = cache.load(key)
        assert loaded is not None and loaded.dtype == array.dtype and loaded.shape == array.shape
        np.testing.assert_array_equal(loaded, array)
        assert loaded.flags.writeable  # torch.from_numpy must not warn on cached arrays

    def test_missing_entry_loads_as_none(self, cache: ArrayCache, key: CacheKey) -> None:
        assert cache.load(key) is None

    def test_second_request_is_a_hit_without_computing(self, cache: ArrayCache, key: CacheKey) -> None:
        calls, compute = _counting(_array())
        first = cache.get_or_compute(key, compute)  # type: ignore[arg-type]
        second = cache.get_or_compute(key, compute)  # type: ignore[arg-type]
        assert (first.hit, second.hit, len(calls)) == (False, True, 1)
        np.testing.assert_array_equal(first.array, second.array)

    def test_failed_computation_stores_nothing(self, cache: ArrayCache, key: CacheKey) -> None:
        def boom() -> np.ndarray:
            raise RuntimeError("model crashed")

        with pytest.raises(RuntimeError):
            cache.get_or_compute(key, boom)
        assert not cache.path(key).exists()

    def test_writes_leave_no_temporary_files(self, cache: ArrayCache, key: CacheKey) -> None:
        cache.store(key, _array())
        assert [p.name for p in cache.path(key).parent.iterdir()] == [cache.path(key).name]

    def test_a_failed_write_raises_cache_error_and_cleans_up(
        self, cache: ArrayCache, key: CacheKey, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_replace(src: str, dst: str) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "replace", no_replace)
        with pytest.raises(CacheError, match="ALBENCH_CACHE_DIR"):
            cache.store(key, _array())
        assert list(cache.path(key).parent.iterdir()) == []

    def test_header_names_the_key_inputs_for_humans(self, cache: ArrayCache, key: CacheKey) -> None:
        cache.store(key, _array(), meta={"dataset": "trec6"})
        head = cache.path(key).read_bytes()[:2000]
        assert b'"revision":"r"' in head.replace(b" ", b"") and b"trec6" in head


def _corrupt_and_expect(cache: ArrayCache, key: CacheKey, damage, match: str) -> None:  # type: ignore[no-untyped-def]
    cache.store(key, _array())
    damage(cache.path(key))
    calls, compute = _counting(_array())
    with pytest.warns(AlbenchCacheWarning, match=match):
        fetched = cache.get_or_compute(key, compute)  # type: ignore[arg-type]
    assert (fetched.hit, len(calls)) == (False, 1)
    np.testing.assert_array_equal(cache.load(key), _array())  # the entry was repaired


def _flip_byte(path: Path, offset_from_end: int) -> None:
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(data))


class TestVerification:
    def test_truncated_file_is_reported_and_recomputed(self, cache: ArrayCache, key: CacheKey) -> None:
        _corrupt_and_expect(cache, key, lambda p: p.write_bytes(p.read_bytes()[:-10]), "truncated")

    def test_file_cut_inside_its_header_is_reported(self, cache: ArrayCache, key: CacheKey) -> None:
        _corrupt_and_expect(cache, key, lambda p: p.write_bytes(p.read_bytes()[:12]), "truncated")

    def test_flipped_payload_byte_is_reported_and_recomputed(self, cache: ArrayCache, key: CacheKey) -> None:
        _corrupt_and_expect(cache, key, lambda p: _flip_byte(p, 5), "checksum")

    def test_foreign_file_is_reported(self, cache: ArrayCache, key: CacheKey) -> None:
        _corrupt_and_expect(cache, key, lambda p: p.write_bytes(b"not a cache file at all"), "magic")

    def test_other_format_version_is_reported_stale(self, cache: ArrayCache, key: CacheKey) -> None:
        def bump(path: Path) -> None:
            data = bytearray(path.read_bytes())
            data[8] = FORMAT_VERSION + 1
            path.write_bytes(bytes(data))

        _corrupt_and_expect(cache, key, bump, "stale format version")

    def test_entry_copied_under_another_key_is_not_used(self, cache: ArrayCache, key: CacheKey) -> None:
        other = CacheKey.from_inputs({"something": "else"})
        cache.store(other, np.ones((2, 2), dtype=np.float32))

        def swap(path: Path) -> None:
            path.write_bytes(cache.path(other).read_bytes())

        _corrupt_and_expect(cache, key, swap, "belongs to key")

    @pytest.mark.parametrize(
        "old, new",
        [(b'"<f4"', b'">f4"'), (b'"shape": [6, 4]', b'"shape": [4, 6]'), (b'"shape": [6, 4]', b'"shape": [6, 5]')],
    )
    def test_a_changed_header_field_is_reported_and_recomputed(
        self, cache: ArrayCache, key: CacheKey, old: bytes, new: bytes
    ) -> None:
        """The review's case: one bit (``<`` → ``>``) made intact payload bytes into garbage numbers."""

        def edit(path: Path) -> None:
            data = path.read_bytes()
            assert data.count(old) == 1
            path.write_bytes(data.replace(old, new))

        _corrupt_and_expect(cache, key, edit, "header checksum mismatch")

    def test_a_flipped_bit_anywhere_in_the_header_is_never_used(self, cache: ArrayCache, key: CacheKey) -> None:
        cache.store(key, _array(), meta={"dataset": "demo"})
        original = cache.path(key).read_bytes()
        for offset in range(8, len(original) - _array().nbytes, 7):  # the version, sizes, digest and header
            damaged = bytearray(original)
            damaged[offset] ^= 0x02
            cache.path(key).write_bytes(bytes(damaged))
            with pytest.warns(AlbenchCacheWarning, match="unusable"):
                assert cache.load(key) is None, offset

    def test_an_entry_of_the_previous_layout_is_still_read_with_its_payload_checked(
        self, cache: ArrayCache, key: CacheKey
    ) -> None:
        """Layout 1 (no header checksum) stays readable: a user's cached encodings are not all recomputed."""
        import hashlib
        import json
        import struct

        array = _array()
        header = json.dumps(
            {
                "shape": list(array.shape),
                "dtype": array.dtype.str,
                "payload_bytes": array.nbytes,
                "payload_sha256": hashlib.sha256(array.tobytes()).hexdigest(),
                "key": key.digest,
                "key_inputs": key.inputs,
                "meta": {},
            }
        ).encode()
        version_1 = struct.pack("<8sII", b"ALBCACHE", 1, len(header)) + header + array.tobytes()
        cache.path(key).parent.mkdir(parents=True, exist_ok=True)
        cache.path(key).write_bytes(version_1)
        np.testing.assert_array_equal(cache.load(key), array)
        damaged = bytearray(version_1)
        damaged[-1] ^= 0x01
        _corrupt_and_expect(cache, key, lambda p: p.write_bytes(bytes(damaged)), "checksum")


class TestUnreadable:
    """An entry that exists but cannot be read is a one-line CacheError naming it, not an OSError."""

    def test_an_entry_without_read_permission(
        self, cache: ArrayCache, key: CacheKey, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import pytest_albench.storage.cache as cache_module

        cache.store(key, _array())

        def denied(path: object, mode: str = "r") -> object:  # root may read a chmod 000 file, so pretend
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(cache_module, "open", denied, raising=False)
        with pytest.raises(CacheError, match=r"cannot read cache entry .*: Permission denied; fix its permissions"):
            cache.get_or_compute(key, lambda: pytest.fail("an unreadable entry must not be overwritten"))

    def test_a_folder_in_place_of_an_entry(self, cache: ArrayCache, key: CacheKey) -> None:
        cache.path(key).mkdir(parents=True)
        with pytest.raises(CacheError, match=r"cannot read cache entry .*: Is a directory"):
            cache.load(key)

    def test_a_cache_root_that_is_a_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        root = tmp_path / "cfile"
        root.write_text("not a folder")
        monkeypatch.setenv("ALBENCH_CACHE_DIR", str(root))
        with pytest.raises(CacheError, match=rf"ALBENCH_CACHE_DIR={root} .* is a file, not a folder"):
            resolve_cache_dir()
        with pytest.raises(CacheError, match="is a file, not a folder"):
            resolve_cache_dir(root)
        with pytest.raises(CacheError, match=r"cannot read cache entry .*: Not a directory"):
            ArrayCache(root / "embeddings").load(CacheKey.from_inputs({"x": 1}))


def test_cache_dir_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ALBENCH_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert resolve_cache_dir() == Path("~/.cache/pytest-albench").expanduser()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_cache_dir() == tmp_path / "xdg" / "pytest-albench"
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(tmp_path / "env"))
    assert resolve_cache_dir() == tmp_path / "env"
    assert resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"


#: One requester process. It replaces nothing in the cache: it only makes ``FileLock.acquire`` try once
#: without blocking first, and leaves a ``blocked<i>`` marker when that try finds the lock held, so the
#: test sees which processes really waited on the entry's lock. Its ``compute`` leaves ``computing<i>``
#: and does not return until every other requester is blocked, so none of them can skip the lock by
#: arriving after the entry was written. Every wait has a deadline: a broken lock fails, it never hangs.
_REQUESTER = r"""
import pathlib, sys, time
import filelock
import numpy as np
from pytest_albench.storage.cache import ArrayCache, CacheKey

root, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
me, n, wait_s = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

def wait_for(done, what):
    deadline = time.monotonic() + wait_s
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"requester {me}: gave up after {wait_s} s waiting for {what}")
        time.sleep(0.005)

acquire = filelock.FileLock.acquire

def observed_acquire(self, *args, **kwargs):
    try:
        return acquire(self, blocking=False)
    except filelock.Timeout:
        (work / f"blocked{me}").touch()
    return acquire(self, *args, **kwargs)

filelock.FileLock.acquire = observed_acquire

def compute():
    (work / f"computing{me}").touch()
    wait_for(lambda: len(list(work.glob("blocked*"))) >= n - 1, "the other requesters to block on the lock")
    return np.arange(12, dtype=np.float32).reshape(3, 4)

(work / f"ready{me}").touch()
wait_for((work / "go").exists, "the go signal")
fetched = ArrayCache(root).get_or_compute(CacheKey.from_inputs({"test": "concurrency"}), compute)
print(int(fetched.hit), float(fetched.array.sum()))
"""
_WAIT_S = 30.0


def _markers(work: Path, prefix: str) -> set[int]:
    """The requester numbers that left a ``<prefix><i>`` marker file."""
    return {int(path.name[len(prefix) :]) for path in work.glob(f"{prefix}*")}


def _start_requesters(tmp_path: Path, n: int, script: str, wait_s: float) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    root, work = str(tmp_path / "cache"), str(tmp_path / "markers")
    return [
        subprocess.Popen(
            [sys.executable, "-c", script, root, work, str(i), str(n), str(wait_s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for i in range(n)
    ]


def run_requesters(tmp_path: Path, n: int, script: str = _REQUESTER, wait_s: float = _WAIT_S) -> list[list[str]]:
    """Start ``n`` requesters, release them together, and return each one's printed words (hit, sum).

    Fails with the requesters' stderr when any of them exits non-zero (e.g. it gave up waiting).
    """
    work = tmp_path / "markers"
    work.mkdir()
    procs = _start_requesters(tmp_path, n, script, wait_s)
    try:
        deadline = time.monotonic() + 2 * wait_s
        while len(_markers(work, "ready")) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        (work / "go").touch()  # release all of them at once
        results = [p.communicate(timeout=3 * wait_s) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    return [out.split() for out, _ in results]


def test_concurrent_processes_compute_once_and_the_others_wait_on_the_lock(tmp_path: Path) -> None:
    n = 3
    outputs = run_requesters(tmp_path, n)
    work = tmp_path / "markers"
    [computer] = _markers(work, "computing")  # the computation ran exactly once
    assert _markers(work, "blocked") == set(range(n)) - {computer}  # every other one blocked on the lock
    assert [words[0] for words in outputs] == ["0" if i == computer else "1" for i in range(n)]  # ...then hit
    assert {words[1] for words in outputs} == {"66.0"}


class TestTryCompute:
    """``try_compute``: the parts of a shared job that nobody else holds (an encoding in chunks)."""

    def test_computes_a_free_entry_and_reads_a_present_one(self, tmp_path: Path) -> None:
        cache, key = ArrayCache(tmp_path), CacheKey.from_inputs({"part": 0})
        first = cache.try_compute(key, lambda: np.ones((2, 3), dtype=np.float32))
        assert first is not None and not first.hit and cache.contains(key)
        again = cache.try_compute(key, lambda: pytest.fail("computed twice"))
        assert again is not None and again.hit and np.array_equal(again.array, first.array)
        cache.remove(key)
        assert not cache.contains(key) and cache.load(key) is None
        cache.remove(key)  # removing what is not there is not an error

    def test_gives_up_at_once_while_another_process_holds_the_entry(self, tmp_path: Path) -> None:
        from filelock import FileLock

        cache, key = ArrayCache(tmp_path), CacheKey.from_inputs({"part": 1})
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys, filelock; lock = filelock.FileLock(sys.argv[1]); lock.acquire();"
             " print('held', flush=True); sys.stdin.readline()", str(cache.path(key).with_suffix(".lock"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        cache.path(key).parent.mkdir(parents=True, exist_ok=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            start = time.monotonic()
            assert cache.try_compute(key, lambda: pytest.fail("computed under another's lock")) is None
            assert time.monotonic() - start < 1.0
        finally:
            holder.communicate("\n", timeout=10)
        with FileLock(str(cache.path(key).with_suffix(".lock")), timeout=0):  # released with its process
            pass

    def test_a_soft_locked_cache_shares_nothing(self, tmp_path: Path) -> None:
        cache = ArrayCache(tmp_path, lock="soft")
        assert cache.try_compute(CacheKey.from_inputs({"part": 2}), lambda: pytest.fail("computed")) is None
