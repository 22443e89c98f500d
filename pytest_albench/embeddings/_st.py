"""sentence-transformers encoders: packaged folders, local folders, hub ids, and the split-zip MPNet.

Hub loading is where an offline machine hangs or prints a page of traceback, so it is guarded: with
the Hub switched off, a model that is not already in the local Hugging Face cache fails at once with
an :class:`EmbeddingError` that lists the encoders which work offline.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingError
from ._backends import Backend, BatchEncoder, LoadContext, base_identity, register_backend, resolve_device
from ._locate import hash_model_folder, hub_offline, locate
from ._spec import OFFLINE_ENCODERS, EncoderSpec

_OFFLINE_HINT = (
    f"Encoders that work offline: {', '.join(OFFLINE_ENCODERS)}; or pass a local model folder as the encoder name"
)


def _local_path(spec: EncoderSpec) -> Path | None:
    """The model folder when the spec points at installed or local files; None for a hub id."""
    if spec.model.startswith(("pkg:", "dist:")):
        return locate(spec, spec.model)
    path = Path(spec.model).expanduser()
    return path if spec.model and path.exists() else None


def st_identity(spec: EncoderSpec) -> dict[str, Any]:
    identity = base_identity(spec)
    path = _local_path(spec)
    if path is not None and not spec.packages:
        identity["files_sha256"] = hash_model_folder(path)  # a bare folder has no version to trust
    elif path is None and spec.revision is None:
        identity["revision"] = "unpinned"  # hub head: pin with "org/name@<commit>" for stable caches
    return identity


def st_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    path = _local_path(spec)
    return load_sentence_transformer(spec, ctx, str(path) if path else spec.model, from_hub=path is None)


def _require_cached_snapshot(spec: EncoderSpec) -> None:
    """With the Hub off, fail fast unless the model already sits in the local HF cache."""
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(spec.model, revision=spec.revision, local_files_only=True)
    except Exception as exc:
        raise EmbeddingError(
            f"encoder {spec.name!r}: model {spec.model!r} is not in the local Hugging Face cache and the Hub "
            f"is switched off (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE). {_OFFLINE_HINT}"
        ) from exc


def load_sentence_transformer(spec: EncoderSpec, ctx: LoadContext, location: str, *, from_hub: bool) -> BatchEncoder:
    """Load ``location`` with sentence-transformers and return a batch function (float32 output)."""
    offline = from_hub and hub_offline()
    if offline:
        _require_cached_snapshot(spec)
    device = resolve_device(ctx.device)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbeddingError(
            f"encoder {spec.name!r} needs sentence-transformers: pip install sentence-transformers"
        ) from exc
    try:
        model = SentenceTransformer(
            location,
            device=device,
            trust_remote_code=spec.trust_remote_code and ctx.trust_remote_code,
            revision=spec.revision if from_hub else None,
            local_files_only=offline,
        )
    except Exception as exc:  # network, missing files, incompatible code: one readable line
        where = "from the Hugging Face Hub" if from_hub else f"from {location}"
        hint = (
            f" {_OFFLINE_HINT}."
            if from_hub
            else " Check that the folder is a sentence-transformers or transformers model."
        )
        raise EmbeddingError(
            f"encoder {spec.name!r} could not be loaded {where}: {type(exc).__name__}: {exc}.{hint}"
        ) from exc
    return _configure(spec, model, device)


def _configure(spec: EncoderSpec, model: Any, device: str) -> BatchEncoder:
    if spec.max_seq_length:
        model.max_seq_length = spec.max_seq_length
    if spec.half_precision_on_gpu and device.startswith("cuda"):
        import torch

        # bfloat16 keeps float32's range (fp16 can overflow to inf in 7B models); fp16 on older GPUs.
        model.to(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)

    def encode(texts: list[str]) -> np.ndarray:
        out = model.encode(
            texts,
            batch_size=len(texts),
            prompt=spec.query_prompt,
            convert_to_tensor=True,
            show_progress_bar=False,
            normalize_embeddings=False,
        )
        array: np.ndarray = out.float().cpu().numpy()  # half / bfloat16 → float32 before leaving torch
        return array

    return encode


register_backend("sentence-transformers", Backend(st_identity, st_load, shareable=True, uses_device=True))


# --- all-mpnet-base-v2 from byte-split PyPI packages ------------------------------------------------

_PART_SUFFIX = re.compile(r"\.zip\.(\d+)$")


def zip_parts(spec: EncoderSpec) -> list[Path]:
    """The ``*.zip.NNN`` files of the spec's packages, in part order (raises with the pip command)."""
    parts: list[tuple[int, Path]] = []
    for distribution in spec.packages:
        try:
            dist = metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            raise EmbeddingError(
                f"encoder {spec.name!r} needs the packages {', '.join(spec.packages)}: {spec.pip_hint}"
            ) from None
        for file in dist.files or []:
            match = _PART_SUFFIX.search(str(file))
            if match:
                parts.append((int(match.group(1)), Path(str(dist.locate_file(file)))))
    if len(parts) != len(spec.packages):
        raise EmbeddingError(
            f"encoder {spec.name!r}: found {len(parts)} zip parts in {len(spec.packages)} packages; "
            f"reinstall them: {spec.pip_hint}"
        )
    return [path for _, path in sorted(parts)]


def extract_split_zip(parts: list[Path], models_dir: Path, name: str, tag: str) -> Path:
    """Join ``parts`` into one zip and unpack its model folder to ``models_dir/name-tag`` once.

    Several workers may ask at the same time, so extraction runs under a file lock into a temporary
    folder that is renamed into place only when complete; later calls return the folder at once.
    """
    from filelock import FileLock

    target = models_dir / f"{name}-{tag}"
    if target.is_dir():
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models_dir / f"{name}-{tag}.lock")):
        if target.is_dir():
            return target
        work = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".{name}-"))
        try:
            os.replace(_unpack(parts, work), target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _unpack(parts: list[Path], work: Path) -> Path:
    joined = work / "model.zip"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 24)
    try:
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(work / "unpacked")  # extractall drops absolute and ".." member paths
    except zipfile.BadZipFile as exc:
        raise EmbeddingError(
            f"the joined model archive from {parts[0].parent} is not a valid zip ({exc}); reinstall the packages"
        ) from exc
    joined.unlink()
    return _model_root(work / "unpacked")


def _model_root(folder: Path) -> Path:
    """The shallowest folder holding a model config (archives often wrap the model in a folder)."""
    markers = sorted(
        (len(p.relative_to(folder).parts), p.parent)
        for name in ("modules.json", "config.json")
        for p in folder.rglob(name)
    )
    if not markers:
        raise EmbeddingError(f"the model archive unpacked in {folder} holds no modules.json or config.json")
    return markers[0][1]


def split_zip_load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
    parts = zip_parts(spec)
    tag = hashlib.sha256("|".join(f"{p.name}:{p.stat().st_size}" for p in parts).encode()).hexdigest()[:16]
    folder = extract_split_zip(parts, ctx.cache_dir / "models", spec.name, tag)
    return load_sentence_transformer(spec, ctx, str(folder), from_hub=False)


def split_zip_identity(spec: EncoderSpec) -> dict[str, Any]:
    zip_parts(spec)  # fail early, here, with the pip command, not on a cache miss later
    return base_identity(spec)


register_backend(
    "st-split-zip", Backend(split_zip_identity, split_zip_load, shareable=True, uses_device=True)
)  # a SentenceTransformer, as above
