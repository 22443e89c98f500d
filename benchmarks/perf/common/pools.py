"""The pool every script in ``benchmarks/perf`` measures on, and the options that choose it.

Why one home: "ours is N times faster" and "this run takes 4 s" only compare when every script
embeds the same rows the same way (banking77 train + validation through the project's loaders and
embedding cache), draws the labeled set the same way, and falls back to the same synthetic
Gaussians when the data is missing.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

#: The repository root (this file is benchmarks/perf/common/pools.py).
REPO_ROOT = Path(__file__).resolve().parents[3]
#: Where the offline data folders live next to the repository, when they exist.
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@dataclasses.dataclass
class EmbeddedSplits:
    """A dataset embedded through the project's loaders: the AL pool (train + validation) and the test."""

    x_pool: np.ndarray
    y_pool: np.ndarray
    n_classes: int
    x_test: np.ndarray
    y_test: np.ndarray


def embedded_splits(dataset: str, encoder: str, data_dir: Path, cache_dir: str | None, device: str) -> EmbeddedSplits:
    """Embed ``dataset`` with ``encoder`` through the project's cache; the pool is train + validation.

    The loader carves validation out of train when the source has none, and the AL pool in the study
    is the whole training data, so both form the pool. Every script in benchmarks/perf builds its
    pool here, so they all measure the same rows.
    """
    from pytest_albench.data import load_dataset
    from pytest_albench.embeddings import embed_dataset

    ds = load_dataset(dataset, data_dir=data_dir)
    emb = embed_dataset(encoder, ds, cache_dir=cache_dir, device=device, progress=False)
    return EmbeddedSplits(
        x_pool=np.concatenate([emb.train, emb.validation]).astype(np.float32, copy=False),
        y_pool=np.concatenate([ds.train.labels, ds.validation.labels]).astype(np.int64),
        n_classes=int(ds.n_classes),
        x_test=np.asarray(emb.test, dtype=np.float32),
        y_test=np.asarray(ds.test.labels, dtype=np.int64),
    )


def gaussian_pool(n: int, d: int, n_classes: int, seed: int, spread: float) -> tuple[np.ndarray, np.ndarray]:
    """Class-clustered Gaussian embeddings: balanced labels, centres ~ N(0, spread² I), unit noise.

    Costs of the strategies depend on N, d and C (and, for ProbCover, on how clustered the data is),
    not on what the vectors mean, so this stands in for real embeddings where none are available or
    where the size is beyond any offline dataset (50,000 × 1,024).
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    centres = rng.standard_normal((n_classes, d), dtype=np.float32) * np.float32(spread)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x += centres[y]
    return x, y


def labeled_per_class(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` random indices of each class (all of a class if it has fewer), sorted."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picks.append(rng.choice(members, min(per_class, members.size), replace=False))
    return np.sort(np.concatenate(picks))


#: A requested size within this fraction of the prepared pool's rows means "the whole pool", so
#: ``--sizes 10000`` measures all 10,003 banking77 rows instead of dropping three.
FULL_POOL_TOLERANCE = 0.01


def resolve_size(requested: int, rows: int) -> int:
    """The pool size actually used for a requested N: the whole pool when N is within 1 % of it."""
    if requested < 1:
        raise ValueError(f"pool sizes must be positive, got {requested}")
    return rows if abs(requested - rows) <= FULL_POOL_TOLERANCE * rows else requested


def tile_with_jitter(x: np.ndarray, y: np.ndarray, n: int, seed: int, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows from copies of the pool: copy 0 exact, later copies plus seeded Gaussian noise.

    Why: there is no 40,000-row text set with the same classes, and exact copies would create
    masses of exact distance ties (k-center, ProbCover and TypiClust treat those specially) that
    real pools do not have. The noise has standard deviation ``jitter`` × the pool's root-mean-square
    coordinate, so each copy is a slightly displaced near-duplicate of its original and keeps its
    label (for minilm-l6 on banking77, 0.01 moves a row by about 0.01, against a median
    nearest-neighbour distance of about 0.4). Duplicates already in the pool (banking77 has 6
    duplicate rows out of 10,003) stay as they are in copy 0.
    """
    rows = x.shape[0]
    if n <= rows:
        raise ValueError(f"tiling is for sizes above the pool's {rows} rows, got {n}")
    if jitter <= 0:
        raise ValueError("--tile-jitter must be > 0, or tiled copies would be exact duplicates")
    copies = math.ceil(n / rows)
    rng = np.random.default_rng([seed, n])
    sigma = np.float32(jitter * float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))
    parts = [x]
    for _ in range(1, copies):
        noise = rng.standard_normal(x.shape, dtype=np.float32) * sigma
        parts.append(x + noise)
    return np.concatenate(parts)[:n].astype(np.float32, copy=False), np.tile(y, copies)[:n]


def resize_pool(x: np.ndarray, y: np.ndarray, n: int, seed: int, jitter: float) -> tuple[np.ndarray, np.ndarray, str]:
    """The pool of size ``n`` (see ``resolve_size``), and a line saying how it was made."""
    rows = x.shape[0]
    if n == rows:
        return x, y, f"the whole pool ({rows} rows)"
    if n < rows:
        keep = np.sort(np.random.default_rng([seed, n]).choice(rows, n, replace=False))
        return x[keep], y[keep], f"seeded subsample of {n} of the {rows} rows"
    xt, yt = tile_with_jitter(x, y, n, seed, jitter)
    return (
        xt,
        yt,
        (
            f"{rows} rows tiled {math.ceil(n / rows)}x with seeded Gaussian jitter "
            f"(σ = {jitter:g} × RMS coordinate; copy 0 exact, copies add no exact duplicates), first {n} rows"
        ),
    )


def add_data_options(group: Any, synthetic: bool = True) -> None:
    """The pool options every script in benchmarks/perf shares: where the real pool comes from and,
    with ``synthetic``, the Gaussian fallback's switches and shape."""
    group.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR) if DEFAULT_DATA_DIR.is_dir() else None,
        help="folder of offline datasets; ../shared/data next to the repo when present",
    )
    group.add_argument("--dataset", default="banking77")
    group.add_argument("--encoder", default="minilm-l6")
    group.add_argument("--cache-dir", default=None, help="embedding cache (default: the project's)")
    if synthetic:
        group.add_argument("--synthetic", action="store_true", help="use synthetic embeddings even if data exists")
        group.add_argument("--require-real", action="store_true", help="fail instead of falling back to synthetic")
        group.add_argument("--dim", type=int, default=384, help="embedding width of a synthetic pool")
        group.add_argument("--classes", type=int, default=77, help="classes of a synthetic pool")
