"""Text encoders by name, with cached embeddings.

``embed_dataset("minilm-l6", dataset)`` returns float32 embeddings of the train, validation and test
splits. Encoders are declarative :class:`EncoderSpec` records in a registry (built-ins below; add yours
with :func:`register_embedding` or the ``pytest_albench.embeddings`` entry-point group); any
sentence-transformers hub id (``org/name[@revision]``) or local model folder works as a name too.

Built-in encoders: ``minilm-l6`` (offline default), ``minilm-l3-onnx``, ``glove-50d``, ``tfidf-lsa``
(fitted on train only), ``mpnet-base`` (split-zip PyPI packages), ``bert-base-uncased`` and the study's
MTEB models by hub id (those needing ``trust_remote_code`` load only after an explicit opt-in).

Importing this package is cheap: torch, sentence-transformers, onnxruntime and scikit-learn are
imported only when an encoder actually has to encode something.
"""

from __future__ import annotations

from . import _light, _packaged, _st  # noqa: F401  (register the built-in backends)
from ._backends import Backend, BatchEncoder, LoadContext, register_backend, resolve_device
from ._embed import EMBEDDINGS_SUBDIR, EmbeddedDataset, embed_dataset, encoder_identity, release_encoders
from ._spec import (
    BUILTIN_ENCODERS,
    LADDER,
    OFFLINE_ENCODERS,
    EncoderSpec,
    embedding_names,
    get_encoder_spec,
    missing_requirement,
    register_embedding,
)
from ._transforms import Transform, apply_transforms, parse_embedding_name

__all__ = [
    "BUILTIN_ENCODERS",
    "EMBEDDINGS_SUBDIR",
    "LADDER",
    "OFFLINE_ENCODERS",
    "Backend",
    "BatchEncoder",
    "EmbeddedDataset",
    "EncoderSpec",
    "LoadContext",
    "Transform",
    "apply_transforms",
    "embed_dataset",
    "embedding_names",
    "encoder_identity",
    "get_encoder_spec",
    "missing_requirement",
    "parse_embedding_name",
    "register_backend",
    "register_embedding",
    "release_encoders",
    "resolve_device",
]
