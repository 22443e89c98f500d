"""Build a Hugging Face cache on disk exactly as ``huggingface_hub`` writes it, filled with small real data.

Layout (huggingface_hub's cache, "Understand caching" in its docs)::

    <HF_HUB_CACHE>/<models|datasets>--<org>--<name>/
        blobs/<content hash>                    the files' bytes
        refs/<branch>                           the commit a branch points at ("main", "convert/parquet")
        snapshots/<commit>/<path in repo>       relative symlinks into ../blobs

Parquet files are written by ``datasets`` itself (``Dataset.to_parquet``), so they carry the features
(class names) in their schema as the hub's files do. Texts come from the packaged BBC corpus and the model
files from the packaged all-MiniLM-L6-v2, so nothing here needs the network.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_albench.data import load_dataset
from pytest_albench.data._hub import HubDatasetSpec
from pytest_albench.embeddings import get_encoder_spec
from pytest_albench.embeddings._locate import locate

#: The commit of sentence-transformers/all-MiniLM-L6-v2 that MTEB's model registry pins
#: (mteb/models/model_implementations/sentence_transformers_models.py); the packaged MiniLM is that model.
MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_SHA = "8b3219a92973c328a8e22fadcfa821b5dc75636a"

_OFFLINE_ENV = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def write_repo(
    hub_cache: Path,
    repo_type: str,
    repo_id: str,
    commit: str,
    files: Mapping[str, bytes],
    ref: str = "main",
) -> Path:
    """Write ``files`` (path in repo → bytes) as the snapshot ``commit`` of ``repo_id``; return the snapshot."""
    repo = hub_cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        digest = hashlib.sha256(content).hexdigest()
        blob = repo / "blobs" / digest
        blob.write_bytes(content)
        link = snapshot / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    ref_file = repo / "refs" / ref
    ref_file.parent.mkdir(parents=True, exist_ok=True)
    ref_file.write_text(commit)
    return snapshot


def parquet_bytes(columns: Mapping[str, list[Any]], features: Any) -> bytes:
    """One parquet file as ``datasets`` writes it (features, class names included, in the schema)."""
    import datasets

    buffer = io.BytesIO()
    datasets.Dataset.from_dict(dict(columns), features=features).to_parquet(buffer)
    return buffer.getvalue()


def minilm_files() -> dict[str, bytes]:
    """Every file of the packaged all-MiniLM-L6-v2 model folder, as the hub repo holds them."""
    spec = get_encoder_spec("minilm-l6")
    folder = locate(spec, spec.model)
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def sample_texts(count: int) -> list[str]:
    """``count`` short real texts (BBC News articles, first 160 characters), cycling if needed."""
    texts = [text[:160] for text in load_dataset("bbc_news").train.texts]
    return [texts[i % len(texts)] for i in range(count)]


def split_patterns(spec: HubDatasetSpec) -> dict[str, str]:
    """The first file pattern of each split, made concrete (``*`` → the hub's shard name)."""
    concrete = {}
    for split, patterns in spec.files:
        pattern = patterns[0]
        concrete[split] = pattern.replace("-*.parquet", "-00000-of-00001.parquet").replace("*.parquet", "0000.parquet")
    return concrete


@contextmanager
def hub_offline_env(hf_home: Path, monkeypatch: Any) -> Iterator[Path]:
    """Point every HF cache variable at ``hf_home`` with the Hub switched off; yields the hub cache."""
    hub_cache = hf_home / "hub"
    hub_cache.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(hf_home / "datasets"))
    for var in _OFFLINE_ENV:
        monkeypatch.setenv(var, "1")
    import huggingface_hub.constants as hub_constants

    # huggingface_hub reads these at import; the test session imported it before the variables changed.
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    try:
        import datasets.config as ds_config

        monkeypatch.setattr(ds_config, "HF_DATASETS_CACHE", hf_home / "datasets")
        monkeypatch.setattr(ds_config, "HF_HUB_OFFLINE", True)
    except ImportError:
        pass
    yield hub_cache
