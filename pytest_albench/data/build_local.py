"""``albench-build-local``: build the local suite's datasets from the Hugging Face Hub at pinned commits.

Writes ``<root>/<name>/{train,test}.csv`` (header ``text,label``, label = class name) from the hub specs of
:mod:`pytest_albench.data._hub`, reading them through the same loader as the paper suite (so the Hub
switched off by ``HF_HUB_OFFLINE=1`` means "from the local Hugging Face cache only").

How each folder compares with the committed local data (``shared/data/<name>/SOURCE.md``) is printed for
every dataset: ``same`` where split, rows and labels match the committed data's recipe, ``differs`` with
what differs, and ``not built`` for the local datasets that have no pinned hub source here. Baselines
recorded on the committed data compare exactly only for the ``same`` datasets.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AlbenchError
from ._files import write_csv
from ._hub import HUB_DATASETS, read_hub_splits, read_split


@dataclass(frozen=True)
class Recipe:
    """One local dataset: its hub spec, an optional train sample size, and how it compares."""

    hub: str
    train_sample: int | None
    status: str


RECIPES: dict[str, Recipe] = {
    "banking77": Recipe("banking77", None, "same: original 10,003 / 3,080 split, the 77 intent names"),
    "trec6": Recipe("trec", None, "same: original 5,452 / 500 split, coarse labels ABBR..NUM"),
    "ag_news": Recipe(
        "ag_news",
        10_000,
        "differs: test is the official 7,600 rows as committed; train is a 10,000-row stratified sample "
        "(random.Random(0)), NOT the NoisyAG-News authors' sample the committed train holds (their "
        "sampling is unknown); label names Sci/Tech etc. as committed",
    ),
}

#: Local datasets with no pinned hub source in this command (say so rather than build something else).
NOT_BUILT: dict[str, str] = {
    "sst2": "the committed sst2 is sentence-level SST-2 (6,920 / 872 / 1,821), not GLUE's phrase-level sst2",
    "emotion": "no pinned dair-ai/emotion commit found",
    "clinc150": "the committed data is oos-eval's 'full' variant (15,100 train); no pinned hub copy found",
    "20newsgroups": "the committed data was cleaned from the bydate files (see its SOURCE.md); no pinned hub copy",
    "mr": "no pinned rotten_tomatoes commit found",
    "subj": "the committed split is our own 80/20 split of the raw files; no pinned hub copy",
    "imdb": "the committed rows were shuffled from the aclImdb file order, which the hub copy does not keep",
}


def _stratified_sample(labels: Sequence[Any], size: int, seed: int = 0) -> list[int]:
    """``size`` row indices, each class in proportion (largest remainders), sorted as in the source."""
    by_class: dict[Any, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    rng = random.Random(seed)
    total = len(labels)
    quotas = {c: size * len(rows) // total for c, rows in by_class.items()}
    rest = sorted(by_class, key=lambda c: -(size * len(by_class[c]) % total))
    for c in rest[: size - sum(quotas.values())]:
        quotas[c] += 1
    chosen = [i for c, rows in by_class.items() for i in rng.sample(rows, quotas[c])]
    return sorted(chosen)


def build_one(name: str, root: Path) -> dict[str, int]:
    """Write ``root/name/{train,test}.csv``; return the rows written per split."""
    recipe = RECIPES[name]
    spec = HUB_DATASETS[recipe.hub]
    loaded = read_hub_splits(spec)
    counts = {}
    for role, hub_split in (("train", spec.train_split), ("test", spec.test_split)):
        texts, labels, names = read_split(spec, loaded[hub_split])
        named = [names[label] if names and isinstance(label, int) else str(label) for label in labels]
        keep = range(len(texts))
        if role == "train" and recipe.train_sample and recipe.train_sample < len(texts):
            keep = _stratified_sample(named, recipe.train_sample)  # type: ignore[assignment]
        rows = [(texts[i], named[i]) for i in keep]
        (root / name).mkdir(parents=True, exist_ok=True)
        write_csv(root / name / f"{role}.csv", [t for t, _ in rows], [lab for _, lab in rows])
        counts[role] = len(rows)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="albench-build-local", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to write <root>/<name>/{train,test}.csv into")
    parser.add_argument("names", nargs="*", help=f"datasets to build (default: {', '.join(RECIPES)})")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.names or list(RECIPES):
        if name in NOT_BUILT:
            print(f"{name}: not built: {NOT_BUILT[name]}")
            continue
        if name not in RECIPES:
            parser.error(f"unknown local dataset {name!r}; known: {', '.join([*RECIPES, *NOT_BUILT])}")
        try:
            counts = build_one(name, args.root)
        except AlbenchError as exc:
            print(f"{name}: failed: {exc}", file=sys.stderr)
            failed += 1
            continue
        spec = HUB_DATASETS[RECIPES[name].hub]
        sizes = " / ".join(f"{split} {rows}" for split, rows in counts.items())
        print(f"{name}: {sizes} from {spec.source}; {RECIPES[name].status}")
    if not args.names:
        for name, why in NOT_BUILT.items():
            print(f"{name}: not built: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
