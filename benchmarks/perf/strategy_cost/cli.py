"""The ``strategy_cost`` command: options, the main-setting pool, the run over strategies, the table.

Why apart from the worker: the parent process only decides what to measure and prints; everything it
times runs in the spawned workers of ``worker``, which must import nothing of this.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..common.machine import load_line, machine_lines
from ..common.memory import GIB, MIB
from ..common.pools import add_data_options
from .scaling import Estimate, estimate, parse_shape, scaling_table
from .worker import PoolSpec, Row, Task, prepare_real_pool, run_in_fresh_process


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from pytest_albench.strategies import strategy_names

    names = strategy_names()
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.strategy_cost",
        description=(
            "Time ONE query (median of --repeats after a warm-up) and its peak extra memory for each "
            "registered strategy, on a 10k-point pool (banking77 + minilm-l6 when the data is there, "
            "else synthetic) and, for BADGE, a synthetic 50,000 x 1,024 pool."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--strategies",
        nargs="*",
        default=None,
        metavar="NAME",
        help=f"strategies at the main setting; all registered when omitted, none when given "
        f"without names ({', '.join(names)})",
    )
    p.add_argument("--repeats", type=int, default=3, help="timed calls after one warm-up call")
    p.add_argument(
        "--slow-seconds",
        type=float,
        default=10.0,
        help="if the warm-up call takes longer, time only 1 call for that strategy",
    )
    p.add_argument("--batch", type=int, default=100, help="query size")
    p.add_argument("--n", type=int, default=10_000, help="pool size of the main setting")
    p.add_argument("--per-class", type=int, default=10, help="labeled points per class before the query")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-samples", type=int, default=8, help="stochastic passes for sampled_proba (loop default)")
    add_data_options(p.add_argument_group("main-setting data"))
    large = p.add_argument_group("large synthetic setting (memory check)")
    large.add_argument(
        "--large-strategies",
        nargs="*",
        default=["badge"],
        metavar="NAME",
        help="strategies measured at the large setting; give none to skip it",
    )
    large.add_argument("--large-n", type=int, default=50_000)
    large.add_argument("--large-dim", type=int, default=1024)
    large.add_argument(
        "--memory-limit-mib",
        type=float,
        default=1024.0,
        help="the large-setting peak must stay below this; exit status 1 otherwise",
    )
    scale = p.add_argument_group("scaling setting (real embeddings resized; off unless --scale-sizes)")
    scale.add_argument(
        "--scale-sizes",
        nargs="*",
        default=[],
        metavar="ROWSxWIDTH",
        help="e.g. 10000x384 100000x384 1000000x384 100000x1024: the main pool subsampled or tiled to ROWS, "
        "projected to WIDTH",
    )
    scale.add_argument(
        "--scale-strategies", nargs="*", default=None, metavar="NAME", help="default: every registered strategy"
    )
    scale.add_argument("--scale-repeats", type=int, default=1, help="timed calls per strategy and size")
    scale.add_argument(
        "--scale-time-cap", type=float, default=120.0, help="skip a size whose extrapolated query time exceeds this"
    )
    scale.add_argument(
        "--scale-memory-cap-gib", type=float, default=8.0, help="skip a size whose extrapolated peak exceeds this"
    )
    out = p.add_argument_group("output and probing")
    out.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    out.add_argument("--json", default=None, metavar="PATH", help="also write all raw timings here")
    out.add_argument(
        "--profile",
        nargs="*",
        default=[],
        metavar="NAME",
        help="print a cProfile listing of one extra main-setting query of these strategies "
        "(not timed separately when they are not in --strategies)",
    )
    out.add_argument("--sample-ms", type=float, default=1.0, help="RSS sampling interval on CPU")
    out.add_argument("--threads", type=int, default=None, help="torch intra-op threads in the workers")
    args = p.parse_args(argv)
    args.strategies = list(names) if args.strategies is None else args.strategies
    args.scale_strategies = list(names) if args.scale_strategies is None else args.scale_strategies
    try:
        args.scale_shapes = sorted({parse_shape(t) for t in args.scale_sizes}, key=lambda s: (s[0] * s[1], s))
    except ValueError as exc:
        p.error(str(exc))
    if args.scale_shapes and (args.synthetic or not args.data_dir):
        p.error("--scale-sizes resizes the real pool: it needs --data-dir and no --synthetic")
    unknown = sorted(set(args.strategies) | set(args.large_strategies) | set(args.profile) | set(args.scale_strategies))
    unknown = [s for s in unknown if s not in names]
    if unknown:
        p.error(f"unknown strategies {unknown}; registered: {', '.join(names)}")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


@contextmanager
def main_pool(args: argparse.Namespace, device: str) -> Iterator[tuple[PoolSpec, str]]:
    """The main-setting pool spec (real data when possible) and a line saying where it came from."""
    reason = ""
    if args.synthetic:
        reason = "--synthetic given"
    elif not args.data_dir or not Path(args.data_dir).is_dir():
        reason = f"data dir {args.data_dir!r} not found"
    with tempfile.TemporaryDirectory(prefix="albench-perf-") as tmp:
        if not reason:
            path = Path(tmp) / "pool.npz"
            t0 = time.perf_counter()
            try:
                n, d, c = prepare_real_pool(
                    args.dataset, args.encoder, Path(args.data_dir), args.n, args.cache_dir, device, args.seed, path
                )
            except Exception as exc:  # any failure means: fall back, and say why
                if args.require_real:
                    raise
                reason = f"real data unavailable ({type(exc).__name__}: {exc})"
            else:
                label = f"{args.dataset}/{args.encoder}"
                yield (
                    PoolSpec(label, n, d, c, args.per_class, args.seed, path=str(path)),
                    f"main pool: {label}, train+validation embeddings, {n} x {d}, {c} classes "
                    f"(prepared in {time.perf_counter() - t0:.1f} s, embedding cache used when warm)",
                )
                return
        if args.require_real:
            raise SystemExit(f"--require-real: {reason}")
        spec = PoolSpec("synthetic", args.n, args.dim, args.classes, args.per_class, args.seed)
        yield (
            spec,
            (
                f"main pool: SYNTHETIC class-clustered Gaussian embeddings {args.n} x {args.dim}, "
                f"{args.classes} classes, because {reason}"
            ),
        )


def print_table(rows: list[Row], markdown: bool) -> None:
    from tabulate import tabulate

    headers = [
        "strategy",
        "data",
        "N×d",
        "C",
        "batch",
        "median query (ms)",
        "runs",
        "peak extra (MiB)",
        "device",
        "notes",
    ]
    table = [
        [
            r.strategy,
            r.data,
            f"{r.n}×{r.d}",
            r.n_classes,
            r.batch,
            f"{r.median_ms:,.1f}",
            f"1+{r.repeats}",
            f"{r.peak_extra_mib:,.1f}",
            r.device,
            "; ".join(r.notes),
        ]
        for r in rows
    ]
    print(tabulate(table, headers=headers, tablefmt="github" if markdown else "simple", disable_numparse=True))


class _Runner:
    """Runs tasks one after another, each in a fresh process, and collects their rows and profiles."""

    def __init__(self, args: argparse.Namespace, device: str) -> None:
        self.args, self.device = args, device
        self.rows: list[Row] = []
        self.profiles: list[tuple[str, str]] = []

    def task_for(
        self,
        strategy: str,
        pool: PoolSpec,
        profile: bool = False,
        profile_only: bool = False,
        repeats: int | None = None,
    ) -> Task:
        args = self.args
        return Task(
            strategy,
            pool,
            args.batch,
            args.repeats if repeats is None else repeats,
            self.device,
            args.slow_seconds,
            args.n_samples,
            args.seed,
            args.sample_ms,
            args.threads,
            profile,
            profile_only,
        )

    def run(self, task: Task) -> list[Row]:
        """Measure ``task``; returns the rows it added."""
        t0 = time.perf_counter()
        print(f"  ... {task.strategy} on {task.pool.label} {task.pool.n}x{task.pool.d}", file=sys.stderr, flush=True)
        result = run_in_fresh_process(task)
        self.rows.extend(result.rows)
        if result.profile_text:
            self.profiles.append((task.strategy, result.profile_text))
        print(f"      done in {time.perf_counter() - t0:.1f} s; {load_line()}", file=sys.stderr, flush=True)
        return result.rows


def _print_header(args: argparse.Namespace, device: str) -> None:
    for line in machine_lines(device):
        print(line)
    if device == "cpu":
        print(
            f"memory: peak RSS increase during the warm-up query (sampled every {args.sample_ms:g} ms, and "
            "ru_maxrss; malloc_trim before it), each strategy in a fresh spawned process; timed calls run "
            "without probe or trim, gc.collect() before each outside the timer"
        )
    else:
        print("memory: torch.cuda.max_memory_allocated minus allocated before, each strategy in a fresh process")


def _run_main_setting(args: argparse.Namespace, runner: _Runner) -> None:
    with main_pool(args, runner.device) as (pool, source):
        print(source)
        for strategy in args.strategies:
            runner.run(runner.task_for(strategy, pool, profile=strategy in args.profile))
        for strategy in args.profile:
            if strategy not in args.strategies:
                runner.run(runner.task_for(strategy, pool, profile=True, profile_only=True))


def _run_large_setting(args: argparse.Namespace, runner: _Runner) -> list[Row]:
    large_rows: list[Row] = []
    if args.large_strategies:
        large = PoolSpec("synthetic", args.large_n, args.large_dim, args.classes, args.per_class, args.seed)
        print(
            f"large pool: SYNTHETIC class-clustered Gaussian embeddings {args.large_n} x {args.large_dim}, "
            f"{args.classes} classes; fitted logistic head on {args.per_class} labeled points per class"
        )
        for strategy in args.large_strategies:
            large_rows.extend(runner.run(runner.task_for(strategy, large)))
    return large_rows


def _run_scaling(args: argparse.Namespace, runner: _Runner) -> tuple[list[Row], dict[tuple[str, int, int], Estimate]]:
    """Every scaling strategy at every ``--scale-sizes`` shape, smallest first, under the caps."""
    rows: list[Row] = []
    skipped: dict[tuple[str, int, int], Estimate] = {}
    if not args.scale_shapes:
        return rows, skipped
    with tempfile.TemporaryDirectory(prefix="albench-scale-") as tmp:
        base = Path(tmp) / "base.npz"
        n0, d0, c = prepare_real_pool(
            args.dataset, args.encoder, Path(args.data_dir), 10**12, args.cache_dir, runner.device, args.seed, base
        )
        print(
            f"scaling pools: {args.dataset}/{args.encoder} ({n0:,} × {d0}, {c} classes) resized: seeded subsample "
            "or tiled copies with 1 % jitter for the rows, a seeded Gaussian projection for another width"
        )
        last: dict[str, tuple[int, int, float, float]] = {}
        for n, d in args.scale_shapes:
            how = "tiled" if n > n0 else ("subsampled" if n < n0 else "whole")
            label = f"{args.dataset}/{args.encoder} {how}" + ("" if d == d0 else f", projected to {d}")
            pool = PoolSpec(label, n, d, c, args.per_class, args.seed, path=str(base), resize=True)
            for strategy in args.scale_strategies:
                decision = estimate(
                    strategy, n, d, last.get(strategy), args.scale_time_cap, args.scale_memory_cap_gib * GIB
                )
                if not decision.run:
                    skipped[(strategy, n, d)] = decision
                    print(f"  {strategy} at {n:,}×{d}: skipped, {decision.reason}", file=sys.stderr, flush=True)
                    continue
                new = runner.run(runner.task_for(strategy, pool, repeats=args.scale_repeats))
                rows.extend(new)
                if new:  # the first row is what cycle 1 pays (a memo strategy's first call)
                    last[strategy] = (
                        n,
                        d,
                        max(new[0].warmup_ms, new[0].median_ms) / 1000.0,
                        new[0].peak_extra_mib * MIB,
                    )
    return rows, skipped


def _memory_check(large_rows: list[Row], limit_mib: float) -> int:
    """Print the large setting's verdicts; 1 when a peak reached ``limit_mib``."""
    status = 0
    for r in large_rows:
        ok = r.peak_extra_mib < limit_mib
        status |= 0 if ok else 1
        print(
            f"\nmemory check {r.strategy} at {r.n}×{r.d}: peak extra {r.peak_extra_mib:,.1f} MiB "
            f"{'<' if ok else '>='} {limit_mib:g} MiB -> {'OK' if ok else 'EXCEEDED'}"
        )
    return status


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from pytest_albench.engine.device import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    _print_header(args, device)
    runner = _Runner(args, device)
    started = time.perf_counter()
    _run_main_setting(args, runner)
    large_rows = _run_large_setting(args, runner)
    main_rows = list(runner.rows)
    scale_rows, skipped = _run_scaling(args, runner)
    print(f"total benchmark time: {time.perf_counter() - started:.1f} s; at the end: {load_line()}")
    print()
    print_table(main_rows, args.markdown)
    if args.scale_shapes:
        from tabulate import tabulate

        print("\nScaling: one query's median time / peak extra memory per size")
        headers, table = scaling_table(scale_rows, args.scale_shapes, skipped)
        print(tabulate(table, headers=headers, tablefmt="github" if args.markdown else "simple", disable_numparse=True))
    for strategy, text in runner.profiles:
        print(f"\ncProfile of one {strategy} query (main setting):\n{text}")
    status = _memory_check(large_rows, args.memory_limit_mib)
    if args.json:
        import json

        payload = {
            "machine": machine_lines(device),
            "argv": sys.argv[1:],
            "rows": [dataclasses.asdict(r) | {"median_ms": r.median_ms} for r in runner.rows],
            "scaling_skipped": {f"{s}@{n}x{d}": dataclasses.asdict(e) for (s, n, d), e in skipped.items()},
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return status
