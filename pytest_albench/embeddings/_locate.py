"""Find model files shipped in installed packages, and fingerprint them, without importing anything.

Importing a model package can be expensive (some load their weights or print on import), and the
cache identity must be computable on every run, so files are found through ``importlib.util.find_spec``
and ``importlib.metadata`` only. A folder given as a path is fingerprinted by content, because a local
folder has no revision that would tell us when its weights changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from importlib import metadata
from pathlib import Path

from ..errors import EmbeddingError
from ._spec import EncoderSpec

_HASH_SKIP = {"README.md", ".gitattributes", ".gitignore"}
_file_hash_memo: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _missing(spec: EncoderSpec, what: str) -> EmbeddingError:
    hint = spec.pip_hint or "install the package that provides it"
    return EmbeddingError(f"encoder {spec.name!r} needs {what}, which is not installed here: {hint}")


def distribution_version(spec: EncoderSpec, distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise _missing(spec, f"the package {distribution!r}") from None


def package_versions(spec: EncoderSpec) -> dict[str, str]:
    """``{distribution: version}`` for every package the spec's weights come from (identity input)."""
    return {dist: distribution_version(spec, dist) for dist in spec.packages}


def locate(spec: EncoderSpec, ref: str) -> Path:
    """The file or folder a ``pkg:``/``dist:`` reference (or a plain path) points to."""
    if ref.startswith("pkg:"):
        return _in_package(spec, ref[len("pkg:") :])
    if ref.startswith("dist:"):
        distribution, _, relative = ref[len("dist:") :].partition(":")
        return _in_distribution(spec, distribution, relative)
    path = Path(ref).expanduser()
    if not path.exists():
        raise EmbeddingError(f"encoder {spec.name!r}: model path {path} does not exist; check the path")
    return path


def _in_package(spec: EncoderSpec, ref: str) -> Path:
    module, _, sub = ref.partition("/")
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    for location in (found.submodule_search_locations or []) if found else []:
        candidate = Path(location) / sub
        if candidate.exists():
            return candidate
    raise _missing(spec, f"the files {sub!r} of the package {module!r}")


def _in_distribution(spec: EncoderSpec, distribution: str, relative: str) -> Path:
    """Via the distribution's RECORD, else by scanning ``sys.path`` (for odd installs)."""
    try:
        dist = metadata.distribution(distribution)
        for file in dist.files or []:
            if str(file).replace("\\", "/") == relative:
                candidate = Path(str(dist.locate_file(file)))
                if candidate.exists():
                    return candidate
    except metadata.PackageNotFoundError:
        pass
    for entry in sys.path:
        candidate = Path(entry or ".") / relative
        if candidate.exists():
            return candidate
    raise _missing(spec, f"the file {relative!r} from {distribution!r}")


def hash_model_folder(path: Path) -> str:
    """sha256 over the relative names and bytes of a model's files (README and VCS files skipped).

    Memoised per process on (name, size, mtime) of every file, so a multi-GB local model is read
    once per session, and any edit to a file changes the digest.
    """
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if _hashable(path, p))
    stamp = tuple((_rel(path, f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    memo_key = (str(path.resolve()), stamp)
    if memo_key not in _file_hash_memo:
        digest = hashlib.sha256(b"pytest-albench/model-files/v1")
        for file in files:
            digest.update(_rel(path, file).encode("utf-8") + b"\0")
            with open(file, "rb") as handle:
                while block := handle.read(1 << 22):
                    digest.update(block)
            digest.update(b"\0")
        _file_hash_memo[memo_key] = digest.hexdigest()
    return _file_hash_memo[memo_key]


def _rel(root: Path, file: Path) -> str:
    return file.name if root == file else file.relative_to(root).as_posix()


def _hashable(root: Path, file: Path) -> bool:
    parts = file.relative_to(root).parts
    return file.is_file() and file.name not in _HASH_SKIP and not any(p.startswith(".") for p in parts)


def hub_offline() -> bool:
    """Whether the user switched the Hugging Face Hub off (any of its usual variables)."""
    return any(
        os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
