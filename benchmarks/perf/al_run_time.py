"""Time a whole active-learning run per strategy: 20 cycles of 50 on banking77 × minilm-l6.

Issue #6's end-to-end target: any strategy's full run on the 10k pool (initial pool of 770, 20
queries of 50, head training and test evaluation every cycle) in under 10 s on a 2-core CPU. One
query's cost (``strategy_cost``) does not show that: a run also pays 21 head fits, 21 test
evaluations, and whatever a strategy rebuilds every cycle.

Usage (from the repository root)::

    python -m benchmarks.perf.al_run_time --threads 1 [--strategies margin badge ...] [--markdown]

Each strategy runs in the same process one after another through ``run_active_learning`` exactly
as the plugin runs it; the reported times are the run's own ``total_time_s`` and the sums of its
per-cycle query and training times.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .common.machine import load_line, machine_lines
from .common.pools import add_data_options, embedded_splits

if TYPE_CHECKING:
    from pytest_albench.engine.loop import PoolProblem


def build_problem(data_dir: Path, dataset: str, encoder: str, cache_dir: str | None, device: str) -> PoolProblem:
    """The pool (train + validation, the same rows as strategy_cost) and the test split."""
    from pytest_albench.engine.loop import PoolProblem

    splits = embedded_splits(dataset, encoder, data_dir, cache_dir, device)
    return PoolProblem(
        x_pool=splits.x_pool,
        y_pool=splits.y_pool,
        x_test=splits.x_test,
        y_test=splits.y_test,
        n_classes=splits.n_classes,
        description={"dataset": dataset, "embedding": encoder},
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from pytest_albench.strategies import strategy_names

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.al_run_time",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_data_options(parser, synthetic=False)
    parser.add_argument("--strategies", nargs="*", default=None, help=f"default: all ({', '.join(strategy_names())})")
    parser.add_argument("--initial", type=int, default=770, help="initial pool size (random IPS)")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--query-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 on a shared machine)")
    parser.add_argument("--target-seconds", type=float, default=10.0)
    parser.add_argument("--markdown", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from pytest_albench.engine.device import cap_threads
    from pytest_albench.engine.loop import run_active_learning
    from pytest_albench.strategies import strategy_names

    cap_threads(args.threads)  # torch's threads and numpy's BLAS, which runs our CPU products
    if not args.data_dir or not (Path(args.data_dir) / args.dataset).is_dir():
        print(
            f"al_run_time: no {args.dataset} folder under --data-dir {args.data_dir}; pass --data-dir", file=sys.stderr
        )
        return 2
    for line in machine_lines(args.device):
        print(line)
    t0 = time.perf_counter()
    problem = build_problem(Path(args.data_dir), args.dataset, args.encoder, args.cache_dir, args.device)
    print(
        f"pool {problem.x_pool.shape[0]}×{problem.x_pool.shape[1]}, test {problem.x_test.shape[0]}, "
        f"{problem.n_classes} classes (prepared in {time.perf_counter() - t0:.1f} s)"
    )
    print(
        f"run: initial pool {args.initial} (random), {args.cycles} cycles × {args.query_size}, logistic head, "
        f"seed {args.seed}, device {args.device}, {args.threads} thread(s)"
    )
    rows = []
    over = []
    for name in args.strategies or strategy_names():
        result = run_active_learning(
            problem,
            strategy=name,
            seed=args.seed,
            initial_pool_size=args.initial,
            schedule=[args.query_size] * args.cycles,
            device=args.device,
        )
        query_s = sum(c.query_time_s for c in result.cycles)
        train_s = sum(c.train_time_s for c in result.cycles)
        total = result.total_time_s
        ok = total < args.target_seconds
        if not ok:
            over.append(name)
        rows.append(
            [
                name,
                f"{total:.2f}",
                f"{query_s:.2f}",
                f"{train_s:.2f}",
                f"{total - query_s - train_s:.2f}",
                f"{result.aulc:.4f}",
                "yes" if ok else "NO",
            ]
        )
        print(f"  {name}: {total:.2f} s; {load_line()}", flush=True)
    from tabulate import tabulate

    headers = [
        "strategy",
        "run (s)",
        "queries (s)",
        "head fits (s)",
        "rest (s)",
        "AULC",
        f"< {args.target_seconds:g} s",
    ]
    print(tabulate(rows, headers=headers, tablefmt="github" if args.markdown else "simple", disable_numparse=True))
    print("rest = initial pool selection, test/validation evaluation and bookkeeping")
    if over:
        print(f"over the {args.target_seconds:g} s target: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
