"""The worker of ``strategy_cost``: one (strategy, setting) timed and probed in a fresh process.

Why a fresh process per measurement: one strategy's freed-but-kept heap must not hide the next one's
peak, and the pool built for one setting must not linger into the next (see the package doc).
"""

from __future__ import annotations

import cProfile
import gc
import io
import itertools
import multiprocessing
import os
import pstats
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..common.machine import warm_torch
from ..common.memory import MIB, PeakProbe, nbytes
from ..common.pools import embedded_splits, gaussian_pool, labeled_per_class, resize_pool

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
    #: Scaling setting: the pool file at ``path`` is resized to ``n`` rows (seeded subsample, or
    #: tiled copies with jitter) and, when ``d`` differs from its width, projected to ``d`` columns.
    resize: bool = False


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
# Pools
# --------------------------------------------------------------------------------------------------


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


def load_pool(spec: PoolSpec) -> tuple[np.ndarray, np.ndarray, int]:
    """The pool arrays a worker measures on (x float32 (N, d), y int64 (N,), number of classes)."""
    if spec.path is not None:
        with np.load(spec.path) as data:
            x, y, n_classes = data["x"], data["y"], int(data["n_classes"])
        if spec.resize:
            x, y = scaled_real_pool(x, y, spec.n, spec.d, spec.seed)
        return x, y, n_classes
    x, y = gaussian_pool(spec.n, spec.d, spec.n_classes, spec.seed, spec.class_spread)
    return x, y, spec.n_classes


#: Jitter of tiled copies, as a fraction of the RMS coordinate (as the peer benchmark's default).
TILE_JITTER = 0.01


def scaled_real_pool(x: np.ndarray, y: np.ndarray, n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real embeddings at another size: ``n`` rows (subsample or jittered tiles), then ``d`` columns.

    Why a projection for the width: no local encoder is 1,024 wide. A seeded Gaussian map
    (d_in × d, scaled by 1/√d) keeps the pool's geometry up to a small distortion
    (Johnson–Lindenstrauss), so clustering, distances and the head see a real pool's structure at
    the wider shape; its rank stays d_in, which no strategy's cost depends on.
    """
    x, y, _ = resize_pool(x, y, n, seed, TILE_JITTER)
    if d != x.shape[1]:
        rng = np.random.default_rng([seed, d])
        projection = rng.standard_normal((x.shape[1], d), dtype=np.float32) / np.float32(np.sqrt(d))
        x = x @ projection
    return np.ascontiguousarray(x, dtype=np.float32), y


# --------------------------------------------------------------------------------------------------
# The worker: one (strategy, setting) in a fresh process
# --------------------------------------------------------------------------------------------------


class QueryBench:
    """The pool, labeled set and fitted logistic head of one task, and one timed query on them.

    Why a class: every call must share one call counter (each query's generator is seeded with
    ``[seed, call number]``, profiled calls included), and the setup is paid once, untimed.
    """

    def __init__(self, task: Task) -> None:
        import torch

        from pytest_albench.engine.device import cap_threads
        from pytest_albench.engine.heads import make_head
        from pytest_albench.engine.loop import feature_scale, fill_needs  # the loop's own need computation
        from pytest_albench.strategies import QueryInputs, get_strategy, query

        if task.threads:  # torch's pool and numpy's BLAS pool, which runs our CPU products (strategies.blas)
            cap_threads(task.threads)
        self.task = task
        self.device = device = task.device
        self.cuda = device.startswith("cuda")
        self.spec = get_strategy(task.strategy)
        warm_torch(device)

        x_np, y_np, n_classes = load_pool(task.pool)
        scale = feature_scale(x_np)  # as the loop does, so distances and the head see the same scale
        self.x_pool = torch.from_numpy(np.ascontiguousarray(x_np, dtype=np.float32) * np.float32(scale)).to(device)
        del x_np
        y_pool = torch.from_numpy(y_np).to(device)
        idx = labeled_per_class(y_np, task.pool.per_class, task.seed)
        idx_t = torch.from_numpy(idx).to(device)
        self.labeled = torch.zeros(len(y_np), dtype=torch.bool, device=device)
        self.labeled[idx_t] = True
        self.known = torch.full_like(y_pool, -1)
        self.known[idx_t] = y_pool[idx_t]
        self.head = make_head("logistic", n_classes, task.seed)
        self.head.fit(self.x_pool[idx_t], y_pool[idx_t])
        self.n, self.n_classes = len(y_np), n_classes
        self._torch, self._inputs, self._fill_needs, self._query = torch, QueryInputs, fill_needs, query
        self._calls = itertools.count()

    def one_query(self, memo: dict[str, Any]) -> float:
        """One AL-cycle query, as ``run_active_learning`` does it; returns seconds."""
        task, device = self.task, self.device
        rng = np.random.default_rng([task.seed, next(self._calls)])
        if self.cuda:
            self._torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        inputs = self._inputs(self.x_pool, self.labeled.clone(), self.known.clone(), self.n_classes, memo=memo)
        self._fill_needs(inputs, self.spec.needs, self.head, self.x_pool, task.n_samples, rng)
        self._query(self.spec, inputs, task.batch, rng)
        if self.cuda:
            self._torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    def profiled(self, memo: dict[str, Any]) -> str:
        """A cProfile listing of one query: by own time (the hot kernel) and by cumulative time."""
        profiler = cProfile.Profile()
        profiler.enable()
        self.one_query(memo)
        profiler.disable()
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf).strip_dirs()
        stats.sort_stats("tottime").print_stats(12)
        stats.sort_stats("cumulative").print_stats(25)
        return buf.getvalue()

    def measure(self, memo_factory: Callable[[], dict[str, Any]]) -> tuple[float, list[float], int, int]:
        """Warm-up (memory probed) then timed repeats (not probed).

        Memory comes from the warm-up call, the only one with ``malloc_trim`` before it: trimming
        before a timed call would make that call fault its pages in again, a cost an AL loop does
        not pay. ``gc.collect()`` runs before each timed call, outside the timer.

        Returns (warm-up s, repeat s, peak extra bytes, repeats done).
        """
        task = self.task
        probe = PeakProbe(self.device, task.sample_ms / 1000.0)
        with probe:
            warm = self.one_query(memo_factory())
        repeats = 1 if warm > task.slow_seconds else task.repeats
        times = []
        for _ in range(repeats):
            memo = memo_factory()
            gc.collect()
            times.append(self.one_query(memo))
        return warm, times, probe.extra_bytes, repeats

    def make_row(self, name: str, warm: float, times: list[float], peak: int, repeats: int, notes: list[str]) -> Row:
        task = self.task
        if repeats < task.repeats:
            notes = [*notes, f"repeats cut to {repeats} (warm-up took {warm:.1f} s > {task.slow_seconds:g} s)"]
        return Row(
            name,
            task.pool.label,
            self.n,
            int(self.x_pool.shape[1]),
            self.n_classes,
            task.batch,
            self.device,
            [t * 1000.0 for t in times],
            warm * 1000.0,
            peak / MIB,
            repeats,
            notes,
            os.getloadavg()[0],
        )


def _base_notes(task: Task, needs: frozenset[str]) -> list[str]:
    """The notes every row of a strategy carries: its declared needs and the known cause of its cost."""
    notes: list[str] = []
    if needs:
        notes.append("needs " + "+".join(sorted(needs)))
    if task.strategy in STRATEGY_NOTES:
        notes.append(STRATEGY_NOTES[task.strategy].format(n_samples=task.n_samples))
    return notes


def run_task(task: Task) -> WorkerResult:
    """Build the pool and head, then time and probe the strategy's query (entry point of a worker).

    A strategy that leaves something in its memo gets two rows: first calls with a fresh memo each
    (what cycle 1 pays), then calls with the last memo already filled (what every later cycle pays).
    """
    bench = QueryBench(task)
    if task.profile_only:  # no timing: the caller wants to know where one query spends its time
        return WorkerResult([], bench.profiled({}))
    base_notes = _base_notes(task, bench.spec.needs)
    memos: list[dict[str, Any]] = []

    def fresh_memo() -> dict[str, Any]:
        memos.append({})
        return memos[-1]

    warm, times, peak, repeats = bench.measure(fresh_memo)
    last_memo = memos[-1]
    rows: list[Row] = []
    if not last_memo:
        rows.append(bench.make_row(task.strategy, warm, times, peak, repeats, base_notes))
    else:
        held = nbytes(last_memo) / MIB
        rows.append(
            bench.make_row(
                f"{task.strategy} (first call)",
                warm,
                times,
                peak,
                repeats,
                [*base_notes, f"memo holds {held:.2f} MiB of tensors"],
            )
        )
        memos.clear()
        warm, times, peak, repeats = bench.measure(lambda: last_memo)
        rows.append(
            bench.make_row(
                f"{task.strategy} (memo reused)",
                warm,
                times,
                peak,
                repeats,
                ["later cycles: memo already filled; its size is not counted"],
            )
        )
    profile_text = bench.profiled(fresh_memo()) if task.profile else ""
    return WorkerResult(rows, profile_text)


def run_in_fresh_process(task: Task) -> WorkerResult:
    """Run ``task`` in a newly spawned interpreter, so its memory baseline is clean (see module doc)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(run_task, task).result()
