"""Datasets by name: the packaged BBC corpus, local data folders, the study's hub datasets, and yours.

``load_dataset(name)`` resolves a name in this order, unless a ``local:`` or ``hub:`` prefix forces
the source: a registered loader (``bbc_news`` is one), a folder of that name under the data
directory, a known hub dataset. Anything else is an :class:`~pytest_albench.errors.UnknownNameError`
listing every valid name with a "did you mean". Every source returns the same frozen
:class:`TextDataset` with train, validation (carved from train when the source has none) and test.

Nothing heavy is imported here: ``datasets`` and ``pyarrow`` are imported only by the loaders that
need them.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DatasetError, UnknownNameError
from ..registry import Registry
from ._core import (
    CARVE_SEED,
    SPLIT_NAMES,
    Split,
    TextDataset,
    build_dataset,
    carve_validation,
    encode_labels,
    stratified_holdout,
    subsample_indices,
)
from ._files import load_local_dataset, local_dataset_names, resolve_data_dir
from ._hub import HUB_DATASETS, HubDatasetSpec, load_hub_dataset
from ._package import BBC_NAME, load_bbc_news

__all__ = [
    "CARVE_SEED",
    "HUB_DATASETS",
    "SPLIT_NAMES",
    "DatasetLoader",
    "HubDatasetSpec",
    "Split",
    "TextDataset",
    "build_dataset",
    "carve_validation",
    "dataset_names",
    "encode_labels",
    "load_dataset",
    "register_dataset",
    "resolve_data_dir",
    "stratified_holdout",
    "subsample_indices",
]

#: A loader takes no argument, or one: the resolved data directory (a Path, or None when unset).
DatasetLoader = Callable[[], TextDataset] | Callable[[Path | None], TextDataset]

_DATASETS: Registry[DatasetLoader] = Registry("dataset", "pytest_albench.datasets")
_DATASETS.add(BBC_NAME, load_bbc_news)
_PREFIXES = ("local", "hub")


def register_dataset(name: str, *, replace: bool = False) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator: make ``name`` a valid dataset that ``loader()`` (or ``loader(data_dir)``) returns.

    A loader that has a ``validation_fraction`` parameter receives the caller's value too. Meant for a
    conftest or a plugin (entry-point group ``pytest_albench.datasets``); the loader can end with
    :func:`build_dataset` to get label encoding and the validation carve for free.
    """
    return _DATASETS.decorator(name, replace=replace)


def dataset_names(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Every name :func:`load_dataset` accepts without a prefix, sorted."""
    local = local_dataset_names(resolve_data_dir(data_dir))
    return sorted(set(_DATASETS.names()) | set(local) | set(HUB_DATASETS))


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    validation_fraction: float | None = 0.1,
) -> TextDataset:
    """The dataset called ``name`` (optionally ``local:NAME`` or ``hub:NAME``).

    ``data_dir`` defaults to ``$ALBENCH_DATA_DIR``; ``validation_fraction`` is used only when the
    source has no validation split (carved from train with seed 0, test untouched); ``None`` carves
    nothing (the validation split is then the source's own, or empty).
    """
    if validation_fraction is not None and not 0.0 < validation_fraction < 1.0:
        raise DatasetError(f"validation_fraction must lie strictly between 0 and 1, got {validation_fraction}")
    root = resolve_data_dir(data_dir)
    prefix, _, bare = name.partition(":") if name.split(":", 1)[0] in _PREFIXES else ("", "", name)
    if prefix == "local":
        return load_local_dataset(bare, root, validation_fraction)
    if prefix == "hub":
        return _load_hub(bare, root, validation_fraction)
    if name in _DATASETS:
        return _call_loader(name, _DATASETS.get(name), root, validation_fraction)
    if root is not None and name in local_dataset_names(root):
        return load_local_dataset(name, root, validation_fraction)
    if name in HUB_DATASETS:
        return load_hub_dataset(name, validation_fraction, root)
    raise UnknownNameError(
        _DATASETS.unknown_message(name, extra_names=local_dataset_names(root) + sorted(HUB_DATASETS))
        + _data_dir_hint(root)
    )


def _load_hub(name: str, root: Path | None, validation_fraction: float | None) -> TextDataset:
    if name not in HUB_DATASETS:
        close = difflib.get_close_matches(name, list(HUB_DATASETS), n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown hub dataset {name!r}.{hint} Known hub datasets: {', '.join(sorted(HUB_DATASETS))}; "
            "register others with pytest_albench.register_dataset()."
        )
    return load_hub_dataset(name, validation_fraction, root)


def _data_dir_hint(root: Path | None) -> str:
    if root is None:
        return " Local data folders are off: set --albench-data-dir or ALBENCH_DATA_DIR to use them."
    return f" (data dir: {root})"


def _call_loader(name: str, loader: Any, root: Path | None, validation_fraction: float | None) -> TextDataset:
    """Call a registered loader with what its parameters ask for, and check its result."""
    try:
        params = list(inspect.signature(loader).parameters)
    except (TypeError, ValueError):
        params = []
    kwargs = {"validation_fraction": validation_fraction} if "validation_fraction" in params else {}
    args = (root,) if [p for p in params if p != "validation_fraction"] else ()
    dataset = loader(*args, **kwargs)
    if not isinstance(dataset, TextDataset):
        raise DatasetError(
            f"the loader registered for dataset {name!r} returned {type(dataset).__name__}, not a "
            "TextDataset; build one with pytest_albench.data.build_dataset()"
        )
    return dataset
