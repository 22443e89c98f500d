"""Encoders that need no torch: MiniLM in ONNX, mean GloVe vectors, and TF-IDF + LSA.

They give the benchmark a quality ladder that runs anywhere in seconds (static word vectors < LSA <
a small transformer), which is what the embedding-quality analysis needs on a CPU-only machine.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

import numpy as np

from ..errors import EmbeddingError
from ._backends import Backend, BatchEncoder, LoadContext, base_identity, register_backend
from ._locate import locate
from ._spec import EncoderSpec


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average token vectors over real tokens only (padding excluded), as sentence-transformers does."""
    weights = mask[..., None].astype(hidden.dtype)
    counts = np.maximum(weights.sum(axis=1), 1e-9)
    pooled: np.ndarray = (hidden * weights).sum(axis=1) / counts
    return pooled


# --- ONNX ---------------------------------------------------------------------------------------------


def onnx_identity(spec: EncoderSpec) -> dict[str, Any]:
    identity = base_identity(spec)
    identity["settings"].update(tokenizer=spec.tokenizer, pooling="mean")
    return identity


def _onnx_providers(device: str, available: list[str]) -> list[str]:
    gpu = "CUDAExecutionProvider" in available
    if device.startswith("cuda") and not gpu:
        raise EmbeddingError(
            f"device {device!r} was requested but onnxruntime has no CUDA provider; use --albench-device cpu "
            "or install onnxruntime-gpu"
        )
    use_gpu = gpu and (device == "auto" or device.startswith("cuda"))
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_gpu else ["CPUExecutionProvider"]


def _token_output(session: Any, spec: EncoderSpec) -> str:
    """The (batch, seq, hidden) float output; exported graphs name their outputs arbitrarily."""
    outputs = session.get_outputs()
    for output in outputs:
        if len(output.shape) == 3 and output.type == "tensor(float)":
            return str(output.name)
    found = [(o.name, o.shape, o.type) for o in outputs]
    raise EmbeddingError(f"encoder {spec.name!r}: the ONNX graph has no token-embedding output; outputs: {found}")


def _tokenizer(spec: EncoderSpec) -> Any:
    from tokenizers import Tokenizer

    if spec.tokenizer is None:
        raise EmbeddingError(f"ONNX encoder {spec.name!r} needs EncoderSpec.tokenizer (a tokenizer.json)")
    tokenizer = Tokenizer.from_file(str(locate(spec, spec.tokenizer)))
    tokenizer.enable_truncation(max_length=spec.max_seq_length or 128)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")  # pad to longest
    return tokenizer


def onnx_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EmbeddingError(f"encoder {spec.name!r} needs onnxruntime: {spec.pip_hint}") from exc
    model_path = locate(spec, spec.model)
    tokenizer = _tokenizer(spec)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the graph's unused-initializer notes are noise
    providers = _onnx_providers(ctx.device, ort.get_available_providers())
    session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    inputs = {i.name for i in session.get_inputs()}
    output = _token_output(session, spec)

    def encode(texts: list[str]) -> np.ndarray:
        encoded = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = session.run([output], {k: v for k, v in feeds.items() if k in inputs})
        return mean_pool(hidden, mask)

    return encode


register_backend("onnx", Backend(onnx_identity, onnx_load, shareable=True, uses_device=True))  # CUDA provider


# --- GloVe --------------------------------------------------------------------------------------------

#: Lower-cased word characters; the version string enters the identity so a change re-embeds.
GLOVE_TOKEN = re.compile(r"\w+")
_GLOVE_TOKENIZER = "lower+regex(\\w+)/v1"


def glove_identity(spec: EncoderSpec) -> dict[str, Any]:
    identity = base_identity(spec)
    identity["settings"].update(tokenizer=_GLOVE_TOKENIZER, pooling="mean", unknown="skip, zeros if none")
    return identity


def _glove_tables(spec: EncoderSpec) -> tuple[dict[str, int], np.ndarray]:
    root = locate(spec, spec.model)
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise EmbeddingError(f"encoder {spec.name!r} reads its vocabulary with pyarrow: {spec.pip_hint}") from exc
    tokens = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if len(tokens) != vectors.shape[0]:
        raise EmbeddingError(f"encoder {spec.name!r}: {len(tokens)} tokens but {vectors.shape[0]} vectors in {root}")
    vocab: dict[str, int] = {}
    for row, token in enumerate(tokens):
        vocab.setdefault(token, row)  # first row wins if the index repeats a token
    return vocab, vectors


def glove_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    vocab, vectors = _glove_tables(spec)

    def encode(texts: list[str]) -> np.ndarray:
        rows = [[vocab[t] for t in GLOVE_TOKEN.findall(text.lower()) if t in vocab] for text in texts]
        return mean_of_rows(vectors, rows)

    return encode


def mean_of_rows(vectors: np.ndarray, rows: list[list[int]]) -> np.ndarray:
    """Per text, the mean of ``vectors[rows[i]]``; a text without known words gets the zero vector.

    One gather and one ``np.add.reduceat`` over all texts instead of a Python loop of means.
    """
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    out = np.zeros((len(rows), vectors.shape[1]), dtype=np.float32)
    known = counts > 0
    if known.any():
        flat = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(counts.sum()))
        starts = (np.cumsum(counts) - counts)[known]
        sums = np.add.reduceat(np.asarray(vectors[flat], dtype=np.float64), starts, axis=0)
        out[known] = sums / counts[known, None]
    return out


register_backend("glove", Backend(glove_identity, glove_load, sort_by_length=False, runs_a_model=False))


# --- TF-IDF + LSA ---------------------------------------------------------------------------------------

_SVD_SEED = 0
#: Upper bound on LSA dimensions; capped by vocabulary and train size, so the spec leaves dim unset.
LSA_COMPONENTS = 256


def tfidf_identity(spec: EncoderSpec) -> dict[str, Any]:
    identity = base_identity(spec)
    identity["settings"].update(
        ngram_range=[1, 2], sublinear_tf=True, min_df=2, max_components=LSA_COMPONENTS, svd_seed=_SVD_SEED
    )
    identity["scikit_learn"] = _sklearn_version()
    return identity


def _sklearn_version() -> str:
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        raise EmbeddingError("encoder 'tfidf-lsa' needs scikit-learn: pip install scikit-learn") from None


def tfidf_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    """Fit TF-IDF and the SVD on the train texts only; validation and test are only transformed."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(ctx.train_texts)
    except ValueError as exc:  # "empty vocabulary; perhaps the documents only contain stop words"
        raise EmbeddingError(
            f"encoder {spec.name!r}: no term occurs in two train texts ({exc}); use more train data"
        ) from exc
    components = min(LSA_COMPONENTS, matrix.shape[1] - 1, matrix.shape[0] - 1)
    if components < 1:
        raise EmbeddingError(f"encoder {spec.name!r}: the train split is too small for an SVD (shape {matrix.shape})")
    svd = TruncatedSVD(n_components=components, random_state=_SVD_SEED).fit(matrix)
    return lambda texts: svd.transform(vectorizer.transform(texts)).astype(np.float32)


register_backend(
    "tfidf-lsa",
    Backend(tfidf_identity, tfidf_load, fits_on_train=True, sort_by_length=False, runs_a_model=False),
)
