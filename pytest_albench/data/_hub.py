"""The study's Hugging Face Hub datasets, as declarative records, loaded through ``datasets``.

Each record says which columns hold the text (joined when there are several, e.g. NLI pairs) and the
label, and which hub split plays train, validation and test. GLUE hides its test labels, so for the
GLUE tasks the hub's validation split (``validation_matched`` for MNLI) serves as our *test* split and
validation is carved from train; results are therefore not comparable with GLUE leaderboard numbers.

Loading must never hang and never leak a deep library traceback: a missing ``datasets`` package, an
offline flag or any loading failure becomes a :class:`DatasetUnavailableError` that names the local
alternative in ``shared/data`` when there is one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DatasetError, DatasetUnavailableError
from ._core import TextDataset, build_dataset
from ._files import is_dataset_folder

PAIR_SEPARATOR = " [SEP] "
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@dataclass(frozen=True)
class HubDatasetSpec:
    """Where a hub dataset lives and how its columns map to ``text`` and ``label``.

    ``text_columns`` lists one entry per text part, each a tuple of acceptable column names (the first
    one present wins), because some community datasets changed their column spelling over time.
    ``test_split`` / ``validation_split`` name hub splits; ``validation_split=None`` means carve.
    ``local_alternative`` names the closest folder in ``shared/data`` (same task, not always the same
    sample: the local ``sst2`` is the sentence-level SST-2, the local ``ag_news`` a 10k train sample).
    """

    name: str
    hub_id: str
    config: str | None
    text_columns: tuple[tuple[str, ...], ...]
    label_columns: tuple[str, ...]
    train_split: str = "train"
    validation_split: str | None = None
    test_split: str = "test"
    joiner: str = PAIR_SEPARATOR
    local_alternative: str | None = None
    note: str = ""


def _glue(task: str, texts: tuple[tuple[str, ...], ...], test: str, local: str | None) -> HubDatasetSpec:
    return HubDatasetSpec(
        f"glue/{task}",
        "nyu-mll/glue",
        task,
        texts,
        ("label",),
        test_split=test,
        local_alternative=local,
        note=f"GLUE test labels are hidden: the hub split {test!r} is our test split, validation is carved",
    )


HUB_DATASETS: dict[str, HubDatasetSpec] = {
    spec.name: spec
    for spec in (
        HubDatasetSpec(
            "ag_news", "fancyzhx/ag_news", None, (("text",),), ("label",), local_alternative="ag_news"
        ),
        HubDatasetSpec(
            "banking77", "PolyAI/banking77", None, (("text",),), ("label",), local_alternative="banking77"
        ),
        HubDatasetSpec(
            "dbpedia_14", "fancyzhx/dbpedia_14", None, (("title",), ("content",)), ("label",), joiner=". "
        ),
        HubDatasetSpec(
            "trec",
            "CogComp/trec",
            None,
            (("text",),),
            ("coarse_label", "label-coarse"),
            local_alternative="trec6",
        ),
        HubDatasetSpec("yelp_review_full", "Yelp/yelp_review_full", None, (("text",),), ("label",)),
        HubDatasetSpec(
            "nid989/FNC-1",
            "nid989/FNC-1",
            None,
            (("Headline", "headline", "title"), ("articleBody", "Body", "body", "article_body", "text")),
            ("Stance", "stance", "label"),
            validation_split="validation",
            note="headline and article body joined with [SEP]; a hub validation split is used if present",
        ),
        HubDatasetSpec(
            "wikitalk",
            "jigsaw_toxicity_pred",
            None,
            (("comment_text", "text"),),
            ("toxic", "label"),
            note="Wikipedia talk-page comments labelled toxic / not toxic; the hub id is a best guess of "
            "the study's source and may need a manual download (see the dataset card)",
        ),
        _glue("sst2", (("sentence",),), "validation", "sst2"),
        _glue("mnli", (("premise",), ("hypothesis",)), "validation_matched", None),
        _glue("qnli", (("question",), ("sentence",)), "validation", None),
    )
}


def hub_offline_reason() -> str | None:
    """Which offline switch is set, if any (the ``datasets`` and ``huggingface_hub`` spellings)."""
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}:
            return f"{var}={os.environ[var]} is set"
    return None


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
        f"hub dataset {spec.name!r} ({spec.hub_id}) cannot be loaded: {reason}. "
        f"{_alternative_hint(spec, data_dir)}"
    )


def load_hub_dataset(
    name: str, validation_fraction: float = 0.1, data_dir: Path | None = None
) -> TextDataset:
    """Load a known hub dataset, or explain why not and what to use instead."""
    spec = HUB_DATASETS[name]
    reasons = []
    offline = hub_offline_reason()
    if offline:
        reasons.append(f"the Hub is switched off ({offline})")
    try:
        import datasets as hf_datasets
    except ImportError:
        reasons.append("the 'datasets' package is not installed (pip install pytest-albench[hub])")
        hf_datasets = None
    if reasons or hf_datasets is None:
        raise _unavailable(spec, " and ".join(reasons), data_dir)
    try:
        loaded = hf_datasets.load_dataset(spec.hub_id, spec.config)
    except Exception as exc:  # network, auth, missing manual data: all mean "not available here"
        raise _unavailable(spec, f"{type(exc).__name__}: {exc}", data_dir) from exc
    return _convert(spec, loaded, validation_fraction)


def _convert(spec: HubDatasetSpec, loaded: Any, validation_fraction: float) -> TextDataset:
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
        texts, labels, names = _read_split(spec, loaded[hub_split])
        raw[role] = (texts, labels)
        class_names = class_names or names
    source = f"hub:{spec.hub_id}" + (f"/{spec.config}" if spec.config else "")
    return build_dataset(
        spec.name,
        source,
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


def _read_split(spec: HubDatasetSpec, split: Any) -> tuple[list[str], list[Any], list[str] | None]:
    found = list(split.column_names)
    parts = [list(split[_pick_column(spec, cands, found)]) for cands in spec.text_columns]
    texts = [spec.joiner.join(str(p).strip() for p in row) for row in zip(*parts, strict=True)]
    label_column = _pick_column(spec, spec.label_columns, found)
    labels = list(split[label_column])
    names = getattr(split.features.get(label_column), "names", None)
    return texts, labels, list(names) if names else None
