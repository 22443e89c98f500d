"""The ``peers`` command: options, the pool at each size, the run over strategies and sides, the tables.

Why the parent is separate from the worker: it decides what runs where (the skip rule, the history
of costs per side) and prints; all timing happens in the workers of ``worker``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..common.machine import load_line, machine_lines
from ..common.memory import GIB, MIB
from ..common.pools import add_data_options
from . import adapters as pa
from .overlap import selection_overlap
from .pool import load_base_data, resize_pool, resolve_size
from .results import SIDE_TITLES, PeerTask, SizeReport, TaskResult
from .skip import Cost, decide_peer
from .tables import al_table, print_table, scaling_rows, size_table_headers, size_table_rows
from .worker import run_in_fresh_process, set_thread_env

#: Strategies whose defaults do other work than the peer's (cluster count, δ rule): they also get a
#: row run with the peer's settings (``ours.peer_settings``).
EQUAL_WORK = ("typiclust", "probcover")


def _int_list(text: str) -> list[int]:
    try:
        return [int(t.replace("_", "")) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _size_list(text: str) -> list[int | str]:
    out: list[int | str] = []
    for t in text.split(","):
        t = t.strip().lower().replace("_", "")
        if not t:
            continue
        if t == "full":
            out.append("full")
            continue
        try:
            out.append(int(t))
        except ValueError:
            raise argparse.ArgumentTypeError(f"sizes are integers or 'full', got {t!r}") from None
    if not out:
        raise argparse.ArgumentTypeError("give at least one size")
    return out


def add_cycle_options(p: argparse.ArgumentParser, seed_help: str) -> None:
    """The options of the cycle every side is timed on (``worker.build_cycle``): query size, labels
    per class, seed and the scikit-learn head's iteration cap. Shared with the probes that time the
    same cycle, so their defaults cannot drift apart."""
    p.add_argument("--batch", type=int, default=100, help="query size")
    p.add_argument("--per-class", type=int, default=10, help="labeled points per class before the query")
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--lr-max-iter", type=int, default=1000, help="max_iter of the LogisticRegression (lbfgs)")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from pytest_albench.strategies import strategy_names

    names = strategy_names()
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.peers",
        description=(
            "Time one query of our strategies and of their scikit-activeml / small-text counterparts on "
            "the same pool, labeled set and fitted LogisticRegression (alternating calls, median of "
            "--repeats after a warm-up), with peak extra memory, selection overlap and, for randomised "
            "strategies, a short AL run per side."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--strategies",
        nargs="+",
        default=list(pa.DEFAULT_STRATEGIES),
        metavar="NAME",
        help=f"our strategies (registered: {', '.join(names)}); those without a counterpart run on our side only",
    )
    p.add_argument(
        "--peers",
        nargs="+",
        default=list(pa.PEER_LIBRARIES),
        choices=list(pa.PEER_LIBRARIES),
        help="peer libraries to compare with",
    )
    p.add_argument(
        "--sizes",
        type=_size_list,
        default=["full"],
        help="pool sizes N, comma-separated: below the pool a seeded subsample, within 1%% of it (or "
        "'full') the whole pool, above it tiled copies with jitter; e.g. 2500,10000,40000",
    )
    p.add_argument("--device", default="cpu", help="our side: auto, cpu, cuda or cuda:N (peers are CPU-only)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads and BLAS/OpenMP threads (threadpoolctl + env) in the workers; 0: library "
        "defaults. 1 is the only meaningful choice on a shared machine (see README)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=11,
        help="rounds of timed calls (one per side, the order rotating) after one warm-up call per side",
    )
    p.add_argument(
        "--no-equal-work",
        dest="equal_work",
        action="store_false",
        help="skip the extra rows of typiclust and probcover run with the peer's settings",
    )
    p.add_argument(
        "--peer-time-cap",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a call whose warm-up exceeds this is timed once; at a larger N, a peer whose "
        "extrapolated time exceeds it is skipped",
    )
    p.add_argument(
        "--peer-memory-cap-gib",
        type=float,
        default=8.0,
        metavar="GIB",
        help="skip a peer whose extrapolated (or a-priori) peak memory exceeds this",
    )
    add_cycle_options(p, seed_help="labeled set, subsample/tiling and call seeds")
    p.add_argument("--n-samples", type=int, default=8, help="sampled_proba passes (only strategies that need it)")
    al = p.add_argument_group("short AL runs (randomised strategies, at the whole-pool size only)")
    al.add_argument("--al-cycles", type=int, default=5, help="queries per AL run; 0 turns the AL runs off")
    al.add_argument("--al-seeds", type=_int_list, default=[0, 1], help="comma-separated seeds, one AL run each")
    al.add_argument(
        "--al-time-cap",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="per strategy and side: run only as many seeds as fit in this much estimated query "
        "time (measured median × cycles); none if one run does not fit",
    )
    data = p.add_argument_group("data")
    add_data_options(data)
    data.add_argument("--synthetic-rows", type=int, default=10_000, help="rows of a synthetic pool")
    data.add_argument(
        "--base-rows",
        type=int,
        default=None,
        help="(testing) first subsample the pool to this many rows, so small --sizes above it "
        "exercise the tiling path cheaply",
    )
    data.add_argument(
        "--tile-jitter",
        type=float,
        default=0.01,
        help="std of the Gaussian jitter of tiled copies, as a fraction of the RMS coordinate",
    )
    out = p.add_argument_group("output")
    out.add_argument("--markdown", action="store_true", help="print tables as Markdown")
    out.add_argument("--json", default=None, metavar="PATH", help="also write all raw numbers here")
    out.add_argument("--sample-ms", type=float, default=1.0, help="RSS sampling interval during warm-up calls")
    args = p.parse_args(argv)
    unknown = [s for s in args.strategies if s not in names]
    if unknown:
        p.error(f"unknown strategies {unknown}; registered: {', '.join(names)}")
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if args.al_cycles < 0:
        p.error("--al-cycles must be >= 0")
    return args


@contextmanager
def _tmpdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="albench-peers-") as tmp:
        yield Path(tmp)


#: How the command runs one task: in a fresh spawned process (tests pass ``run_peer_task`` to stay in-process).
Runner = Callable[[PeerTask], TaskResult]


def _print_header(args: argparse.Namespace, device: str) -> tuple[dict[str, pa.PeerLibrary], dict[str, str]]:
    """Machine, threads, peer versions, counterparts and the memory method; returns the peers found
    and, for each missing one, why."""
    for line in machine_lines(device):
        print(line)
    print(
        f"threads per worker: {args.threads or 'library defaults'} (torch intra-op; BLAS/OpenMP via "
        "threadpoolctl and OMP/MKL/OPENBLAS_NUM_THREADS). Peers always run on the CPU."
    )
    libs = pa.find_peer_libraries(list(args.peers))
    unavailable = {k: lib.problem for k, lib in libs.items() if not lib.available}
    for key, lib in libs.items():
        if lib.available:
            warning = f" (WARNING: {lib.problem})" if lib.problem else ""
            print(f"peer {pa.PEER_LIBRARIES[key][1]} {lib.version}{warning}")
        else:
            print(f"peer {pa.PEER_LIBRARIES[key][1]}: NOT AVAILABLE — {lib.problem}")
    if unavailable:
        print(f"Only our side is measured for missing peers. To compare: {pa.INSTALL_HINT}")
    libraries = list(args.peers)
    print(
        "counterparts: "
        + "; ".join(
            f"{s} → "
            + (
                ", ".join(
                    f"{SIDE_TITLES[lib]} {spec.display}"
                    for lib, spec in pa.PEER_SPECS.get(s, {}).items()
                    if lib in libraries
                )
                or "none"
            )
            for s in args.strategies
        )
    )
    print(
        f"memory: peak RSS increase during the warm-up call (sampled every {args.sample_ms:g} ms, and "
        "ru_maxrss; malloc_trim before it); our side on CUDA: torch.cuda.max_memory_allocated. One fresh "
        f"spawned process per (strategy, N); then {args.repeats} rounds of one timed call per side, the side "
        "order rotating, no probe and no trim in timed calls, gc.collect() before each outside the timer."
    )
    return libs, unavailable


class _Benchmark:
    """The parent's state across sizes: each side's last cost (for the skip rule) and the warnings."""

    def __init__(self, args: argparse.Namespace, device: str, unavailable: dict[str, str], runner: Runner) -> None:
        self.args, self.device, self.unavailable, self.runner = args, device, unavailable, runner
        self.libraries = list(args.peers)
        self.available = [k for k in self.libraries if k not in unavailable]
        self.history: dict[tuple[str, str], Cost] = {}
        self.overlap_warnings: list[str] = []
        self.reports: list[SizeReport] = []

    def peers_to_run(self, strategy: str, n: int, d: int, n_classes: int, report: SizeReport) -> list[str]:
        """The installed peers with a counterpart that the skip rule lets run at ``n``."""
        args = self.args
        run_libs = []
        for lib in self.available:
            spec = pa.PEER_SPECS.get(strategy, {}).get(lib)
            if spec is None:
                continue
            decision = decide_peer(
                spec,
                n,
                d,
                n_classes,
                self.history.get((strategy, lib)),
                args.peer_time_cap,
                args.peer_memory_cap_gib * GIB,
            )
            report.skipped[(strategy, lib)] = decision
            if decision.run:
                run_libs.append(lib)
            else:
                self.history[(strategy, lib)] = Cost(n, decision.est_time_s, decision.est_bytes, False)
                print(f"  {strategy} / {SIDE_TITLES[lib]}: skipped at N={n:,}: {decision.reason}", file=sys.stderr)
        return run_libs

    def task_list(self) -> list[tuple[str, str]]:
        """(strategy, settings) in order: every strategy at ours, then at the peer's settings where
        the defaults do different work (``EQUAL_WORK``)."""
        tasks = []
        for strategy in self.args.strategies:
            tasks.append((strategy, "ours"))
            if self.args.equal_work and strategy in EQUAL_WORK:
                tasks.append((strategy, "peer"))
        return tasks

    def record(self, strategy: str, n: int, run_libs: list[str], result: TaskResult) -> None:
        """Remember each peer's cost at ``n`` and warn when a deterministic strategy's picks differ."""
        for lib in run_libs:
            ms = [p.sides[lib] for p in result.phases if lib in p.sides and not p.sides[lib].error]
            if ms:
                self.history[(strategy, lib)] = Cost(
                    n, max((m.median_ms or 0.0) for m in ms) / 1000.0, max(m.peak_mib for m in ms) * MIB
                )
        if strategy in pa.DETERMINISTIC:
            first = result.phases[0].sides
            for lib in run_libs:
                m, ours = first.get(lib), first.get("ours")
                if m is None or ours is None or m.error or ours.error:
                    continue
                ov = selection_overlap(ours.selection, m.selection, self.args.batch)
                if ov < 1.0:
                    msg = (
                        f"!!! WARNING: {strategy} is deterministic but ours and {SIDE_TITLES[lib]} picked "
                        f"different points at N={n:,}: overlap {ov:.2f} < 1.0"
                    )
                    self.overlap_warnings.append(msg)
                    print(msg, flush=True)

    def run_size(
        self, n: int, rows: int, x0: np.ndarray, y0: np.ndarray, n_classes: int, tmp: Path, test_path: str | None
    ) -> SizeReport:
        """Every strategy at pool size ``n``, each in its own task; returns what was measured."""
        args = self.args
        xn, yn, how = resize_pool(x0, y0, n, args.seed, args.tile_jitter)
        pool_path = tmp / f"pool_{n}.npz"
        np.savez(pool_path, x=xn, y=yn, n_classes=np.int64(n_classes))
        report = SizeReport(n, how, unavailable=dict(self.unavailable))
        print(f"\n=== N = {n:,} × {xn.shape[1]}: {how}", flush=True)
        for strategy, settings in self.task_list():
            run_libs = self.peers_to_run(strategy, n, xn.shape[1], n_classes, report)
            task = PeerTask(
                strategy,
                str(pool_path),
                test_path if n == rows and settings == "ours" else None,
                tuple(run_libs),
                args.batch,
                args.per_class,
                args.repeats,
                self.device,
                args.peer_time_cap,
                args.threads,
                args.seed,
                args.sample_ms,
                args.n_samples,
                args.lr_max_iter,
                args.al_cycles if n == rows and settings == "ours" else 0,
                tuple(args.al_seeds),
                args.al_time_cap,
                settings,
            )
            t0 = time.perf_counter()
            print(
                f"  ... {task.row_name} at N={n:,} (ours{''.join(' + ' + SIDE_TITLES[lib] for lib in run_libs)})",
                file=sys.stderr,
                flush=True,
            )
            result = self.runner(task)
            print(f"      done in {time.perf_counter() - t0:.1f} s; {load_line()}", file=sys.stderr, flush=True)
            report.results.append(result)
            if settings == "ours":
                self.record(strategy, n, run_libs, result)
            for line in result.diagnostics:
                print(line, flush=True)
        self.reports.append(report)
        return report


def _print_size_tables(args: argparse.Namespace, report: SizeReport, libraries: list[str], test_label: str) -> None:
    lr_notes = sorted({res.notes[0] for res in report.results if res.notes})
    print(f"\nN = {report.n:,} ({report.how}); {'; '.join(lr_notes)}")
    print_table(size_table_headers(libraries), size_table_rows(report, libraries), args.markdown)
    headers, al_rows = al_table(report, libraries)
    if al_rows:
        print(
            f"\nShort AL runs at N = {report.n:,}: {args.al_cycles} cycle(s) × {args.batch} from the same "
            f"{args.per_class}/class labeled set, a fresh LogisticRegression per cycle, test accuracy on "
            f"{test_label} test; AULC = mean accuracy over the {args.al_cycles + 1} points (start "
            f"included): mean (per seed); final = accuracy after the last cycle"
        )
        print_table(headers, al_rows, args.markdown)


def _run_sizes(args: argparse.Namespace, device: str, bench: _Benchmark) -> None:
    """Prepare the pool once, then measure and print every requested size."""
    with _tmpdir() as tmp:
        base = load_base_data(args, device)
        print(base.source)
        x0, y0 = base.x, base.y
        if args.base_rows is not None and args.base_rows < len(y0):
            x0, y0, _ = resize_pool(x0, y0, args.base_rows, args.seed, args.tile_jitter)
            print(f"--base-rows: the pool is first subsampled to {args.base_rows} rows (testing the size paths)")
        rows = len(y0)
        sizes = sorted({rows if s == "full" else resolve_size(int(s), rows) for s in args.sizes})
        test_path = None
        if base.x_test is not None and base.y_test is not None and args.al_cycles > 0:
            test_path = str(tmp / "test.npz")
            np.savez(test_path, x=base.x_test, y=base.y_test)
        print(
            f"sizes: {', '.join(f'{n:,}' for n in sizes)}; labeled: {args.per_class} per class; query {args.batch}; "
            f"features × feature_scale of each pool (same matrix for every side); LogisticRegression lbfgs C=1, "
            f"max_iter={args.lr_max_iter}"
        )
        set_thread_env(args.threads)
        for n in sizes:
            report = bench.run_size(n, rows, x0, y0, base.n_classes, tmp, test_path)
            _print_size_tables(args, report, bench.libraries, base.label)


def _write_json(
    path: str, argv: Sequence[str] | None, device: str, libs: dict[str, pa.PeerLibrary], bench: _Benchmark
) -> None:
    import json

    payload = {
        "machine": machine_lines(device),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "peers": {k: dataclasses.asdict(v) for k, v in libs.items()},
        "sizes": [
            {
                "n": r.n,
                "how": r.how,
                "unavailable": r.unavailable,
                "skipped": {f"{s}/{lib}": dataclasses.asdict(d) for (s, lib), d in r.skipped.items()},
                "results": [dataclasses.asdict(res) for res in r.results],
            }
            for r in bench.reports
        ],
        "overlap_warnings": bench.overlap_warnings,
    }
    Path(path).write_text(json.dumps(payload, indent=2, default=str))


def main(argv: Sequence[str] | None = None, runner: Runner = run_in_fresh_process) -> int:
    """The command; ``runner`` runs one task (default: in a fresh spawned process)."""
    args = parse_args(argv)
    import torch

    from pytest_albench.engine.device import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    libs, unavailable = _print_header(args, device)
    bench = _Benchmark(args, device, unavailable, runner)
    started = time.perf_counter()
    _run_sizes(args, device, bench)
    print(f"\ntotal benchmark time: {time.perf_counter() - started:.1f} s; at the end: {load_line()}")
    if len(bench.reports) > 1:
        print("\nScaling: median time of one query per strategy and side")
        headers, rows_ = scaling_rows(bench.reports, bench.libraries)
        print_table(headers, rows_, args.markdown)
    for msg in bench.overlap_warnings:
        print(msg)
    if args.json:
        _write_json(args.json, argv, device, libs, bench)
    return 0
