"""The pool at each requested size: a seeded subsample, the whole pool, or tiled copies with jitter.

Why: the scaling table needs sizes below and above the one real pool (banking77, 10,003 rows), each
built deterministically from it, with every side seeing the same matrix.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.pools import (  # noqa: F401 - resize_pool and friends are this package's API too
    FULL_POOL_TOLERANCE,
    embedded_splits,
    gaussian_pool,
    resize_pool,
    resolve_size,
    tile_with_jitter,
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
