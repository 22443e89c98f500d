"""GEMM and GEMV rates of torch's and numpy's BLAS on the shapes our queries use, on this CPU.

Why: the two BLAS libraries of one process can differ by 2× on the same shape (torch's MKL takes a
generic path on AMD CPUs), and which one is faster decides how close a query can get to its floor.
``pytest_albench.strategies.blas`` routes CPU products through numpy; this script shows, on any
machine, whether that is the right choice there. Run from the repository root:

    python -m benchmarks.perf.gemm_rates [--threads 1] [--rounds 11]

Each variant is timed in alternating rounds (one call of each per round) after a warm-up; the table
gives the median, the range and the rate in GFLOP/s (GB/s for the matrix-vector products). The
padded row is the head's CPU forward pass (``blas.addmm_padded``); its rate counts the useful
columns only, so it is comparable with the unpadded rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np

from .common.machine import machine_lines


def _variants(n: int, d: int, c: int, labeled: int) -> list[tuple[str, float, Callable[[], object]]]:
    """(name, work in GFLOP or GB, callable) for every variant measured."""
    import torch

    from pytest_albench.strategies.blas import pad_columns, padded_width

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal((d, c), dtype=np.float32)
    b = rng.standard_normal(c).astype(np.float32)
    centres = np.ascontiguousarray(x[:labeled])
    xt, bt = torch.from_numpy(x), torch.from_numpy(b)
    wt_nn = torch.from_numpy(w)
    wt_nt = torch.from_numpy(np.ascontiguousarray(w.T)).T  # the head's layout: transpose of a (C, d) block
    ct = torch.from_numpy(centres)
    width = padded_width(c)
    w_padded = pad_columns(w, width)  # the head's forward pass on CPU (blas.addmm_padded)
    head = 2.0 * n * d * c / 1e9
    dist = 2.0 * n * d * labeled / 1e9
    vec = n * d * 4 / 1e9
    return [
        (f"head logits {n}×{d} @ {d}×{c}: torch addmm, NT layout", head, lambda: torch.addmm(bt, xt, wt_nt)),
        (f"head logits {n}×{d} @ {d}×{c}: torch addmm, NN layout", head, lambda: torch.addmm(bt, xt, wt_nn)),
        (f"head logits {n}×{d} @ {d}×{c}: numpy matmul", head, lambda: np.matmul(x, w)),
        (f"head logits {n}×{d} @ {d}×{c}: numpy, padded to {width} columns", head, lambda: np.matmul(x, w_padded)),
        (f"distances {n}×{d} @ {d}×{labeled}: torch mm", dist, lambda: xt @ ct.T),
        (f"distances {n}×{d} @ {d}×{labeled}: numpy matmul", dist, lambda: np.matmul(x, centres.T)),
        (f"GEMV {n}×{d} @ {d} (GB/s): torch", vec, lambda: xt @ xt[7]),
        (f"GEMV {n}×{d} @ {d} (GB/s): numpy", vec, lambda: np.matmul(x, x[7])),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.perf.gemm_rates", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (0: library defaults)")
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--n", type=int, default=10_003)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--classes", type=int, default=77)
    p.add_argument("--labeled", type=int, default=770)
    args = p.parse_args(argv)
    import torch
    from tabulate import tabulate
    from threadpoolctl import threadpool_limits

    if args.threads:
        torch.set_num_threads(args.threads)
    limits = threadpool_limits(args.threads) if args.threads else None  # noqa: F841 - kept for the run
    for line in machine_lines("cpu"):
        print(line)
    variants = _variants(args.n, args.d, args.classes, args.labeled)
    times: list[list[float]] = [[] for _ in variants]
    for _, _, fn in variants:
        fn()  # warm-up
    for _ in range(args.rounds):
        for i, (_, _, fn) in enumerate(variants):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    rows = []
    for (name, work, _), ts in zip(variants, times, strict=True):
        med = float(np.median(ts))
        rows.append([name, f"{med * 1e3:,.2f}", f"{min(ts) * 1e3:,.2f}–{max(ts) * 1e3:,.2f}", f"{work / med:,.0f}"])
    print(tabulate(rows, headers=["variant", "median (ms)", "range (ms)", "GFLOP/s or GB/s"], tablefmt="github"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
