"""Cost of ONE active-learning query per registered strategy: median time and peak extra memory.

Why this script exists: the AL loop records ``query_time_s`` per cycle, but those numbers mix
strategies, datasets and machines. Here every strategy is measured on the same pool with the same
fitted head, so "is strategy X affordable at N = 10,000?" and "does BADGE stay under 1 GiB at
N = 50,000 × d = 1,024?" get one reproducible answer per machine.

What is timed is exactly what one AL cycle pays for a query (see ``run_active_learning``): building
``QueryInputs``, computing the strategy's declared needs from the head (``proba`` / ``hidden`` /
``sampled_proba`` / ``head``, i.e. the head's forward passes over the pool, done by the loop's own
``_fill_needs``) and the strategy call with its checks (``query``). Fitting the head is training,
not querying, and is not timed.

Memory is the peak *extra* memory of one query: on CPU the peak resident set size during the call
(a thread sampling ``/proc/self/statm`` every ``--sample-ms``, cross-checked with ``ru_maxrss``)
minus the RSS just before it, after freed heap pages were handed back with ``malloc_trim``; on CUDA ``torch.cuda.max_memory_allocated`` minus the memory allocated
before. Every (strategy, setting) runs in a fresh spawned process, so one strategy's freed-but-kept
heap cannot hide the next one's peak and the pool built for one setting does not linger. On CPU the
sampling thread runs only during the warm-up call (the first query of the fresh process, whose peak
no earlier call can have pre-allocated); the timed calls run without it, so it never competes with
torch's thread pool for a core, and contribute to the peak only through ``ru_maxrss``.

Strategies that cache work in ``inputs.memo`` (ProbCover's ball graph) are reported twice: a first
call with an empty memo (what cycle 1 pays) and a call with the memo already filled (what every
later cycle of the same run pays).

Run ``python benchmarks/perf/strategy_cost.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import cProfile
import ctypes
import dataclasses
import gc
import io
import itertools
import multiprocessing
import os
import platform
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The repository root (this file is benchmarks/perf/strategy_cost.py).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Where the offline data folders live next to the repository, when they exist.
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
MIB = 2**20

#: Short explanations shown in the notes column, for the strategies whose cost has a known cause.
STRATEGY_NOTES: dict[str, str] = {
    "bald": "sampled_proba = {n_samples} diagonal-Laplace posterior draws of the logistic head (timed)",
    "badge": "gradient embeddings never built (closed-form distances)",
    "alfamix": "mixes classified from mixed logits, largest α only (affine head) + k-means on the candidates",
    "dropquery": "own dropout forward passes + k-means",
    "coreset": "greedy k-center over the pool",
    "typiclust": "k-means + in-cluster kNN",
    "probcover": "ball graph built on first call, kept in inputs.memo and reused across cycles",
}


# --------------------------------------------------------------------------------------------------
# What a measurement is
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSpec:
    """How a worker builds its pool: from an ``.npz`` written by the parent, or synthetic Gaussians.

    Real embeddings are prepared once in the parent (loading the encoder is slow and memory-heavy)
    and handed over as a file; synthetic pools are generated inside the worker from the seed so a
    50,000 × 1,024 matrix is never pickled between processes.
    """

    label: str
    n: int
    d: int
    n_classes: int
    per_class: int
    seed: int
    path: str | None = None
    class_spread: float = 1.0


@dataclass(frozen=True)
class Task:
    """One (strategy, setting) measurement, run in its own process."""

    strategy: str
    pool: PoolSpec
    batch: int
    repeats: int
    device: str
    slow_seconds: float
    n_samples: int
    seed: int
    sample_ms: float
    threads: int | None
    profile: bool = False
    profile_only: bool = False


@dataclass
class Row:
    """One line of the result table (a memo strategy yields two: first call and memo reused)."""

    strategy: str
    data: str
    n: int
    d: int
    n_classes: int
    batch: int
    device: str
    times_ms: list[float]
    warmup_ms: float
    peak_extra_mib: float
    repeats: int
    notes: list[str] = field(default_factory=list)
    load_avg_1min: float = 0.0

    @property
    def median_ms(self) -> float:
        return float(statistics.median(self.times_ms))


@dataclass
class WorkerResult:
    """What a worker sends back: its rows and, when asked, a cProfile listing of one query."""

    rows: list[Row]
    profile_text: str = ""


# --------------------------------------------------------------------------------------------------
# Machine description
# --------------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (falls back to platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines(device: str) -> list[str]:
    """Lines describing the machine, printed first because every number below depends on it."""
    import torch

    lines = [
        f"CPU: {cpu_model()} | logical cores: {os.cpu_count()} | "
        f"usable by this process: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}",
        f"torch {torch.__version__} | intra-op threads: {torch.get_num_threads()} | "
        f"numpy {np.__version__} | Python {platform.python_version()} | {platform.system()} {platform.release()}",
    ]
    mem = _meminfo_total()
    if mem:
        lines.append(f"RAM: {mem / 2**30:.1f} GiB")
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        lines.append(f"GPU: {props.name}, {props.total_memory / 2**30:.1f} GiB, CUDA {torch.version.cuda}")
    lines.append(f"device for queries: {device} | {load_line()}")
    return lines


def load_line() -> str:
    """The 1/5/15-minute load average: on a shared machine it says how much the timings were squeezed."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average: unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def _meminfo_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


# --------------------------------------------------------------------------------------------------
# Pools
# --------------------------------------------------------------------------------------------------


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


def prepare_real_pool(
    dataset: str, encoder: str, data_dir: Path, n: int, cache_dir: str | None, device: str, seed: int, out: Path
) -> tuple[int, int, int]:
    """Save a pool of ``n`` rows of ``embedded_splits`` (the test split is not used here).

    The pool is subsampled with a seeded generator because banking77's files are grouped by class.
    Returns (rows, dim, classes) of the saved pool.
    """
    splits = embedded_splits(dataset, encoder, data_dir, cache_dir, device)
    x, y = splits.x_pool, splits.y_pool
    if x.shape[0] > n:
        keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], n, replace=False))
        x, y = x[keep], y[keep]
    np.savez(out, x=x, y=y, n_classes=np.int64(splits.n_classes))
    return int(x.shape[0]), int(x.shape[1]), splits.n_classes


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


def load_pool(spec: PoolSpec) -> tuple[np.ndarray, np.ndarray, int]:
    """The pool arrays a worker measures on (x float32 (N, d), y int64 (N,), number of classes)."""
    if spec.path is not None:
        with np.load(spec.path) as data:
            return data["x"], data["y"], int(data["n_classes"])
    x, y = gaussian_pool(spec.n, spec.d, spec.n_classes, spec.seed, spec.class_spread)
    return x, y, spec.n_classes


def labeled_per_class(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` random indices of each class (all of a class if it has fewer), sorted."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picks.append(rng.choice(members, min(per_class, members.size), replace=False))
    return np.sort(np.concatenate(picks))


# --------------------------------------------------------------------------------------------------
# Memory probes
# --------------------------------------------------------------------------------------------------


def _rss_bytes(fd: int) -> int:
    """Current resident set size from /proc/self/statm (second field, in pages)."""
    os.lseek(fd, 0, os.SEEK_SET)
    return int(os.read(fd, 128).split()[1]) * resource.getpagesize()


_LIBC: Any = None


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``) before a measurement.

    Without this, memory freed by the warm-up call stays resident and the next call re-uses it
    without raising RSS, so a later call (e.g. ProbCover with its memo filled) would look free.
    A no-op where glibc is not the allocator.
    """
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6")
        _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        _LIBC = False


def _maxrss_bytes() -> int:
    """Lifetime peak RSS of this process (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakProbe:
    """Peak extra memory of the code inside ``with probe:``; read ``extra_bytes`` afterwards.

    On CPU a daemon thread samples RSS every ``interval_s`` (unless ``sample`` is False); torch
    kernels release the GIL, and pure-Python loops yield it every switch interval, so the sampler
    sees peaks lasting more than a few milliseconds. ``ru_maxrss`` then gives the exact peak whenever
    the call raised the process's lifetime peak (which it usually does in a fresh worker), catching
    spikes the sampler missed. Without sampling, only that ``ru_maxrss`` rise is reported (0 if none).
    """

    def __init__(self, device: str, interval_s: float, sample: bool = True) -> None:
        self.cuda = device.startswith("cuda")
        self.device = device
        self.interval_s = interval_s
        self.sample = sample
        self.extra_bytes = 0
        self._fd = -1
        self._stop = threading.Event()
        self._peak = 0
        self._thread: threading.Thread | None = None
        self._before = 0
        self._ru_before = 0

    def __enter__(self) -> PeakProbe:
        gc.collect()
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            self._before = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        release_free_heap()
        self._fd = os.open("/proc/self/statm", os.O_RDONLY)
        self._ru_before = _maxrss_bytes()
        self._before = self._peak = _rss_bytes(self._fd)
        if self.sample:
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, _rss_bytes(self._fd))

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            self.extra_bytes = max(0, torch.cuda.max_memory_allocated(self.device) - self._before)
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        peak = max(self._peak, _rss_bytes(self._fd)) if self.sample else self._before
        ru_after = _maxrss_bytes()
        if ru_after > self._ru_before:  # the lifetime peak was set during the call: exact value
            peak = max(peak, ru_after)
        os.close(self._fd)
        self.extra_bytes = max(0, peak - self._before)


# --------------------------------------------------------------------------------------------------
# The worker: one (strategy, setting) in a fresh process
# --------------------------------------------------------------------------------------------------


def _warm_torch(device: str) -> None:
    """Touch the kernels every strategy uses, so thread-pool and allocator start-up is not billed
    to whichever strategy happens to call them first."""
    import torch

    a = torch.randn(512, 256, device=device)
    p = torch.softmax(a @ a.T, dim=1)
    p.topk(5, dim=1)
    torch.cdist(a[:64], a).min()
    torch.multinomial(p[0], 1)
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def _nbytes(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by tensors and arrays reachable from ``obj`` (dicts, sequences, dataclasses)."""
    import torch

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(_nbytes(k, seen) + _nbytes(v, seen) for k, v in obj.items())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sum(_nbytes(v, seen) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(_nbytes(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    return 0


def run_task(task: Task) -> WorkerResult:
    """Build the pool and head, then time and probe the strategy's query (entry point of a worker)."""
    import torch

    from pytest_albench.engine.heads import make_head
    from pytest_albench.engine.loop import _fill_needs, feature_scale  # the loop's own need computation
    from pytest_albench.strategies import QueryInputs, get_strategy, query

    if task.threads:
        torch.set_num_threads(task.threads)
    device = task.device
    cuda = device.startswith("cuda")
    spec = get_strategy(task.strategy)
    _warm_torch(device)

    x_np, y_np, n_classes = load_pool(task.pool)
    scale = feature_scale(x_np)  # as the loop does, so distances and the head see the same scale
    x_pool = torch.from_numpy(np.ascontiguousarray(x_np, dtype=np.float32) * np.float32(scale)).to(device)
    del x_np
    y_pool = torch.from_numpy(y_np).to(device)
    idx = labeled_per_class(y_np, task.pool.per_class, task.seed)
    idx_t = torch.from_numpy(idx).to(device)
    labeled = torch.zeros(len(y_np), dtype=torch.bool, device=device)
    labeled[idx_t] = True
    known = torch.full_like(y_pool, -1)
    known[idx_t] = y_pool[idx_t]
    head = make_head("logistic", n_classes, task.seed)
    head.fit(x_pool[idx_t], y_pool[idx_t])

    calls = itertools.count()
    profile_text = ""

    def profiled(memo: dict[str, Any]) -> str:
        """A cProfile listing of one query: by own time (the hot kernel) and by cumulative time."""
        profiler = cProfile.Profile()
        profiler.enable()
        one_query(memo)
        profiler.disable()
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf).strip_dirs()
        stats.sort_stats("tottime").print_stats(12)
        stats.sort_stats("cumulative").print_stats(25)
        return buf.getvalue()

    def one_query(memo: dict[str, Any]) -> float:
        """One AL-cycle query, as ``run_active_learning`` does it; returns seconds."""
        rng = np.random.default_rng([task.seed, next(calls)])
        if cuda:
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        inputs = QueryInputs(x_pool, labeled.clone(), known.clone(), n_classes, memo=memo)
        _fill_needs(inputs, spec.needs, head, x_pool, task.n_samples, rng)
        query(spec, inputs, task.batch, rng)
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    def measure(memo_factory: Callable[[], dict[str, Any]]) -> tuple[float, list[float], int, int]:
        """Warm-up (memory sampled) then timed repeats (not sampled).

        Returns (warm-up s, repeat s, peak extra bytes, repeats done).
        """
        probe = PeakProbe(device, task.sample_ms / 1000.0)
        with probe:
            warm = one_query(memo_factory())
        peak = probe.extra_bytes
        repeats = 1 if warm > task.slow_seconds else task.repeats
        times = []
        for _ in range(repeats):
            probe = PeakProbe(device, task.sample_ms / 1000.0, sample=False)
            with probe:
                times.append(one_query(memo_factory()))
            peak = max(peak, probe.extra_bytes)
        return warm, times, peak, repeats

    if task.profile_only:  # no timing: the caller wants to know where one query spends its time
        return WorkerResult([], profiled({}))

    base_notes: list[str] = []
    if spec.needs:
        base_notes.append("needs " + "+".join(sorted(spec.needs)))
    if task.strategy in STRATEGY_NOTES:
        base_notes.append(STRATEGY_NOTES[task.strategy].format(n_samples=task.n_samples))

    def make_row(name: str, warm: float, times: list[float], peak: int, repeats: int, notes: list[str]) -> Row:
        if repeats < task.repeats:
            notes = [*notes, f"repeats cut to {repeats} (warm-up took {warm:.1f} s > {task.slow_seconds:g} s)"]
        return Row(
            name, task.pool.label, len(y_np), int(x_pool.shape[1]), n_classes, task.batch, device,
            [t * 1000.0 for t in times], warm * 1000.0, peak / MIB, repeats, notes, os.getloadavg()[0],
        )

    # First calls: a fresh memo each time, which is what cycle 1 of a run pays.
    memos: list[dict[str, Any]] = []

    def fresh_memo() -> dict[str, Any]:
        memos.append({})
        return memos[-1]

    warm, times, peak, repeats = measure(fresh_memo)
    last_memo = memos[-1]
    uses_memo = bool(last_memo)
    rows: list[Row] = []
    if not uses_memo:
        rows.append(make_row(task.strategy, warm, times, peak, repeats, base_notes))
    else:
        held = _nbytes(last_memo) / MIB
        rows.append(make_row(f"{task.strategy} (first call)", warm, times, peak, repeats,
                             [*base_notes, f"memo holds {held:.2f} MiB of tensors"]))
        memos.clear()
        warm, times, peak, repeats = measure(lambda: last_memo)
        rows.append(make_row(f"{task.strategy} (memo reused)", warm, times, peak, repeats,
                             ["later cycles: memo already filled; its size is not counted"]))

    if task.profile:
        profile_text = profiled(fresh_memo())
    return WorkerResult(rows, profile_text)


def run_in_fresh_process(task: Task) -> WorkerResult:
    """Run ``task`` in a newly spawned interpreter, so its memory baseline is clean (see module doc)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(run_task, task).result()


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def add_data_options(group: Any, synthetic: bool = True) -> None:
    """The pool options every script in benchmarks/perf shares: where the real pool comes from and,
    with ``synthetic``, the Gaussian fallback's switches and shape."""
    group.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR) if DEFAULT_DATA_DIR.is_dir() else None,
                       help="folder of offline datasets; ../shared/data next to the repo when present")
    group.add_argument("--dataset", default="banking77")
    group.add_argument("--encoder", default="minilm-l6")
    group.add_argument("--cache-dir", default=None, help="embedding cache (default: the project's)")
    if synthetic:
        group.add_argument("--synthetic", action="store_true", help="use synthetic embeddings even if data exists")
        group.add_argument("--require-real", action="store_true", help="fail instead of falling back to synthetic")
        group.add_argument("--dim", type=int, default=384, help="embedding width of a synthetic pool")
        group.add_argument("--classes", type=int, default=77, help="classes of a synthetic pool")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from pytest_albench.strategies import strategy_names

    names = strategy_names()
    p = argparse.ArgumentParser(
        description=(
            "Time ONE query (median of --repeats after a warm-up) and its peak extra memory for each "
            "registered strategy, on a 10k-point pool (banking77 + minilm-l6 when the data is there, "
            "else synthetic) and, for BADGE, a synthetic 50,000 x 1,024 pool."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--strategies", nargs="*", default=None, metavar="NAME",
                   help=f"strategies at the main setting; all registered when omitted, none when given "
                   f"without names ({', '.join(names)})")
    p.add_argument("--repeats", type=int, default=3, help="timed calls after one warm-up call")
    p.add_argument("--slow-seconds", type=float, default=10.0,
                   help="if the warm-up call takes longer, time only 1 call for that strategy")
    p.add_argument("--batch", type=int, default=100, help="query size")
    p.add_argument("--n", type=int, default=10_000, help="pool size of the main setting")
    p.add_argument("--per-class", type=int, default=10, help="labeled points per class before the query")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-samples", type=int, default=8, help="stochastic passes for sampled_proba (loop default)")
    add_data_options(p.add_argument_group("main-setting data"))
    large = p.add_argument_group("large synthetic setting (memory check)")
    large.add_argument("--large-strategies", nargs="*", default=["badge"], metavar="NAME",
                       help="strategies measured at the large setting; give none to skip it")
    large.add_argument("--large-n", type=int, default=50_000)
    large.add_argument("--large-dim", type=int, default=1024)
    large.add_argument("--memory-limit-mib", type=float, default=1024.0,
                       help="the large-setting peak must stay below this; exit status 1 otherwise")
    out = p.add_argument_group("output and probing")
    out.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    out.add_argument("--json", default=None, metavar="PATH", help="also write all raw timings here")
    out.add_argument("--profile", nargs="*", default=[], metavar="NAME",
                     help="print a cProfile listing of one extra main-setting query of these strategies "
                     "(not timed separately when they are not in --strategies)")
    out.add_argument("--sample-ms", type=float, default=1.0, help="RSS sampling interval on CPU")
    out.add_argument("--threads", type=int, default=None, help="torch intra-op threads in the workers")
    args = p.parse_args(argv)
    args.strategies = list(names) if args.strategies is None else args.strategies
    unknown = sorted(set(args.strategies) | set(args.large_strategies) | set(args.profile))
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
                n, d, c = prepare_real_pool(args.dataset, args.encoder, Path(args.data_dir), args.n,
                                            args.cache_dir, device, args.seed, path)
            except Exception as exc:  # noqa: BLE001 - any failure means: fall back, and say why
                if args.require_real:
                    raise
                reason = f"real data unavailable ({type(exc).__name__}: {exc})"
            else:
                label = f"{args.dataset}/{args.encoder}"
                yield (PoolSpec(label, n, d, c, args.per_class, args.seed, path=str(path)),
                       f"main pool: {label}, train+validation embeddings, {n} x {d}, {c} classes "
                       f"(prepared in {time.perf_counter() - t0:.1f} s, embedding cache used when warm)")
                return
        if args.require_real:
            raise SystemExit(f"--require-real: {reason}")
        spec = PoolSpec("synthetic", args.n, args.dim, args.classes, args.per_class, args.seed)
        yield spec, (f"main pool: SYNTHETIC class-clustered Gaussian embeddings {args.n} x {args.dim}, "
                     f"{args.classes} classes, because {reason}")


def print_table(rows: list[Row], markdown: bool) -> None:
    from tabulate import tabulate

    headers = ["strategy", "data", "N×d", "C", "batch", "median query (ms)", "runs",
               "peak extra (MiB)", "device", "notes"]
    table = [
        [r.strategy, r.data, f"{r.n}×{r.d}", r.n_classes, r.batch, f"{r.median_ms:,.1f}",
         f"1+{r.repeats}", f"{r.peak_extra_mib:,.1f}", r.device, "; ".join(r.notes)]
        for r in rows
    ]
    print(tabulate(table, headers=headers, tablefmt="github" if markdown else "simple",
                   disable_numparse=True))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from pytest_albench.engine.device import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    for line in machine_lines(device):
        print(line)
    if device == "cpu":
        print(f"memory: peak RSS increase during the query (sampled every {args.sample_ms:g} ms in the warm-up "
              "call, ru_maxrss in all calls), each strategy in a fresh spawned process")
    else:
        print("memory: torch.cuda.max_memory_allocated minus allocated before, each strategy in a fresh process")

    rows: list[Row] = []
    profiles: list[tuple[str, str]] = []
    started = time.perf_counter()

    def run(task: Task) -> None:
        t0 = time.perf_counter()
        print(f"  ... {task.strategy} on {task.pool.label} {task.pool.n}x{task.pool.d}", file=sys.stderr, flush=True)
        result = run_in_fresh_process(task)
        rows.extend(result.rows)
        if result.profile_text:
            profiles.append((task.strategy, result.profile_text))
        print(f"      done in {time.perf_counter() - t0:.1f} s; {load_line()}", file=sys.stderr, flush=True)

    def task_for(strategy: str, pool: PoolSpec, profile: bool = False, profile_only: bool = False) -> Task:
        return Task(strategy, pool, args.batch, args.repeats, device, args.slow_seconds, args.n_samples,
                    args.seed, args.sample_ms, args.threads, profile, profile_only)

    with main_pool(args, device) as (pool, source):
        print(source)
        for strategy in args.strategies:
            run(task_for(strategy, pool, profile=strategy in args.profile))
        for strategy in args.profile:
            if strategy not in args.strategies:
                run(task_for(strategy, pool, profile=True, profile_only=True))
    large_rows: list[Row] = []
    if args.large_strategies:
        large = PoolSpec("synthetic", args.large_n, args.large_dim, args.classes, args.per_class, args.seed)
        print(f"large pool: SYNTHETIC class-clustered Gaussian embeddings {args.large_n} x {args.large_dim}, "
              f"{args.classes} classes; fitted logistic head on {args.per_class} labeled points per class")
        for strategy in args.large_strategies:
            before = len(rows)
            run(task_for(strategy, large))
            large_rows.extend(rows[before:])
    print(f"total benchmark time: {time.perf_counter() - started:.1f} s; at the end: {load_line()}")
    print()
    print_table(rows, args.markdown)
    for strategy, text in profiles:
        print(f"\ncProfile of one {strategy} query (main setting):\n{text}")

    status = 0
    for r in large_rows:
        ok = r.peak_extra_mib < args.memory_limit_mib
        status |= 0 if ok else 1
        print(f"\nmemory check {r.strategy} at {r.n}×{r.d}: peak extra {r.peak_extra_mib:,.1f} MiB "
              f"{'<' if ok else '>='} {args.memory_limit_mib:g} MiB -> {'OK' if ok else 'EXCEEDED'}")
    if args.json:
        import json

        payload = {"machine": machine_lines(device), "argv": sys.argv[1:],
                   "rows": [dataclasses.asdict(r) | {"median_ms": r.median_ms} for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
