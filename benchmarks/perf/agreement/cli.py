"""Command line: run the cells into a results file, or print the table of results files.

Why a loop over (dataset, embedding, strategy, seed) in one process, written after every step: the
embedded pool is built once per (dataset, embedding) and shared by all strategies and seeds (the
engine's cache), and a run that is killed keeps what it finished (``store``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..common.machine import machine_lines
from .cells import (
    COMPARABLE,
    DEFAULT_DATASETS,
    DEFAULT_EMBEDDINGS,
    DEFAULT_STRATEGIES,
    Cell,
    budget_for,
    dataset_available,
    parse_list,
    parse_seeds,
    peer_versions,
    settings_of,
)
from .store import ResultsFile
from .table import render_table

__all__ = ["blas_line", "main", "parse_args"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.agreement",
        description="Whole AL runs of ours and of scikit-activeml on the same embeddings, initial pools and "
        "protocol (scikit-activeml's); per cell both AULCs and whether the selections agree.",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="folder holding <dataset>/train.csv (banking77, trec6)")
    p.add_argument("--cache-dir", default=None, help="embedding cache (default: ALBENCH_CACHE_DIR or ~/.cache)")
    p.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    p.add_argument("--embeddings", default=",".join(DEFAULT_EMBEDDINGS))
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES), help="in the order they are run")
    p.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    p.add_argument("--cycles", type=int, default=None, help="override the dataset's cycles (banking77/trec6: 20)")
    p.add_argument("--query-size", type=int, default=None, help="override the query size (banking77 50, trec6 10)")
    p.add_argument("--max-pool", type=int, default=None, help="subsample the pool (tests); default: all of train")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit torch, BLAS and OpenMP to this many threads (1 on a shared machine: 2 threads on an "
        "oversubscribed CPU wait on each other); default: the libraries' own",
    )
    p.add_argument("--out", type=Path, default=None, help="results JSON, rewritten after every (cell, seed)")
    p.add_argument("--table", type=Path, nargs="+", default=None, help="print the table of these results files")
    args = p.parse_args(argv)
    if args.table is None and args.out is None:
        p.error("give --out PATH.json to run, or --table PATH [PATH ...] to print a table")
    return args


def blas_line() -> str:
    """The BLAS libraries loaded in this process (numpy's and torch's), from threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: unknown (threadpoolctl not installed)"
    parts = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            parts.append(
                f"{info.get('internal_api')} {info.get('version') or ''} ({Path(info.get('filepath', '')).name}, "
                f"{info.get('num_threads')} threads)".replace("  ", " ")
            )
    return "BLAS: " + ("; ".join(parts) if parts else "none found")


def limit_threads(n: int) -> Any:
    """Limit every thread pool to ``n`` threads: OpenMP/BLAS libraries loaded later (environment) and
    the ones loaded now (threadpoolctl, after importing what the run uses), and torch's intra-op pool.

    Returns the threadpoolctl limiter, which must stay referenced for the limits to hold."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    import sklearn.cluster  # noqa: F401 - loads scikit-learn's OpenMP runtime before the limit
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    return threadpool_limits(n)


def _machine() -> list[str]:
    versions = peer_versions()
    return [
        *machine_lines("cpu"),
        "scikit-activeml {} | scikit-learn {} | pytest-albench {} | Python {}".format(
            versions["scikit-activeml"], versions["scikit-learn"], versions["pytest-albench"], platform.python_version()
        ),
        blas_line(),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.table is not None:
        print(render_table(args.table))
        return 0
    if importlib.util.find_spec("skactiveml") is None:
        from ..peers.adapters import INSTALL_HINT

        print(f"skipped: scikit-activeml is not installed ({INSTALL_HINT})")
        return 0
    datasets = parse_list(args.datasets)
    embeddings = parse_list(args.embeddings)
    strategies = parse_list(args.strategies, COMPARABLE)
    seeds = parse_seeds(args.seeds)
    runnable = []
    for dataset in datasets:
        why = dataset_available(dataset, args.data_dir)
        if why:
            print(f"skipped: {why}")
        else:
            runnable.append(dataset)
    if not runnable:
        print("nothing to run: no requested dataset is available")
        return 0
    return _run(args, runnable, embeddings, strategies, seeds)


def _run(
    args: argparse.Namespace, datasets: list[str], embeddings: list[str], strategies: list[str], seeds: list[int]
) -> int:
    from pytest_albench.engine.engine import Engine

    from .compare import run_seed

    limiter = limit_threads(args.threads) if args.threads is not None else None
    out = ResultsFile(args.out)
    command = "python -m benchmarks.perf.agreement " + shlex.join(sys.argv[1:] if len(sys.argv) > 1 else [])
    machine = _machine()
    out.start_run(command, machine)
    out.save()
    print("\n".join(machine), flush=True)
    data_dir = str(args.data_dir) if args.data_dir is not None else None
    engine = Engine(data_dir=data_dir, cache_dir=args.cache_dir, progress=False)
    for dataset in datasets:
        cycles, query_size = budget_for(dataset, args.cycles, args.query_size)
        for embedding in embeddings:
            for strategy in strategies:
                cell = Cell(dataset, embedding, strategy)
                settings = settings_of(cell, cycles, query_size, args.max_pool)
                for seed in seeds:
                    key = cell.key(seed)
                    if out.finished(key, settings):
                        out.note(skipped=1)
                        print(f"{key}: already in {args.out}, skipped", flush=True)
                        continue
                    t0 = time.perf_counter()
                    record = run_seed(engine, cell, seed, cycles, query_size, args.max_pool)
                    out.note(computed=1)
                    out.put(record)
                    print(
                        f"{key}: ours {record['ours']['aulc']:.4f} ({record['ours']['seconds']:.1f} s), "
                        f"peer {record['peer']['aulc']:.4f} ({record['peer']['seconds']:.1f} s), identical "
                        f"{record['identical_prefix']}/{cycles}, {time.perf_counter() - t0:.1f} s | "
                        f"{_load()}",
                        flush=True,
                    )
    out.note(finished=True)
    out.save()
    print(render_table([args.out]))
    del limiter
    return 0


def _load() -> str:
    try:
        return f"load {os.getloadavg()[0]:.1f}"
    except OSError:
        return "load ?"
