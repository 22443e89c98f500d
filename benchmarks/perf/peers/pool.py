"""The pool at each requested size: a seeded subsample, the whole pool, or tiled copies with jitter.

Why: the scaling table needs sizes below and above the one real pool (banking77, 10,003 rows), each
built deterministically from it, with every side seeing the same matrix.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.pools import embedded_splits, gaussian_pool

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


@dataclass
class BaseData:
    """The prepared pool (unscaled float32) and test split, before any resizing."""

    x: np.ndarray
    y: np.ndarray
    n_classes: int
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    source: str
    label: str


def load_base_data(args: argparse.Namespace, device: str) -> BaseData:
    """banking77/minilm-l6 through the project's loaders (strategy_cost's pool) plus its test split,
    or synthetic clustered Gaussians when the data is not there (and ``--require-real`` is off)."""
    reason = ""
    if args.synthetic:
        reason = "--synthetic given"
    elif not args.data_dir or not Path(args.data_dir).is_dir():
        reason = f"data dir {args.data_dir!r} not found"
    if not reason:
        t0 = time.perf_counter()
        try:
            splits = embedded_splits(args.dataset, args.encoder, Path(args.data_dir), args.cache_dir, device)
            x, y, c = splits.x_pool, splits.y_pool, splits.n_classes
            x_test, y_test = splits.x_test, splits.y_test
        except Exception as exc:  # any failure: fall back, and say why
            if args.require_real:
                raise
            reason = f"real data unavailable ({type(exc).__name__}: {exc})"
        else:
            label = f"{args.dataset}/{args.encoder}"
            return BaseData(
                x,
                y,
                c,
                x_test,
                y_test,
                f"pool: {label}, train + validation embeddings, {x.shape[0]} x {x.shape[1]}, {c} "
                f"classes; test split {x_test.shape[0]} rows (prepared in "
                f"{time.perf_counter() - t0:.1f} s, embedding cache used when warm)",
                label,
            )
    if args.require_real:
        raise SystemExit(f"--require-real: {reason}")
    n_test = max(args.synthetic_rows // 4, args.classes)
    xa, ya = gaussian_pool(args.synthetic_rows + n_test, args.dim, args.classes, args.seed, 1.0)
    return BaseData(
        xa[: args.synthetic_rows],
        ya[: args.synthetic_rows],
        args.classes,
        xa[args.synthetic_rows :],
        ya[args.synthetic_rows :],
        f"pool: SYNTHETIC class-clustered Gaussian embeddings {args.synthetic_rows} x {args.dim}, "
        f"{args.classes} classes, because {reason}",
        "synthetic",
    )
