"""The worker: one strategy at one pool size, all sides, in a fresh spawned process.

Why a fresh process: its memory baseline is clean, so one measurement's freed-but-kept heap cannot
hide the next one's peak; the parent only writes the pool to a file and reads the result back.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from ..common.machine import warm_torch
from ..common.pools import labeled_per_class
from . import adapters as pa
from .al_runs import fit_logistic, run_al_per_side
from .ours import OursAdapter, peer_settings
from .overlap import diagnose_mismatch, selection_overlap
from .results import PeerTask, TaskResult
from .timing import measure_sides


def _thread_limits(threads: int | None) -> Any:
    """Cap numpy/scipy BLAS and OpenMP pools (the peers' compute) at ``threads`` for this process."""
    if not threads:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # only the environment variables set by the parent apply then
        return None
    return threadpool_limits(threads)


def _load_scaled_pool(pool_path: str) -> tuple[np.ndarray, np.ndarray, int, float]:
    """The pool the parent wrote, times the loop's ``feature_scale`` (one scalar, the same for every side)."""
    with np.load(pool_path) as data:
        x_raw, y, n_classes = data["x"], data["y"].astype(np.int64), int(data["n_classes"])
    missing = sorted(set(range(n_classes)) - set(np.unique(y).tolist()))
    if missing:
        raise ValueError(
            f"the pool of {len(y)} rows has no point of classes {missing[:10]}; "
            "use a larger size (every class needs a labeled point)"
        )
    x, scale = scale_pool(x_raw)
    return x, y, n_classes, scale


def scale_pool(x_raw: np.ndarray) -> tuple[np.ndarray, float]:
    """The pool as contiguous float32 times the loop's ``feature_scale``, and that scale."""
    from pytest_albench.engine.loop import feature_scale

    scale = feature_scale(x_raw)
    return np.ascontiguousarray(x_raw, dtype=np.float32) * np.float32(scale), scale  # as the loop does


def build_cycle(
    x: np.ndarray, y: np.ndarray, n_classes: int, scale: float, per_class: int, seed: int, batch: int, lr_max_iter: int
) -> tuple[pa.CycleInputs, str]:
    """The cycle every side is timed on: ``per_class`` seeded labels per class and the fitted
    scikit-learn head; also the head's convergence note."""
    labeled = np.zeros(len(y), dtype=bool)
    labeled[labeled_per_class(y, per_class, seed)] = True
    clf, lr_note = fit_logistic(x, labeled, y, lr_max_iter)
    return pa.CycleInputs(x, labeled, y, n_classes, clf, batch, scale), lr_note


def _make_adapters(task: PeerTask, base: pa.CycleInputs) -> dict[str, Any]:
    """Ours and every requested peer that has a counterpart, each bound to the shared classifier."""
    params = peer_settings(task.strategy, base.scale) if task.settings == "peer" else None
    adapters: dict[str, Any] = {
        "ours": OursAdapter(task.strategy, base.x, base.labels, task.device, task.n_samples, params)
    }
    for lib in task.libraries:
        spec = pa.PEER_SPECS.get(task.strategy, {}).get(lib)
        if spec is not None:
            adapters[lib] = pa.make_peer_adapter(spec, base.n_classes)
    for adapter in adapters.values():
        adapter.bind(base)
    return adapters


def _diagnose_deterministic(task: PeerTask, base: pa.CycleInputs, result: TaskResult) -> None:
    """For a deterministic strategy, explain every peer whose first-call picks differ from ours."""
    if task.strategy not in pa.DETERMINISTIC:
        return
    first = result.phases[0].sides
    ours = first.get("ours")
    for lib, m in first.items():
        if lib == "ours" or ours is None or m.error or ours.error:
            continue
        if selection_overlap(ours.selection, m.selection, task.batch) < 1.0:
            result.diagnostics.extend(diagnose_mismatch(task.strategy, lib, ours.selection, m.selection, base))


def run_peer_task(task: PeerTask) -> TaskResult:
    """Build the pool, the labeled set and the classifier; time every side alternately; AL runs."""
    import torch

    started = time.perf_counter()
    if task.threads:
        torch.set_num_threads(task.threads)
    limits = _thread_limits(task.threads)  # noqa: F841 - kept alive for the whole task
    warm_torch(task.device)

    x, y, n_classes, scale = _load_scaled_pool(task.pool_path)
    base, lr_note = build_cycle(x, y, n_classes, scale, task.per_class, task.seed, task.batch, task.lr_max_iter)
    result = TaskResult(task.strategy, len(y), x.shape[1], n_classes, [], notes=[lr_note], settings=task.settings)
    adapters = _make_adapters(task, base)
    measure_sides(task, adapters, base, result)
    _diagnose_deterministic(task, base, result)
    if task.al_cycles > 0 and task.test_path and task.strategy not in pa.DETERMINISTIC:
        run_al_per_side(task, task.test_path, adapters, base, result)
    result.elapsed_s = time.perf_counter() - started
    return result


def run_in_fresh_process(task: PeerTask) -> TaskResult:
    """Run ``task`` in a newly spawned interpreter, so its memory baseline is clean."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(run_peer_task, task).result()


def set_thread_env(threads: int | None) -> None:
    """Thread caps read by BLAS/OpenMP when a worker starts (threadpoolctl enforces them too)."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            os.environ[var] = str(threads)
