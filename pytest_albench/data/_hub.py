"""The study's Hugging Face Hub datasets, as declarative records pinned to a commit, loaded through ``datasets``.

Each record says which commit of which hub repository holds the data (``revision``, a 40-hex sha), which
files of that commit hold each hub split (``files``, glob patterns in the repository, the hub's parquet
layout), which columns hold the text (joined when there are several, e.g. NLI pairs) and the label, and
which hub split plays train, validation and test. GLUE hides its test labels, so for the GLUE tasks the
hub's validation split (``validation_matched`` for MNLI) serves as our *test* split and validation is
carved from train; results are therefore not comparable with GLUE leaderboard numbers.

Loading goes through the real libraries: ``huggingface_hub.snapshot_download`` fetches (or, with the Hub
switched off by the user, only finds in the local Hugging Face cache) the pinned snapshot's files, and
``datasets.load_dataset("parquet", data_files=...)`` reads them with their features (class names
included). Loading never hangs on a switched-off Hub and never leaks a deep library traceback: a missing
package, an uncached snapshot or any loading failure becomes a :class:`DatasetUnavailableError` that
names the local alternative in ``shared/data`` when there is one.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatasetError, DatasetUnavailableError
from ._core import TextDataset, build_dataset
from ._files import is_dataset_folder

PAIR_SEPARATOR = " [SEP] "
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubDatasetSpec:
    """Where a hub dataset lives (repository, pinned commit, files) and how its columns map.

    ``text_columns`` lists one entry per text part, each a tuple of acceptable column names (the first
    one present wins). ``files`` maps each hub split to glob patterns inside the repository (the first
    pattern that matches wins). ``test_split`` / ``validation_split`` name hub splits;
    ``validation_split=None`` means carve. ``manual`` is set for datasets the Hub cannot serve (a
    manual download), with the instructions. ``local_alternative`` names the closest folder in
    ``shared/data`` (same task, not always the same sample).
    """

    name: str
    hub_id: str
    config: str | None
    text_columns: tuple[tuple[str, ...], ...]
    label_columns: tuple[str, ...]
    revision: str | None = None
    files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    train_split: str = "train"
    validation_split: str | None = None
    test_split: str = "test"
    joiner: str = PAIR_SEPARATOR
    local_alternative: str | None = None
    manual: str | None = None
    note: str = ""

    @property
    def pinned(self) -> bool:
        return self.revision is not None and _SHA.match(self.revision) is not None

    @property
    def source(self) -> str:
        """The identity that enters the case record: ``hub:org/name@sha[/config]``."""
        return f"hub:{self.hub_id}@{self.revision or 'unpinned'}" + (f"/{self.config}" if self.config else "")


def _layout(pattern: str, *splits: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``pattern`` with ``{split}`` filled in for each split, e.g. ``data/{split}-*.parquet``."""
    return tuple((split, (pattern.format(split=split),)) for split in splits)


def _glue(task: str, texts: tuple[tuple[str, ...], ...], test: str, local: str | None) -> HubDatasetSpec:
    # nyu-mll/glue: one folder per task, "<task>/<split>-00000-of-00001.parquet"; the commit is the one
    # public code pins in "hf://datasets/nyu-mll/glue@bcdcba79.../mrpc/train-00000-of-00001.parquet".
    # Features (label ClassLabel names) as in the dataset card's dataset_info for each config.
    return HubDatasetSpec(
        f"glue/{task}",
        "nyu-mll/glue",
        task,
        texts,
        ("label",),
        revision="bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c",
        files=_layout(task + "/{split}-*.parquet", "train", test),
        test_split=test,
        local_alternative=local,
        note=f"GLUE test labels are hidden: the hub split {test!r} is our test split, validation is carved",
    )


HUB_DATASETS: dict[str, HubDatasetSpec] = {
    spec.name: spec
    for spec in (
        # Revision: MTEB's AGNewsClassification task metadata (mteb/tasks/classification/eng/
        # news_classification.py). Schema: text (string), label (ClassLabel World/Sports/Business/Sci/Tech).
        HubDatasetSpec(
            "ag_news",
            "fancyzhx/ag_news",
            None,
            (("text",),),
            ("label",),
            revision="eb185aade064a813bc0b7f42de02595523103ca4",
            files=_layout("data/{split}-*.parquet", "train", "test"),
            local_alternative="ag_news",
        ),
        # Revision: public code that validated PolyAI/banking77@1fb62b1b... (10,003 / 3,080 rows) and reads
        # "data/{train,test}-00000-of-00001.parquet" at it. Schema: text, label (ClassLabel, 77 intents).
        HubDatasetSpec(
            "banking77",
            "PolyAI/banking77",
            None,
            (("text",),),
            ("label",),
            revision="1fb62b1bb4635df59a8e1b2f2bc5e0643b2856c8",
            files=_layout("data/{split}-*.parquet", "train", "test"),
            local_alternative="banking77",
        ),
        # Revision: public data manifests pinning fancyzhx/dbpedia_14@9abd46cf.... Schema (dataset card):
        # label (ClassLabel, 14 classes), title, content; hub folder "dbpedia_14/".
        HubDatasetSpec(
            "dbpedia_14",
            "fancyzhx/dbpedia_14",
            None,
            (("title",), ("content",)),
            ("label",),
            revision="9abd46cf7fc8b4c64290f26993c540b92aa145ac",
            files=_layout("dbpedia_14/{split}-*.parquet", "train", "test"),
            joiner=". ",
        ),
        # CogComp/trec's main branch holds a loading script (no longer run by datasets>=4); its parquet
        # export, refs/convert/parquet, is pinned at 65752bf5... by public code, with the converter's
        # layout "default/<split>/0000.parquet". Schema: text, coarse_label (6), fine_label (50).
        HubDatasetSpec(
            "trec",
            "CogComp/trec",
            None,
            (("text",),),
            ("coarse_label",),
            revision="65752bf53af25bc935a0dce92fb5b6c930728450",
            files=_layout("default/{split}/*.parquet", "train", "test"),
            local_alternative="trec6",
            note="read from the hub's parquet export (refs/convert/parquet) of the script dataset",
        ),
        # Revision: MTEB's YelpReviewFullClassification task metadata. Schema: label (ClassLabel
        # "1 star".."5 stars"), text; hub folder "yelp_review_full/".
        HubDatasetSpec(
            "yelp_review_full",
            "Yelp/yelp_review_full",
            None,
            (("text",),),
            ("label",),
            revision="c1f9ee939b7d05667af864ee1cb066393154bf85",
            files=_layout("yelp_review_full/{split}-*.parquet", "train", "test"),
        ),
        # Revision: bd74324b..., a commit of the hub repo shown in a mirror of its dataset card
        # (aifasthub.com/datasets/nid989/FNC-1/blob/bd74324.../README.md). Columns as in the FNC-1 release
        # (github.com/FakeNewsChallenge/fnc-1: Headline, Body ID, Stance, articleBody) and as the study's
        # code reads them ("articleBody", "Stance"); the repo's file layout is not stated publicly: the
        # patterns accept the hub's default "data/<split>-*.parquet" layout.
        HubDatasetSpec(
            "nid989/FNC-1",
            "nid989/FNC-1",
            None,
            (("Headline",), ("articleBody",)),
            ("Stance",),
            revision="bd74324bbcc68244e199c4fcdf9ed6fb837f33a5",
            files=_layout("data/{split}-*.parquet", "train", "validation", "test"),
            validation_split="validation",
            note="headline and article body joined with [SEP]",
        ),
        # The study loads Kaggle's Jigsaw toxic-comment data through the "jigsaw_toxicity_pred" script
        # with a manual data_dir; the Hub holds no data files for it, so no commit can pin the data.
        # Schema (script features): comment_text, toxic, severe_toxic, ... (ClassLabel false/true).
        HubDatasetSpec(
            "wikitalk",
            "google/jigsaw_toxicity_pred",
            None,
            (("comment_text",),),
            ("toxic",),
            manual=(
                "the data is a manual download from Kaggle's 'Jigsaw Toxic Comment Classification "
                "Challenge' (train.csv, test.csv, test_labels.csv); convert it to a local folder "
                "<root>/wikitalk/{train,test}.csv with columns text,label and use 'local:wikitalk'"
            ),
            note="Wikipedia talk-page comments labelled toxic / not toxic (the study's 'wikitalk')",
        ),
        _glue("sst2", (("sentence",),), "validation", "sst2"),
        _glue("mnli", (("premise",), ("hypothesis",)), "validation_matched", None),
        _glue("qnli", (("question",), ("sentence",)), "validation", None),
    )
}

#: Specs for which no public commit sha was found (they stay visibly unpinned; see each record's comment).
UNPINNED_ALLOWED: frozenset[str] = frozenset({"wikitalk"})


def hub_offline_reason() -> str | None:
    """Which offline switch is set, if any (the ``datasets`` and ``huggingface_hub`` spellings)."""
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return f"{var}={os.environ[var]} is set"
    return None


def check_pinned(spec: HubDatasetSpec, *, strict: bool = False) -> None:
    """Refuse (``strict``, the paper suite) or warn about a spec without a commit sha."""
    if spec.pinned:
        return
    message = (
        f"hub dataset {spec.name!r} ({spec.hub_id}) is not pinned to a commit: its data may change "
        "upstream unnoticed; pin it with HubDatasetSpec(revision='<40-hex commit sha>')"
    )
    if strict:
        raise ConfigError(message)
    warnings.warn(message, UserWarning, stacklevel=3)


def _alternative_hint(spec: HubDatasetSpec, data_dir: Path | None) -> str:
    alt = spec.local_alternative
    if alt is None:
        return (
            "This dataset has no local copy in shared/data: run where the Hugging Face Hub is reachable, "
            "or register your own loader with pytest_albench.register_dataset()"
        )
    if data_dir is not None and is_dataset_folder(data_dir / alt):
        return f"A local alternative exists: use the dataset name 'local:{alt}' (found {data_dir / alt})"
    return (
        f"Use the closest local alternative instead: --albench-data-dir with a folder <root>/{alt} "
        f"and the name 'local:{alt}'"
    )


def _unavailable(spec: HubDatasetSpec, reason: str, data_dir: Path | None) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"hub dataset {spec.name!r} ({spec.hub_id}) cannot be loaded: {reason}. {_alternative_hint(spec, data_dir)}"
    )


def snapshot_files(spec: HubDatasetSpec) -> dict[str, list[str]]:
    """The pinned snapshot's data files per hub split, downloaded or (Hub switched off) found in the cache.

    Raises ``ImportError`` without huggingface_hub, the library's errors when the snapshot is neither
    cached nor downloadable, and :class:`DatasetError` when a split's files are missing from it.
    """
    from huggingface_hub import snapshot_download

    patterns = [pattern for _, split_patterns in spec.files for pattern in split_patterns]
    folder = Path(
        snapshot_download(
            spec.hub_id,
            repo_type="dataset",
            revision=spec.revision or "main",
            allow_patterns=patterns,
            local_files_only=hub_offline_reason() is not None,
        )
    )
    found: dict[str, list[str]] = {}
    for split, split_patterns in spec.files:
        for pattern in split_patterns:
            matches = sorted(str(path) for path in folder.glob(pattern) if path.is_file())
            if matches:
                found[split] = matches
                break
        else:
            raise DatasetError(
                f"hub dataset {spec.name!r}: no file matches {list(split_patterns)} in the snapshot "
                f"{spec.hub_id}@{spec.revision or 'main'} ({folder}); update its HubDatasetSpec.files"
            )
    return found


def load_hub_dataset(name: str, validation_fraction: float | None = 0.1, data_dir: Path | None = None) -> TextDataset:
    """Load a known hub dataset at its pinned commit, or explain why not and what to use instead."""
    spec = HUB_DATASETS[name]
    if spec.manual:
        raise _unavailable(spec, spec.manual, data_dir)
    check_pinned(spec)
    return _convert(spec, read_hub_splits(spec, data_dir), validation_fraction)


def read_hub_splits(spec: HubDatasetSpec, data_dir: Path | None = None) -> Any:
    """The spec's hub splits as a ``datasets.DatasetDict`` (every failure a DatasetUnavailableError)."""
    try:
        import datasets as hf_datasets
    except ImportError:
        raise _unavailable(
            spec, "the 'datasets' package is not installed (pip install pytest-albench[hub])", data_dir
        ) from None
    offline = hub_offline_reason()
    try:
        files = snapshot_files(spec)
        return hf_datasets.load_dataset("parquet", data_files=files)
    except DatasetError:
        raise
    except Exception as exc:  # network, auth, missing snapshot: all mean "not available here"
        where = f"the Hub is switched off ({offline}) and the snapshot is not in the local cache: " if offline else ""
        raise _unavailable(spec, f"{where}{type(exc).__name__}: {exc}", data_dir) from exc


def _convert(spec: HubDatasetSpec, loaded: Any, validation_fraction: float | None) -> TextDataset:
    available = list(loaded.keys())
    raw = {}
    class_names = None
    for role, hub_split in (
        ("train", spec.train_split),
        ("test", spec.test_split),
        ("validation", spec.validation_split),
    ):
        if hub_split is None or (role == "validation" and hub_split not in available):
            continue
        if hub_split not in available:
            raise DatasetError(f"hub dataset {spec.name!r} has no split {hub_split!r}; it has {available}")
        texts, labels, names = read_split(spec, loaded[hub_split])
        raw[role] = (texts, labels)
        class_names = class_names or names
    return build_dataset(
        spec.name,
        spec.source,
        train=raw["train"],
        test=raw["test"],
        validation=raw.get("validation"),
        class_names=class_names,
        validation_fraction=validation_fraction,
    )


def _pick_column(spec: HubDatasetSpec, candidates: tuple[str, ...], found: list[str]) -> str:
    for column in candidates:
        if column in found:
            return column
    raise DatasetError(
        f"hub dataset {spec.name!r}: none of the columns {list(candidates)} exists (found {found}); "
        "update its HubDatasetSpec or register a custom loader"
    )


def read_split(spec: HubDatasetSpec, split: Any) -> tuple[list[str], list[Any], list[str] | None]:
    """Texts (parts joined), labels and the label feature's class names of one hub split."""
    found = list(split.column_names)
    parts = [list(split[_pick_column(spec, cands, found)]) for cands in spec.text_columns]
    texts = [spec.joiner.join(str(p).strip() for p in row) for row in zip(*parts, strict=True)]
    label_column = _pick_column(spec, spec.label_columns, found)
    labels = list(split[label_column])
    names = getattr(split.features.get(label_column), "names", None)
    return texts, labels, list(names) if names else None
