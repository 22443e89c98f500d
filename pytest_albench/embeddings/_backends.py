"""The contract between an encoder kind and the embedding pipeline.

A backend answers two questions separately: *who am I* (``identity``: cheap, pure metadata, used for
the cache key on every run) and *encode these texts* (``load``: imports the heavy library and builds a
batch function, used only on a cache miss). Keeping them apart is what lets a warm cache serve
embeddings without importing torch or the model.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingError
from ._locate import package_versions
from ._spec import EncoderSpec

#: Encodes one batch of texts into an (n, d) array.
BatchEncoder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class LoadContext:
    """What a backend may use when loading: device request, cache root, opt-ins, the train texts."""

    device: str
    cache_dir: Path
    trust_remote_code: bool
    train_texts: tuple[str, ...]


@dataclass(frozen=True)
class Backend:
    """``fits_on_train``: the encoder is fitted on the train split, which then joins its identity.
    ``sort_by_length``: batch texts of similar length together (saves padding for transformers).
    ``runs_a_model``: a network runs on every text (minutes per dataset on a CPU, not seconds), so under
    compute slots its encodings start before those of lookup tables and TF-IDF (``storage/cpu_slots.py``).
    ``shareable``: on the CPU, processes waiting for one of its encodings may encode parts of it (the
    built-in model kinds, whose batches give the same vectors in any process; not a function of unknown
    device, whose GPU out-of-memory back-off needs the whole split in one process).
    ``uses_device``: the model runs on the run's device, a GPU when there is one; there it takes the
    device's encoder slot while it loads and encodes, and is released after its pair (``device_slot``).
    """

    identity: Callable[[EncoderSpec], dict[str, Any]]
    load: Callable[[EncoderSpec, LoadContext], BatchEncoder]
    fits_on_train: bool = False
    sort_by_length: bool = True
    runs_a_model: bool = True
    shareable: bool = False
    uses_device: bool = False


BACKENDS: dict[str, Backend] = {}


def register_backend(kind: str, backend: Backend) -> Backend:
    """Add an encoder kind; specs with ``kind=kind`` are then identified and loaded by it."""
    BACKENDS[kind] = backend
    return backend


def get_backend(spec: EncoderSpec) -> Backend:
    try:
        return BACKENDS[spec.kind]
    except KeyError:
        raise EmbeddingError(
            f"encoder {spec.name!r} has unknown kind {spec.kind!r}; use one of {', '.join(sorted(BACKENDS))} "
            "or add one with pytest_albench.embeddings.register_backend()"
        ) from None


def base_identity(spec: EncoderSpec) -> dict[str, Any]:
    """The fields every kind shares: what model, which revision, which output-changing settings."""
    return {
        "kind": spec.kind,
        "model": spec.model,
        "revision": spec.revision,
        "packages": package_versions(spec),
        "settings": {
            "max_seq_length": spec.max_seq_length,
            "normalize": spec.normalize,
            "query_prompt": spec.query_prompt,
        },
    }


def resolve_device(device: str) -> str:
    """``"auto"`` → ``cuda`` when torch sees a GPU (``mps`` on Apple silicon), else ``cpu``.

    Imports torch, so it is only called by backends that run torch models, on a cache miss.
    """
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EmbeddingError(
            f"device {device!r} was requested but torch sees no CUDA GPU; use --albench-device cpu (or device='auto')"
        )
    return device


def _callable_identity(spec: EncoderSpec) -> dict[str, Any]:
    """A Python function is identified by where it lives and by its source code."""
    function = spec.function
    if function is None:
        raise EmbeddingError(f"callable encoder {spec.name!r} has no function; register it with @register_embedding")
    try:
        source_hash: str | None = hashlib.sha256(inspect.getsource(function).encode("utf-8")).hexdigest()
    except (OSError, TypeError):
        source_hash = None  # e.g. a builtin or a lambda typed at a prompt: rely on revision
    where = f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', repr(function))}"
    return {**base_identity(spec), "function": where, "source_sha256": source_hash}


def _callable_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    function = spec.function
    assert function is not None  # checked by _callable_identity, which always runs first
    return lambda texts: np.asarray(function(list(texts)))


# a Python function may run anything: it is taken for a model
register_backend("callable", Backend(_callable_identity, _callable_load, sort_by_length=False))
