"""``embed_dataset``: every split of a dataset through one encoder, via the verified cache.

Each split is one cache entry keyed by the encoder's identity and the split's content fingerprint.
The encoder is loaded lazily, on the first miss, so a warm cache never imports torch or the model.
Output is checked before it is stored (2-D, one row per text, finite), because a NaN that reaches
the cache would poison every later run; rejected output raises and is never cached.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SPLIT_NAMES, Split, TextDataset
from ..errors import ConfigError, EmbeddingError
from ..storage.cache import ArrayCache, CacheKey, Fetched, resolve_cache_dir
from ..storage.cpu_slots import HELPING, LIGHT_ENCODING, MODEL_ENCODING, compute_slot, helping_place
from ._backends import Backend, BatchEncoder, LoadContext, get_backend
from ._spec import EncoderSpec, get_encoder_spec
from ._transforms import SEPARATOR, TRANSFORM_VERSION, Transform, apply_transforms, parse_embedding_name

#: Sub-folder of the cache root holding embedding entries (extracted models go to ``models/``).
EMBEDDINGS_SUBDIR = "embeddings"


@dataclass(frozen=True, eq=False)
class EmbeddedDataset:
    """Float32 embeddings of a dataset's three splits, row-aligned with the dataset's texts.

    ``cache_hits`` maps each split name to whether it was read from the cache.
    """

    dataset_name: str
    encoder_name: str
    encoder_identity: Mapping[str, Any]
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    cache_hits: Mapping[str, bool] = field(default_factory=dict)
    dataset_fingerprint: str = ""

    def split(self, name: str) -> np.ndarray:
        if name not in SPLIT_NAMES:
            raise EmbeddingError(f"unknown split {name!r}; use one of {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)  # type: ignore[no-any-return]

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])

    @property
    def fully_cached(self) -> bool:
        return bool(self.cache_hits) and all(self.cache_hits.values())

    def __repr__(self) -> str:
        shapes = ", ".join(f"{s}={self.split(s).shape}" for s in SPLIT_NAMES)
        hits = dict(self.cache_hits)
        return f"EmbeddedDataset({self.encoder_name!r} on {self.dataset_name!r}: {shapes}, hits={hits})"


def encoder_identity(encoder: str | EncoderSpec, dataset: TextDataset | None = None) -> dict[str, Any]:
    """The JSON-safe identity that keys the cache (cheap: imports no model library).

    For encoders fitted on the train split (``tfidf-lsa``) it includes the train fingerprint, so the
    embeddings of a test split change whenever the train split they were fitted on changes. So does a
    transformed embedding (``"minilm-l6|pca:32"``): its transforms are fitted on the train split.
    """
    if isinstance(encoder, str) and SEPARATOR in encoder:
        base, transforms = parse_embedding_name(encoder)
        if dataset is None:
            raise EmbeddingError(f"embedding {encoder!r} is fitted on a train split: pass the dataset")
        return _transformed_identity(encoder_identity(base, dataset), transforms, dataset)
    spec = get_encoder_spec(encoder)
    return _identity(spec, get_backend(spec), dataset)


def _transformed_identity(
    base: Mapping[str, Any], transforms: tuple[Transform, ...], dataset: TextDataset
) -> dict[str, Any]:
    return {
        "encoder": dict(base),
        "transforms": [step.identity() for step in transforms],
        "transform_version": TRANSFORM_VERSION,
        "fitted_on_pool": dataset.train.fingerprint,
    }


def _identity(spec: EncoderSpec, backend: Backend, dataset: TextDataset | None) -> dict[str, Any]:
    identity = backend.identity(spec)
    if backend.fits_on_train:
        if dataset is None:
            raise EmbeddingError(f"encoder {spec.name!r} is fitted on a train split: pass the dataset")
        identity["fit_on_train"] = dataset.train.fingerprint
    return identity


def _check_trust(spec: EncoderSpec, trust_remote_code: bool) -> None:
    """Remote code is an explicit opt-in, checked before the cache so behaviour never depends on it."""
    if spec.trust_remote_code and not trust_remote_code:
        raise EmbeddingError(
            f"encoder {spec.name!r} runs Python code from its model repository (trust_remote_code). "
            "Review that code, then opt in with --albench-trust-remote-code "
            "(or embed_dataset(..., trust_remote_code=True))"
        )


#: The most recently loaded encoder, reused across ``embed_dataset`` calls (one dataset after another
#: with the same 7B model must not reload it); only one is kept so GPU memory holds one model.
_LOADED: dict[tuple[Any, ...], BatchEncoder] = {}


def release_encoders() -> None:
    """Drop the loaded model and return its memory (GPU memory too) before other work.

    The embedding stage calls this once a pair's embeddings are written, so a worker that moves on to AL
    cases holds no encoder.
    """
    if not _LOADED:
        return
    _LOADED.clear()
    gc.collect()
    release_cached_gpu_memory()


#: Seconds between the "waiting for the GPU" messages of a process whose encoder waits for another's.
_SLOT_NOTICE_S = 60.0


@contextlib.contextmanager
def device_slot(device: str, cache_root: Path) -> Iterator[None]:
    """Hold the one encoder slot of ``device`` (a CUDA device) while a model is loaded and encodes.

    Eight xdist workers on one GPU would otherwise each load a different 7-8B encoder at once (about
    15 GB each in bfloat16). The slot is an exclusive ``flock`` on ``<cache>/locks/encode-<device>.lock``,
    released by the OS if the process dies; other devices, and CPU encoding, take no slot. On systems
    without ``fcntl`` (Windows) there is no slot.
    """
    if not device.startswith("cuda"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    folder = cache_root / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"encode-{device.replace(':', '-')}.lock", "a+b") as handle:
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited % _SLOT_NOTICE_S == 0 and waited:
                    print(
                        f"pytest-albench: waiting {waited:.0f} s for {device}: another encoder holds it",
                        file=sys.stderr,
                    )
                time.sleep(1.0)
                waited += 1.0
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_key(spec: EncoderSpec, context: LoadContext) -> tuple[Any, ...]:
    """What makes two loads of a model the same model (its key in :data:`_LOADED`)."""
    return (spec, id(spec.function), context.device, context.trust_remote_code, context.cache_dir)


def _load(spec: EncoderSpec, backend: Backend, context: LoadContext) -> BatchEncoder:
    if backend.fits_on_train:  # fitted on this dataset's train split: never shared
        return backend.load(spec, context)
    key = _load_key(spec, context)
    if key not in _LOADED:
        _LOADED.clear()  # release the previous model before loading the next
        _LOADED[key] = backend.load(spec, context)
    return _LOADED[key]


class _LazyEncoder:
    """Loads the model on the first call only: on a fully warm cache it is never called.

    A model bound for a GPU (``Backend.uses_device``) first takes that device's encoder slot
    (:func:`device_slot`), held until :meth:`close`; ``on_gpu`` then says that the model should be
    released afterwards.
    """

    def __init__(self, spec: EncoderSpec, backend: Backend, context: LoadContext) -> None:
        self.spec, self.backend, self.context = spec, backend, context
        self._encode: BatchEncoder | None = None
        self._slot = contextlib.ExitStack()
        self.on_gpu = False
        #: The largest batch that fitted after an out-of-memory error (kept for the later splits).
        self.max_batch: int | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self._encode is None:
            if self.backend.uses_device and self.context.device != "cpu":
                from ._backends import resolve_device

                device = resolve_device(self.context.device)
                self.on_gpu = device.startswith("cuda")
                self._slot.enter_context(device_slot(device, self.context.cache_dir))
            self._encode = _load(self.spec, self.backend, self.context)
        return np.asarray(self._encode(texts))

    @property
    def loaded(self) -> bool:
        """Whether this call loaded (or reused) the model, i.e. encoded something."""
        return self._encode is not None

    @property
    def in_memory(self) -> bool:
        """Whether encoding now costs no model load: loaded by this call, or kept from an earlier one."""
        return self.loaded or _load_key(self.spec, self.context) in _LOADED

    def close(self) -> None:
        """Give the device slot back (the next process's encoder may load)."""
        if self.on_gpu:
            release_encoders()  # a GPU encoder is not kept for later pairs: AL cases need the memory
        self._slot.close()


def embed_dataset(
    encoder: str | EncoderSpec,
    dataset: TextDataset,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    device: str = "auto",
    batch_size: int = 32,
    progress: bool = True,
    trust_remote_code: bool = False,
) -> EmbeddedDataset:
    """Embed train, validation and test with ``encoder`` (a name, hub id, local folder or spec).

    ``cache_dir`` defaults to ``$ALBENCH_CACHE_DIR`` then ``~/.cache/pytest-albench``; ``device="auto"``
    picks the GPU when there is one (decided only when something must be encoded).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(encoder, str) and SEPARATOR in encoder:
        base_name, transforms = parse_embedding_name(encoder)
        base = embed_dataset(
            base_name,
            dataset,
            cache_dir=cache_dir,
            device=device,
            batch_size=batch_size,
            progress=progress,
            trust_remote_code=trust_remote_code,
        )
        return _transformed(encoder, base, transforms, dataset, resolve_cache_dir(cache_dir))
    spec = get_encoder_spec(encoder)
    _check_trust(spec, trust_remote_code)
    backend = get_backend(spec)
    identity = _identity(spec, backend, dataset)
    root = resolve_cache_dir(cache_dir)
    cache = ArrayCache(root / EMBEDDINGS_SUBDIR)
    lazy = _LazyEncoder(spec, backend, LoadContext(device, root, trust_remote_code, dataset.train.texts))
    arrays: dict[str, np.ndarray] = {}
    hits: dict[str, bool] = {}
    with contextlib.closing(lazy):
        _embed_splits(lazy, spec, backend, dataset, identity, cache, batch_size, progress, arrays, hits)
    if lazy.loaded and all(hits.values()):
        release_encoders()  # loaded only to help another process's encoding: no second copy is kept
    return _embedded(dataset, spec.name, identity, arrays, hits)


def _transformed(
    name: str, base: EmbeddedDataset, transforms: tuple[Transform, ...], dataset: TextDataset, root: Path
) -> EmbeddedDataset:
    """``base`` through ``transforms`` (fitted on the train split, i.e. the pool), cached per split.

    The transforms take milliseconds to seconds, but the cache makes a transformed embedding behave like
    any other: read back verified, keyed by everything it depends on, shared by xdist workers.
    """
    identity = _transformed_identity(base.encoder_identity, transforms, dataset)
    cache = ArrayCache(root / EMBEDDINGS_SUBDIR)
    present = [split for split in SPLIT_NAMES if len(dataset.split(split))]
    computed: dict[str, np.ndarray] = {}

    def compute(split: str) -> np.ndarray:
        if not computed:
            inputs = {s: base.split(s) for s in present}
            computed.update(apply_transforms(transforms, inputs, fit_on="train", where=f"embedding {name!r}"))
        return computed[split]

    arrays: dict[str, np.ndarray] = {}
    hits: dict[str, bool] = {}
    for split in SPLIT_NAMES:
        if split not in present:
            continue
        key = CacheKey.from_inputs({"encoder": identity, "split": dataset.split(split).fingerprint})
        meta = {"encoder": name, "dataset": dataset.name, "split": split, "rows": len(dataset.split(split))}
        fetched = cache.get_or_compute(key, functools.partial(compute, split), meta=meta)
        arrays[split], hits[split] = _check_rows(fetched.array, name, dataset, dataset.split(split)), fetched.hit
    width = arrays["train"].shape[1]
    for split in SPLIT_NAMES:
        if split not in present:
            arrays[split], hits[split] = np.empty((0, width), dtype=np.float32), True
    return _embedded(dataset, name, identity, arrays, hits)


def _embedded(
    dataset: TextDataset,
    name: str,
    identity: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    hits: Mapping[str, bool],
) -> EmbeddedDataset:
    return EmbeddedDataset(
        dataset.name,
        name,
        identity,
        arrays["train"],
        arrays["validation"],
        arrays["test"],
        dict(hits),
        dataset.fingerprint,
    )


def _embed_splits(
    lazy: _LazyEncoder,
    spec: EncoderSpec,
    backend: Backend,
    dataset: TextDataset,
    identity: Mapping[str, Any],
    cache: ArrayCache,
    batch_size: int,
    progress: bool,
    arrays: dict[str, np.ndarray],
    hits: dict[str, bool],
) -> None:
    """Fill ``arrays`` and ``hits`` per split from the cache, encoding (and storing) the misses."""
    priority = MODEL_ENCODING if backend.runs_a_model else LIGHT_ENCODING
    shared: bool | None = None  # decided at the first miss: it may import torch
    for name in SPLIT_NAMES:
        split = dataset.split(name)
        if len(split) == 0:  # only validation may be empty (no held-out split); train comes first
            arrays[name], hits[name] = np.empty((0, arrays["train"].shape[1]), dtype=np.float32), True
            continue
        key = CacheKey.from_inputs({"encoder": identity, "split": split.fingerprint})
        meta = {"encoder": spec.name, "dataset": dataset.name, "split": name, "rows": len(split)}
        if shared is None and not cache.contains(key):
            shared = _shareable(backend, lazy.context, cache)
        job = _SplitEncoding(lazy, spec, backend, dataset, split, batch_size, progress, priority)
        if shared and not cache.contains(key):
            fetched = job.shared(cache, key, meta)
        else:  # a split on disk (read and verified here) or an encoder that cannot be shared
            fetched = cache.get_or_compute(key, job.whole, meta=meta)
        arrays[name] = _check_rows(fetched.array, spec, dataset, split)
        hits[name] = fetched.hit


#: Under ``pytest -n N`` the processes that wait for one encoding share it in chunks of this many batches.
CHUNK_BATCHES = 4


def _shareable(backend: Backend, context: LoadContext, cache: ArrayCache) -> bool:
    """Whether processes may encode a split of this encoder in chunks, together.

    Only a backend that says so (``Backend.shareable``: not TF-IDF, which each helper would fit again,
    nor a lookup table, done in seconds) and only on the CPU: a GPU encoder holds its device for the
    whole pair (``device_slot``), so a second process would wait for the device while holding a chunk
    the first one needs, and a GPU batch that runs out of memory is halved for the rest of the split.
    A soft-locked or read-only cache cannot share (:meth:`ArrayCache.try_compute`).
    """
    if not backend.shareable or cache.lock_kind != "hard":
        return False
    if context.device == "cpu":
        return True
    from ._backends import resolve_device

    return resolve_device(context.device) == "cpu"


@dataclass
class _SplitEncoding:
    """One split's encoding: whole (:meth:`whole`), or in chunks that waiting processes share (:meth:`shared`).

    Both make the same batches (the texts sorted by length, ``batch_size`` at a time; a chunk is
    :data:`CHUNK_BATCHES` whole batches), so they give the same vectors bit for bit. Each encoding
    holds a compute slot of ``priority`` while it runs (``storage/cpu_slots.py``): every later case of
    its pair waits for it, so it goes before waiting AL cases.
    """

    encode: _LazyEncoder
    spec: EncoderSpec
    backend: Backend
    dataset: TextDataset
    split: Split
    batch_size: int
    progress: bool
    priority: int

    def order(self) -> np.ndarray:
        """The rows in batch order: longest text first when the backend pads batches."""
        lengths = np.array([len(t) for t in self.split.texts])
        return np.argsort(-lengths, kind="stable") if self.backend.sort_by_length else np.arange(len(lengths))

    def whole(self) -> np.ndarray:
        with compute_slot(self.priority):
            return _encode_split(
                self.encode, self.spec, self.dataset, self.split, self.order(), self.batch_size, self.progress
            )

    def shared(self, cache: ArrayCache, key: CacheKey, meta: Mapping[str, Any]) -> Fetched:
        """The split from the cache, else encoded in chunks, shared with any process that waits for it.

        The process that takes the split's lock owns the encoding: it encodes the chunks nobody else is
        encoding, at its encoder's priority, then puts all of them together (waiting for those others
        encode) and removes them once the split's entry is written. A process that finds the lock taken
        helps: it encodes free chunks at the lowest priority (only on a core nobody else wants), then
        waits for the split like any reader.
        """
        order = self.order()
        size = self.batch_size * CHUNK_BATCHES
        starts = list(range(0, len(order), size))
        chunk_keys = [
            CacheKey.from_inputs(
                {"part_of": key.digest, "rows": [start, min(start + size, len(order))], "batch_size": self.batch_size}
            )
            for start in starts
        ]
        chunk_meta = {**meta, "part_of": key.digest}

        def remove_chunks() -> None:
            for chunk_key in chunk_keys:
                cache.remove(chunk_key)

        from tqdm.auto import tqdm

        where = f"{self.spec.name} {self.dataset.name}/{self.split.name}"
        bar = tqdm(total=len(order), desc=where, unit="text", disable=not self.progress, leave=False)

        def chunk(start: int, priority: int) -> Callable[[], np.ndarray]:
            def compute() -> np.ndarray:
                if priority == HELPING and cache.contains(key):  # put together (its chunks removed) meanwhile
                    raise _Assembled
                with compute_slot(priority):
                    rows = order[start : start + size]
                    vectors = _encode_rows(self.encode, self.spec, self.dataset, self.split, rows, self.batch_size)
                bar.update(len(rows))
                return vectors

            return compute

        def take_free_chunks(priority: int) -> None:
            with contextlib.suppress(_Assembled):
                for start, chunk_key in zip(starts, chunk_keys, strict=True):
                    if cache.contains(key):
                        return
                    if cache.contains(chunk_key):
                        continue
                    # a helper takes its core before the chunk: the owner may wait for a chunk a helper holds,
                    # so a helper must not hold one while it waits for a core at the lowest priority
                    with compute_slot(priority) if priority == HELPING else contextlib.nullcontext():
                        cache.try_compute(chunk_key, chunk(start, priority), meta=chunk_meta)

        def own() -> np.ndarray:
            take_free_chunks(self.priority)
            parts = [
                cache.get_or_compute(chunk_key, chunk(start, self.priority), meta=chunk_meta).array
                for start, chunk_key in zip(starts, chunk_keys, strict=True)
            ]
            out = np.empty((len(order), parts[0].shape[1]), dtype=np.float32)
            out[order] = np.concatenate(parts)
            try:
                return _finalise(out, self.spec, self.dataset, self.split)
            except EmbeddingError:
                remove_chunks()  # rejected output (NaN, a wrong width) is not kept in parts either
                raise

        with bar:
            fetched = cache.try_compute(key, own, meta=meta)
            if fetched is None:  # another process owns it (or the cache cannot be shared): help, then wait
                # a helper pays a model load first: only as many as can compute beside the owner, and any
                # process that has the model already (storage/cpu_slots.py, "Helpers are few")
                place = contextlib.nullcontext(True) if self.encode.in_memory else helping_place(key.digest)
                with place as may_help:
                    if may_help:
                        take_free_chunks(HELPING)
                fetched = cache.get_or_compute(key, own, meta=meta)
        if not fetched.hit:
            remove_chunks()
        return fetched


class _Assembled(Exception):
    """Internal: the split this chunk belongs to was written by another process; the chunk is not needed."""


def _encode_rows(
    encode: _LazyEncoder, spec: EncoderSpec, dataset: TextDataset, split: Split, rows: np.ndarray, batch_size: int
) -> np.ndarray:
    """The vectors of ``rows``, in that order, ``batch_size`` texts per call (CPU only: no out-of-memory retry)."""
    texts = split.texts
    batches = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    return np.concatenate(
        [_batch_output(encode([texts[i] for i in batch]), len(batch), spec, dataset, split) for batch in batches]
    )


def _encode_split(
    encode: _LazyEncoder,
    spec: EncoderSpec,
    dataset: TextDataset,
    split: Split,
    order: np.ndarray,
    batch_size: int,
    progress: bool,
) -> np.ndarray:
    from tqdm.auto import tqdm

    texts = list(split.texts)
    out: np.ndarray | None = None
    with tqdm(
        total=len(texts),
        desc=f"{spec.name} {dataset.name}/{split.name}",
        unit="text",
        disable=not progress,
        leave=False,
    ) as bar:
        start = 0
        batch_size = min(batch_size, encode.max_batch or batch_size)
        while start < len(texts):
            rows = order[start : start + batch_size]
            try:
                raw = encode([texts[i] for i in rows])
            except Exception as exc:  # only a GPU out-of-memory error is handled; the rest re-raised
                if not _out_of_memory(exc) or batch_size == 1:
                    raise
                # long texts come first (sorted by length): halve the batch for the rest of the split
                batch_size = encode.max_batch = max(1, batch_size // 2)
                release_cached_gpu_memory()
                continue
            batch = _batch_output(raw, len(rows), spec, dataset, split)
            start += len(rows)
            if out is None:
                out = np.empty((len(texts), batch.shape[1]), dtype=np.float32)
            out[rows] = batch
            bar.update(len(rows))
    assert out is not None  # splits are never empty (TextDataset guarantees it)
    return _finalise(out, spec, dataset, split)


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is torch's CUDA out-of-memory error (checked by name: torch may not be imported)."""
    return type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc)


def release_cached_gpu_memory() -> None:
    """Return the CUDA caching allocator's free blocks (after an out-of-memory error)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _where(spec: EncoderSpec | str, dataset: TextDataset, split: Split) -> str:
    name = spec if isinstance(spec, str) else spec.name
    return f"encoder {name!r} on dataset {dataset.name!r} ({split.name} split)"


def _batch_output(raw: np.ndarray, rows: int, spec: EncoderSpec, dataset: TextDataset, split: Split) -> np.ndarray:
    if raw.ndim != 2 or raw.shape[0] != rows:
        raise EmbeddingError(
            f"{_where(spec, dataset, split)} returned shape {raw.shape} for {rows} texts; an encoder must "
            "return one row per text (n, d)"
        )
    if not np.issubdtype(raw.dtype, np.number) or np.issubdtype(raw.dtype, np.complexfloating):
        raise EmbeddingError(f"{_where(spec, dataset, split)} returned dtype {raw.dtype}; return real numbers")
    return raw.astype(np.float32, copy=False)


def _finalise(out: np.ndarray, spec: EncoderSpec, dataset: TextDataset, split: Split) -> np.ndarray:
    """Reject non-finite rows and unexpected widths; L2-normalise when the spec asks for it."""
    bad = int((~np.isfinite(out).all(axis=1)).sum())
    if bad:
        raise EmbeddingError(
            f"{_where(spec, dataset, split)} produced {bad} of {len(out)} rows with NaN or inf values; "
            "nothing was cached. Check the model's dtype (fp16 overflow), its inputs, or use another encoder"
        )
    if spec.dim is not None and out.shape[1] != spec.dim:
        raise EmbeddingError(
            f"{_where(spec, dataset, split)} produced {out.shape[1]}-d vectors but its spec says {spec.dim}; "
            "fix EncoderSpec.dim or the model wiring"
        )
    if spec.normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
    return out


def _check_rows(array: np.ndarray, spec: EncoderSpec | str, dataset: TextDataset, split: Split) -> np.ndarray:
    if array.ndim != 2 or array.shape[0] != len(split) or array.dtype != np.float32:
        raise EmbeddingError(
            f"{_where(spec, dataset, split)}: cached array has shape {array.shape} and dtype {array.dtype}, "
            f"expected ({len(split)}, d) float32; delete the cache folder and rerun"
        )
    return array
