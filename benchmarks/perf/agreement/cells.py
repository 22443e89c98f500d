"""What the agreement benchmark runs: the cells, their budgets and the settings a result must match.

Why one module: the budget table (banking77 20 × 50, trec6 20 × 10, from issue #12), the list of
deterministic strategies and the settings that make two results "the same run" are read by the runner,
the resumption check and the table alike, so each is written down once.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..peers.adapters import DETERMINISTIC, PEER_SPECS

#: The protocol every cell runs under: scikit-activeml's settings for our side.
PROTOCOL = "scikit-activeml"

#: Per dataset: (cycles, query size). A dataset without an entry needs ``--cycles`` and ``--query-size``.
BUDGETS: dict[str, tuple[int, int]] = {"banking77": (20, 50), "trec6": (20, 10)}

#: The strategies of issue #12 item 3, cheapest peer first so that a run cut short has the most cells.
DEFAULT_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "coreset", "probcover", "badge", "typiclust")
DEFAULT_DATASETS = ("banking77", "trec6")
DEFAULT_EMBEDDINGS = ("minilm-l6", "tfidf-lsa")

#: scikit-learn's LogisticRegression iteration cap on the peer side (the protocol's, and the study's).
PEER_MAX_ITER = 1000
#: Offset of the peer's per-cycle random_state seeds, so they never coincide with another benchmark's.
PEER_SEED_OFFSET = 2000

__all__ = [
    "BUDGETS",
    "COMPARABLE",
    "DEFAULT_DATASETS",
    "DEFAULT_EMBEDDINGS",
    "DEFAULT_STRATEGIES",
    "DETERMINISTIC",
    "PEER_MAX_ITER",
    "PEER_SEED_OFFSET",
    "PROTOCOL",
    "Cell",
    "budget_for",
    "dataset_available",
    "parse_list",
    "parse_seeds",
    "peer_versions",
    "settings_of",
]


@dataclass(frozen=True)
class Cell:
    """One row of the table: a (dataset, embedding, strategy) triple, run over several seeds."""

    dataset: str
    embedding: str
    strategy: str

    @property
    def deterministic(self) -> bool:
        """True when the selection is a function of the pool, the labeled set and the head (up to exact
        ties): both sides must then pick the same points while their heads agree."""
        return self.strategy in DETERMINISTIC

    def key(self, seed: int) -> str:
        """The results file's key of one (cell, seed)."""
        return f"{self.dataset}|{self.embedding}|{self.strategy}|{seed}"


def budget_for(dataset: str, cycles: int | None, query_size: int | None) -> tuple[int, int]:
    """(cycles, query size) for ``dataset``: the table's, each overridable (tests use tiny budgets)."""
    default = BUDGETS.get(dataset)
    if default is None and (cycles is None or query_size is None):
        known = ", ".join(f"{k} {c} × {b}" for k, (c, b) in BUDGETS.items())
        raise SystemExit(f"no default budget for dataset {dataset!r} (known: {known}); give --cycles and --query-size")
    c, b = default if default is not None else (0, 0)
    return (cycles if cycles is not None else c), (query_size if query_size is not None else b)


def dataset_available(dataset: str, data_dir: Path | None) -> str:
    """'' when ``dataset`` can be loaded offline, else why not (the benchmark then skips it).

    The packaged ``bbc_news`` always can; any other name needs its folder under the data directory,
    because a hub download is not what this benchmark should fall back to.
    """
    from pytest_albench.data import BBC_NAME  # type: ignore[attr-defined]

    if dataset == BBC_NAME:
        return ""
    if data_dir is None:
        return f"{dataset}: no --data-dir given (the folder that holds {dataset}/train.csv)"
    folder = data_dir / dataset
    if not folder.is_dir():
        return f"{dataset}: {folder} does not exist (pass --data-dir with the offline data folders)"
    return ""


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,2,5' and '0-2,7' work too."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if "-" in part:
            lo, hi = (int(v) for v in part.split("-", 1))
            if hi < lo:
                raise SystemExit(f"bad seed range {part!r}: the end is below the start")
            seeds.extend(range(lo, hi + 1))
        else:
            seeds.append(int(part))
    if not seeds or len(set(seeds)) != len(seeds):
        raise SystemExit(f"--seeds {text!r} must name distinct seeds, e.g. 0-4")
    return seeds


def parse_list(text: str, known: tuple[str, ...] | None = None) -> list[str]:
    """A comma-separated list; names outside ``known`` (when given) are refused with the valid ones."""
    items = [p.strip() for p in text.split(",") if p.strip()]
    if known is not None:
        bad = [i for i in items if i not in known]
        if bad:
            raise SystemExit(f"unknown {bad}; valid: {', '.join(known)}")
    return items


#: Strategies with a scikit-activeml counterpart (those the benchmark can compare).
COMPARABLE = tuple(s for s, peers in PEER_SPECS.items() if "skactiveml" in peers)


def peer_versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the numbers depend on (part of a result's settings)."""
    out: dict[str, str] = {}
    for dist in ("pytest-albench", "scikit-activeml", "scikit-learn", "torch", "numpy"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def settings_of(cell: Cell, cycles: int, query_size: int, max_pool: int | None) -> dict[str, Any]:
    """What a stored (cell, seed) result must have been run with to be reused by a rerun."""
    return {
        "protocol": PROTOCOL,
        "cycles": cycles,
        "query_size": query_size,
        "max_pool": max_pool,
        "peer_max_iter": PEER_MAX_ITER,
        "versions": {k: v for k, v in peer_versions().items() if k != "pytest-albench"},
    }
