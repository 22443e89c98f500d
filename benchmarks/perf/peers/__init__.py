"""Our query strategies side by side with scikit-activeml and small-text: time, memory, selections.

Why this script exists: "our BADGE is N times faster than the reference" is only worth something if
both sides answer the same question on the same data. So every side here gets the same pool matrix,
the same labeled set and the same fitted scikit-learn ``LogisticRegression``, and we check that
strategies which are deterministic given those (least confidence, margin, entropy, CoreSet) pick
the *same* 100 points before comparing their cost. Randomised strategies cannot agree point by point,
so for them a short AL run per side compares what matters instead: the learning curve.

Setting (built from the project's own layers, reusing ``strategy_cost.py``'s machinery): banking77
train + validation embedded with ``minilm-l6`` through ``load_dataset`` / ``embed_dataset`` (all
10,003 rows), multiplied by the loop's ``feature_scale`` (one scalar; applied to *all* sides, so the
logistic regression is the one our loop would fit), 10 labeled points per class (seeded, the
``strategy_cost.labeled_per_class`` draw), a query of 100, and one scikit-learn
``LogisticRegression`` (lbfgs, C = 1) fitted on the labeled set and never refitted by a query.

What is timed per side (one call = one AL cycle's query, as a user of that library pays it):

- **ours**: building ``QueryInputs``, the loop's ``_fill_needs`` (our ``LogisticHead`` holding the
  scikit-learn weights: the forward pass over the pool for ``proba`` / ``hidden``) and ``query()``;
- **scikit-activeml**: building ``y`` with ``np.nan`` for unlabeled points and
  ``strategy.query(X, y, clf=..., fit_clf=False, batch_size=100)`` — its ``predict_proba`` included;
- **small-text**: building ``y`` and the ``SklearnDataset`` and
  ``strategy.query(clf, dataset, indices_unlabeled, indices_labeled, y, n=100)`` — its
  ``predict_proba`` / ``embed`` included.

Wrapping the fitted estimator (and loading its weights into our head) is done once per fitted
classifier, untimed, as a loop would do it after training.

Sides run alternately in one fresh process per (strategy, pool size): warm-up of every side, then
``--repeats`` rounds of one call per side, so load drift on a shared machine hits all sides alike.
Peak extra memory is ``strategy_cost.PeakProbe`` (RSS sampled during the warm-up, ``ru_maxrss``
always; CUDA allocator peak for our side on a GPU). Peers are CPU-only.

Run ``python benchmarks/perf/peers.py --help`` for the options; the README's "Peer benchmark"
section has the measured command.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # run as a script or imported from tests: the sibling modules
    sys.path.insert(0, str(_HERE))

import peer_adapters as pa  # noqa: E402
import strategy_cost as sc  # noqa: E402

MIB = sc.MIB
GIB = 2**30
#: A requested size within this fraction of the prepared pool's rows means "the whole pool", so
#: ``--sizes 10000`` measures all 10,003 banking77 rows instead of dropping three.
FULL_POOL_TOLERANCE = 0.01
#: Offset of the call seeds of the "memo reused" phase and of the AL runs, so they never coincide
#: with the first-call seeds.
MEMO_SEED_OFFSET = 100
AL_SEED_OFFSET = 1000
SIDE_ORDER = ("ours", "skactiveml", "small-text")
SIDE_TITLES = {"ours": "ours", "skactiveml": "scikit-activeml", "small-text": "small-text"}


# --------------------------------------------------------------------------------------------------
# Pool sizes: subsample, full pool, or tiling with jitter
# --------------------------------------------------------------------------------------------------


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
    return xt, yt, (f"{rows} rows tiled {math.ceil(n / rows)}x with seeded Gaussian jitter "
                    f"(σ = {jitter:g} × RMS coordinate; copy 0 exact, copies add no exact duplicates), first {n} rows")


# --------------------------------------------------------------------------------------------------
# Pure bookkeeping: overlaps, skip rule
# --------------------------------------------------------------------------------------------------


def selection_overlap(ours: Sequence[int], peer: Sequence[int], batch: int) -> float:
    """|ours ∩ peer| / batch: 1.0 when both picked the same points, in any order."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    return len(set(int(i) for i in ours) & set(int(i) for i in peer)) / batch


@dataclass(frozen=True)
class Cost:
    """What one side cost at one size: measured, or extrapolated when it was skipped there (an
    estimate may lack the time, when only the a-priori memory bound skipped it)."""

    n: int
    time_s: float | None
    peak_bytes: float | None
    measured: bool = True


@dataclass(frozen=True)
class SkipDecision:
    """Whether to run a peer at a size, and the estimates that decided it."""

    run: bool
    reason: str = ""
    est_time_s: float | None = None
    est_bytes: float | None = None


def growth_word(exponent: int) -> str:
    return {1: "linear", 2: "quadratic"}.get(exponent, f"N^{exponent}")


def decide_peer(spec: pa.PeerSpec, n: int, d: int, c: int, previous: Cost | None,
                cap_s: float, cap_bytes: float) -> SkipDecision:
    """Skip a peer at size ``n`` when its extrapolated time or memory exceeds the caps.

    Time and memory at the previous (smaller) size are scaled by (n / n_prev)^growth with the
    spec's exponents (linear or quadratic). With no previous size, only the spec's a-priori memory
    lower bound (arrays the peer is known to allocate) can skip it. Ours is never skipped.
    """
    est_s: float | None = None
    est_b: float | None = None
    basis = ""
    if previous is not None and n > previous.n:
        ratio = n / previous.n
        if previous.time_s is not None:
            est_s = previous.time_s * ratio**spec.time_growth
        if previous.peak_bytes is not None:
            est_b = previous.peak_bytes * ratio**spec.memory_growth
        basis = (f"{growth_word(spec.time_growth)} time / {growth_word(spec.memory_growth)} memory "
                 f"from N={previous.n}{'' if previous.measured else ' (itself estimated)'}")
    if spec.min_bytes is not None:
        prior = spec.min_bytes(n, d, c)
        if est_b is None or prior > est_b:
            est_b = prior
            basis = (basis + "; " if basis else "") + "memory: a-priori size of its arrays"
    if est_s is not None and est_s > cap_s:
        return SkipDecision(False, f"est. {est_s:,.3g} s > cap {cap_s:g} s ({basis})", est_s, est_b)
    if est_b is not None and est_b > cap_bytes:
        return SkipDecision(False, f"est. {est_b / GIB:,.1f} GiB > cap {cap_bytes / GIB:g} GiB ({basis})",
                            est_s, est_b)
    return SkipDecision(True, "", est_s, est_b)


def call_seed(seed: int, call: int) -> int:
    """The integer seed every side gets for call number ``call`` (ours: ``default_rng(seed)``)."""
    return int(np.random.default_rng([seed, call]).integers(2**31 - 1))


# --------------------------------------------------------------------------------------------------
# Our side
# --------------------------------------------------------------------------------------------------


class OursAdapter:
    """Our strategy, fed exactly as ``run_active_learning`` feeds it (see module doc).

    The head is our ``LogisticHead`` with the scikit-learn estimator's weights loaded (in the
    features' dtype, on the run's device), and ``_train`` set to the labeled set for strategies
    that refit it (``sampled_proba``).
    """

    library = "ours"

    def __init__(self, strategy: str, x: np.ndarray, labels: np.ndarray, device: str, n_samples: int) -> None:
        import torch

        from pytest_albench.engine.loop import _fill_needs
        from pytest_albench.strategies import QueryInputs, get_strategy, query

        self.spec = get_strategy(strategy)
        self.device = device
        self.cuda = device.startswith("cuda")
        self.n_samples = n_samples
        self._torch = torch
        self._fill_needs = _fill_needs
        self._inputs = QueryInputs
        self._query = query
        self.x = torch.from_numpy(x).to(device)  # shares memory with x on CPU
        self.y = torch.from_numpy(labels.astype(np.int64)).to(device)
        self.head: Any = None
        self.labeled: Any = None
        self.known: Any = None

    def new_state(self, cycle: pa.CycleInputs) -> dict[str, Any]:
        return {}

    def bind(self, cycle: pa.CycleInputs) -> None:
        from pytest_albench.engine.heads import LogisticHead

        torch = self._torch
        clf = cycle.clf
        if not np.array_equal(clf.classes_, np.arange(cycle.n_classes)):
            raise ValueError(f"the fitted classifier knows classes {clf.classes_.tolist()[:10]}..., "
                             f"expected 0..{cycle.n_classes - 1}; every class needs a labeled point")
        head = LogisticHead(n_classes=cycle.n_classes)
        # (d, C) as the transpose of the contiguous (C, d) coef_: the layout LogisticHead.fit stores
        head.weight = torch.tensor(clf.coef_, dtype=self.x.dtype, device=self.device).T
        head.bias = torch.tensor(clf.intercept_, dtype=self.x.dtype, device=self.device)
        idx = torch.from_numpy(np.flatnonzero(cycle.labeled)).to(self.device)
        head._train = (self.x[idx], self.y[idx])
        self.head = head
        self.labeled = torch.from_numpy(cycle.labeled.copy()).to(self.device)
        self.known = torch.where(self.labeled, self.y, torch.full_like(self.y, -1))

    def sync(self) -> None:
        if self.cuda:
            self._torch.cuda.synchronize(self.device)

    def select(self, state: dict[str, Any], cycle: pa.CycleInputs, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        inputs = self._inputs(self.x, self.labeled.clone(), self.known.clone(), cycle.n_classes, memo=state)
        self._fill_needs(inputs, self.spec.needs, self.head, self.x, self.n_samples, rng)
        picked = self._query(self.spec, inputs, cycle.batch, rng)
        self.sync()
        return np.asarray(picked, dtype=np.int64)

    def accuracy(self, x_test: Any, y_test: np.ndarray) -> float:
        pred = self.head.predict_proba(x_test).argmax(dim=1).cpu().numpy()
        return float((pred == y_test).mean())

    @staticmethod
    def memo_filled(state: dict[str, Any]) -> bool:
        return bool(state)

    @staticmethod
    def memo_bytes(state: dict[str, Any]) -> int:
        return sc._nbytes(state)


# --------------------------------------------------------------------------------------------------
# The worker: one strategy at one pool size, all sides, in a fresh process
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerTask:
    """One (strategy, pool size) measurement, run in its own process."""

    strategy: str
    pool_path: str
    test_path: str | None
    libraries: tuple[str, ...]
    batch: int
    per_class: int
    repeats: int
    device: str
    cap_s: float
    threads: int | None
    seed: int
    sample_ms: float
    n_samples: int
    lr_max_iter: int
    al_cycles: int = 0
    al_seeds: tuple[int, ...] = ()
    al_time_cap: float = 900.0


@dataclass
class SideMeasure:
    """One side's numbers in one phase."""

    side: str
    label: str
    times_ms: list[float] = field(default_factory=list)
    warmup_ms: float = 0.0
    peak_mib: float = 0.0
    runs: str = ""
    selection: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    memo_mib: float | None = None

    @property
    def median_ms(self) -> float | None:
        return float(np.median(self.times_ms)) if self.times_ms else None


@dataclass
class PhaseResult:
    """All sides of one phase: '' (no memo), 'first call' or 'memo reused'."""

    phase: str
    sides: dict[str, SideMeasure]


@dataclass
class TaskResult:
    """What a worker sends back."""

    strategy: str
    n: int
    d: int
    n_classes: int
    phases: list[PhaseResult]
    al: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    al_notes: dict[str, str] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def fit_logistic(x: np.ndarray, labeled: np.ndarray, labels: np.ndarray, max_iter: int) -> tuple[Any, str]:
    """scikit-learn's LogisticRegression (lbfgs, C = 1) on the labeled rows; returns it and a note
    when it stopped at ``max_iter`` (its weights would then depend on the iteration budget)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    idx = np.flatnonzero(labeled)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        clf = LogisticRegression(C=1.0, solver="lbfgs", max_iter=max_iter).fit(x[idx], labels[idx])
    stopped = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    iters = int(np.max(clf.n_iter_))
    note = f"LogisticRegression stopped at max_iter={max_iter} (not converged)" if stopped else ""
    return clf, note if note else f"LogisticRegression converged in {iters} lbfgs iterations"


def _thread_limits(threads: int | None) -> Any:
    """Cap numpy/scipy BLAS and OpenMP pools (the peers' compute) at ``threads`` for this process."""
    if not threads:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # only the environment variables set by the parent apply then
        return None
    return threadpool_limits(threads)


def run_peer_task(task: PeerTask) -> TaskResult:
    """Build the pool, the labeled set and the classifier; time every side alternately; AL runs."""
    import torch

    from pytest_albench.engine.loop import feature_scale

    started = time.perf_counter()
    if task.threads:
        torch.set_num_threads(task.threads)
    limits = _thread_limits(task.threads)  # noqa: F841 - kept alive for the whole task
    sc._warm_torch(task.device)

    with np.load(task.pool_path) as data:
        x_raw, y, n_classes = data["x"], data["y"].astype(np.int64), int(data["n_classes"])
    missing = sorted(set(range(n_classes)) - set(np.unique(y).tolist()))
    if missing:
        raise ValueError(f"the pool of {len(y)} rows has no point of classes {missing[:10]}; "
                         "use a larger size (every class needs a labeled point)")
    scale = feature_scale(x_raw)
    x = np.ascontiguousarray(x_raw, dtype=np.float32) * np.float32(scale)  # as the loop does
    del x_raw
    labeled = np.zeros(len(y), dtype=bool)
    labeled[sc.labeled_per_class(y, task.per_class, task.seed)] = True
    clf, lr_note = fit_logistic(x, labeled, y, task.lr_max_iter)
    base = pa.CycleInputs(x, labeled, y, n_classes, clf, task.batch, scale)
    result = TaskResult(task.strategy, len(y), x.shape[1], n_classes, [], notes=[lr_note])

    adapters: dict[str, Any] = {"ours": OursAdapter(task.strategy, x, y, task.device, task.n_samples)}
    for lib in task.libraries:
        spec = pa.PEER_SPECS.get(task.strategy, {}).get(lib)
        if spec is not None:
            adapters[lib] = pa.make_peer_adapter(spec, n_classes)
    for adapter in adapters.values():
        adapter.bind(base)

    measure_sides(task, adapters, base, result)
    if task.strategy in pa.DETERMINISTIC:
        first = result.phases[0].sides
        ours = first.get("ours")
        for lib, m in first.items():
            if lib == "ours" or ours is None or m.error or ours.error:
                continue
            if selection_overlap(ours.selection, m.selection, task.batch) < 1.0:
                result.diagnostics.extend(diagnose_mismatch(task.strategy, lib, ours.selection, m.selection, base))

    if task.al_cycles > 0 and task.test_path and task.strategy not in pa.DETERMINISTIC:
        with np.load(task.test_path) as data:
            x_test = np.ascontiguousarray(data["x"], dtype=np.float32) * np.float32(scale)
            y_test = data["y"].astype(np.int64)
        for side, adapter in adapters.items():
            if any(p.sides.get(side) is not None and p.sides[side].error for p in result.phases):
                result.al_notes[side] = "not run: its query failed above"
                continue
            per_seed = al_seconds_per_seed(result.phases, side, task.al_cycles)
            seeds = al_seeds_within(task.al_seeds, per_seed, task.al_time_cap)
            if not seeds:
                result.al_notes[side] = (f"skipped (est. {per_seed:,.0f} s per run > AL cap "
                                         f"{task.al_time_cap:g} s)")
                continue
            if len(seeds) < len(task.al_seeds):
                result.al_notes[side] = (f"{len(seeds)} of {len(task.al_seeds)} seeds (est. {per_seed:,.0f} s per "
                                         f"run, AL cap {task.al_time_cap:g} s)")
            try:
                result.al[side] = {s: run_al(adapter, base, x_test, y_test, task, s) for s in seeds}
            except Exception as exc:  # noqa: BLE001 - report, keep the other sides' curves
                result.al.pop(side, None)
                result.al_notes[side] = f"failed: {type(exc).__name__}: {exc}"
    result.elapsed_s = time.perf_counter() - started
    return result


def al_seconds_per_seed(phases: Sequence[PhaseResult], side: str, cycles: int) -> float:
    """Estimated query time of one AL run of ``side``: the first call, then memo-reused calls
    (when the strategy has a memo) or first calls again."""
    times = {p.phase: p.sides[side].median_ms for p in phases if side in p.sides and not p.sides[side].error}
    first = times.get("", times.get("first call")) or 0.0
    later = times.get("memo reused", first) or 0.0
    return (first + (cycles - 1) * later) / 1000.0


def al_seeds_within(seeds: Sequence[int], seconds_per_seed: float, cap_s: float) -> list[int]:
    """The leading seeds whose AL runs fit in ``cap_s`` seconds of estimated query time (maybe none)."""
    if seconds_per_seed <= 0:
        return list(seeds)
    return list(seeds[: max(0, int(cap_s // seconds_per_seed))])


def _call(adapter: Any, state: Any, cycle: pa.CycleInputs, seed: int, sample: bool,
          sample_ms: float) -> tuple[float, int, np.ndarray]:
    """One timed query of one side with its memory probe: (seconds, peak extra bytes, selection)."""
    device = adapter.device if isinstance(adapter, OursAdapter) else "cpu"
    probe = sc.PeakProbe(device, sample_ms / 1000.0, sample=sample)
    with probe:
        if isinstance(adapter, OursAdapter):
            adapter.sync()
        t0 = time.perf_counter()
        picked = adapter.select(state, cycle, seed)
        dt = time.perf_counter() - t0
    return dt, probe.extra_bytes, picked


def check_selection(picked: np.ndarray, labeled: np.ndarray, batch: int) -> str:
    """'' when ``picked`` is a valid query (batch distinct unlabeled indices), else what is wrong."""
    if picked.shape != (batch,):
        return f"returned {picked.size} indices, expected {batch}"
    if np.unique(picked).size != batch:
        return "returned duplicate indices"
    if picked.min() < 0 or picked.max() >= labeled.size:
        return "returned indices outside the pool"
    if labeled[picked].any():
        return "returned already-labeled indices"
    return ""


def measure_sides(task: PeerTask, adapters: dict[str, Any], cycle: pa.CycleInputs, result: TaskResult) -> None:
    """Warm-up of every side, then ``repeats`` rounds of one call per side; memo phase if any."""

    def label_of(side: str) -> str:
        return "ours" if side == "ours" else adapters[side].spec.display

    def run_phase(phase: str, states: dict[str, Any] | None, seed_base: int) -> dict[str, Any]:
        """Time one phase; ``states`` None: a fresh state per call (what cycle 1 pays)."""
        sides = {s: SideMeasure(s, label_of(s)) for s in adapters}
        last_state: dict[str, Any] = {}
        once: set[str] = set()
        for side, adapter in adapters.items():  # warm-up round, memory sampled
            state = adapter.new_state(cycle) if states is None else states[side]
            try:
                dt, peak, picked = _call(adapter, state, cycle, call_seed(task.seed, seed_base), True, task.sample_ms)
            except Exception as exc:  # noqa: BLE001 - one broken side must not hide the others
                sides[side].error = f"{type(exc).__name__}: {exc}"
                continue
            m = sides[side]
            m.warmup_ms, m.peak_mib, m.selection = dt * 1000.0, peak / MIB, picked.tolist()
            problem = check_selection(picked, cycle.labeled, cycle.batch)
            if problem:
                m.notes.append(f"INVALID QUERY: {problem}")
            last_state[side] = state
            if dt > task.cap_s:
                once.add(side)
                m.times_ms, m.runs = [dt * 1000.0], "1"
                m.notes.append(f"timed once: warm-up took {dt:,.1f} s > cap {task.cap_s:g} s")
        for r in range(task.repeats):
            for side, adapter in adapters.items():
                m = sides[side]
                if m.error or side in once:
                    continue
                state = adapter.new_state(cycle) if states is None else states[side]
                try:
                    dt, peak, _ = _call(adapter, state, cycle, call_seed(task.seed, seed_base + 1 + r), False,
                                        task.sample_ms)
                except Exception as exc:  # noqa: BLE001
                    m.error = f"{type(exc).__name__}: {exc}"
                    continue
                m.times_ms.append(dt * 1000.0)
                m.peak_mib = max(m.peak_mib, peak / MIB)
                last_state[side] = state
        for side, m in sides.items():
            if not m.error and side not in once:
                m.runs = f"1+{len(m.times_ms)}"
        result.phases.append(PhaseResult(phase, sides))
        return last_state

    last = run_phase("", None, 0)
    with_memo = {s: st for s, st in last.items() if adapters[s].memo_filled(st)}
    if not with_memo:
        return
    first = result.phases[-1]
    first.phase = "first call"
    for side, state in with_memo.items():
        first.sides[side].memo_mib = adapters[side].memo_bytes(state) / MIB
        delta = find_delta(state)
        if delta is not None:
            first.sides[side].notes.append(f"δ = {delta:.4g} (scaled units)")
    memo_adapters = {s: adapters[s] for s in with_memo}
    saved = adapters.copy()
    adapters.clear()
    adapters.update(memo_adapters)
    try:
        run_phase("memo reused", with_memo, MEMO_SEED_OFFSET)
    finally:
        adapters.clear()
        adapters.update(saved)


def find_delta(state: Any, depth: int = 0) -> float | None:
    """The ball radius a ProbCover memo holds (ours: a ``delta`` field somewhere in the memo;
    scikit-activeml: ``delta_max_`` on the strategy object), so the table can show whether both
    sides chose the same δ. None when there is none."""
    if depth > 3 or state is None:
        return None
    for attr in ("delta_max_", "delta"):
        value = getattr(state, attr, None)
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            return float(value)
    if isinstance(state, dict):
        children: Sequence[Any] = list(state.values())
    elif isinstance(state, (list, tuple)):
        children = state
    elif dataclasses.is_dataclass(state) and not isinstance(state, type):
        children = [getattr(state, f.name) for f in dataclasses.fields(state)]
    else:
        return None
    for child in children:
        found = find_delta(child, depth + 1)
        if found is not None:
            return found
    return None


def run_al(adapter: Any, base: pa.CycleInputs, x_test: np.ndarray, y_test: np.ndarray, task: PeerTask,
           seed: int) -> list[float]:
    """Test accuracy after 0..``al_cycles`` queries of ``adapter`` from the shared labeled set.

    Each cycle: the side queries ``batch`` points, they are labeled, a fresh scikit-learn
    LogisticRegression is fitted on all labeled points (for ours: and loaded into our head, which
    then predicts the test set, as our loop's evaluation would). The strategy's state (our memo,
    the peer's strategy object) persists across cycles, as in a real run.
    """
    labeled = base.labeled.copy()
    state = adapter.new_state(base)
    clf = base.clf
    x_test_side: Any = x_test
    if isinstance(adapter, OursAdapter):
        x_test_side = adapter._torch.from_numpy(x_test).to(adapter.device)

    def accuracy(cycle: pa.CycleInputs) -> float:
        if isinstance(adapter, OursAdapter):
            return adapter.accuracy(x_test_side, y_test)
        return float((cycle.clf.predict(x_test) == y_test).mean())

    cycle = dataclasses.replace(base, labeled=labeled.copy(), clf=clf)
    adapter.bind(cycle)
    accs = [accuracy(cycle)]
    for k in range(task.al_cycles):
        picked = adapter.select(state, cycle, call_seed(seed, AL_SEED_OFFSET + k))
        problem = check_selection(picked, labeled, task.batch)
        if problem:
            raise RuntimeError(f"cycle {k + 1}: {problem}")
        labeled[picked] = True
        clf, _ = fit_logistic(base.x, labeled, base.labels, task.lr_max_iter)
        cycle = dataclasses.replace(base, labeled=labeled.copy(), clf=clf)
        adapter.bind(cycle)
        accs.append(accuracy(cycle))
    adapter.bind(base)
    return accs


def aulc(accuracies: Sequence[float]) -> float:
    """Mean test accuracy over the cycles, the start included (equal query sizes: the normalised
    area under the learning curve up to the trapezoid's end-point weights)."""
    return float(np.mean(accuracies))


# --------------------------------------------------------------------------------------------------
# Why two deterministic selections differ
# --------------------------------------------------------------------------------------------------


def _float64_proba(cycle: pa.CycleInputs) -> np.ndarray:
    clf = cycle.clf
    z = cycle.x.astype(np.float64) @ clf.coef_.T.astype(np.float64) + clf.intercept_.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def diagnose_mismatch(strategy: str, lib: str, ours: Sequence[int], peer: Sequence[int],
                      cycle: pa.CycleInputs) -> list[str]:
    """Lines explaining where a deterministic strategy's selections part, computed in float64.

    Uncertainty: the exact (float64) rank and score of every point only one side picked, next to
    the scores at the batch boundary: ranks just around 100 with scores equal to ~1e-7 mean a
    float32 near-tie, anything else is a real disagreement. CoreSet: the first pick where the two
    sequences differ and both candidates' exact distance to the chosen set at that step.
    """
    only_ours = sorted(set(ours) - set(peer))
    only_peer = sorted(set(peer) - set(ours))
    head = (f"{strategy} vs {lib}: {len(only_ours)} of {cycle.batch} picks differ "
            f"(only ours: {only_ours[:8]}, only {lib}: {only_peer[:8]})")
    lines = [head]
    unl = np.flatnonzero(~cycle.labeled)
    if strategy in ("least_confidence", "margin", "entropy"):
        p = _float64_proba(cycle)[unl]
        if strategy == "least_confidence":
            score = -p.max(axis=1)  # larger = more uncertain
        elif strategy == "margin":
            top2 = np.sort(p, axis=1)[:, -2:]
            score = -(top2[:, 1] - top2[:, 0])
        else:
            score = -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1)
        order = np.argsort(-score, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        pos = {int(i): k for k, i in enumerate(unl)}
        b = cycle.batch
        lines.append(f"  float64 scores at the boundary: #{b} {score[order[b - 1]]:.9g}, #{b + 1} {score[order[b]]:.9g}")
        for who, pts in (("ours", only_ours), (lib, only_peer)):
            for i in pts[:5]:
                k = pos[int(i)]
                lines.append(f"  only {who}: point {i} float64 rank {rank[k] + 1}, score {score[k]:.9g}")
        p32 = cycle.clf.predict_proba(cycle.x[unl])
        lines.append(f"  max |p_float32 - p_float64| = {np.abs(p32 - p).max():.2e}")
    elif strategy == "coreset":
        x = cycle.x.astype(np.float64)
        seq_o, seq_p = list(ours), list(peer)
        step = next((k for k in range(min(len(seq_o), len(seq_p))) if seq_o[k] != seq_p[k]), None)
        if step is None:
            lines.append("  same picks in a different order")
        else:
            centres = np.concatenate([np.flatnonzero(cycle.labeled), np.asarray(seq_o[:step], dtype=np.int64)])
            for who, i in (("ours", seq_o[step]), (lib, seq_p[step])):
                dist = np.sqrt(((x[centres] - x[i]) ** 2).sum(axis=1)).min()
                lines.append(f"  first difference at pick {step + 1}: {who} picked {i}, exact distance to "
                             f"the chosen set {dist:.9g}")
    return lines


# --------------------------------------------------------------------------------------------------
# Running workers
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


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
            splits = sc.embedded_splits(args.dataset, args.encoder, Path(args.data_dir), args.cache_dir, device)
            x, y, c = splits.x_pool, splits.y_pool, splits.n_classes
            x_test, y_test = splits.x_test, splits.y_test
        except Exception as exc:  # noqa: BLE001 - any failure: fall back, and say why
            if args.require_real:
                raise
            reason = f"real data unavailable ({type(exc).__name__}: {exc})"
        else:
            label = f"{args.dataset}/{args.encoder}"
            return BaseData(x, y, c, x_test, y_test,
                            f"pool: {label}, train + validation embeddings, {x.shape[0]} x {x.shape[1]}, {c} "
                            f"classes; test split {x_test.shape[0]} rows (prepared in "
                            f"{time.perf_counter() - t0:.1f} s, embedding cache used when warm)", label)
    if args.require_real:
        raise SystemExit(f"--require-real: {reason}")
    n_test = max(args.synthetic_rows // 4, args.classes)
    xa, ya = sc.gaussian_pool(args.synthetic_rows + n_test, args.dim, args.classes, args.seed, 1.0)
    return BaseData(xa[: args.synthetic_rows], ya[: args.synthetic_rows], args.classes, xa[args.synthetic_rows:],
                    ya[args.synthetic_rows:],
                    f"pool: SYNTHETIC class-clustered Gaussian embeddings {args.synthetic_rows} x {args.dim}, "
                    f"{args.classes} classes, because {reason}", "synthetic")


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------


def _fmt_ms(v: float | None) -> str:
    return "–" if v is None else f"{v:,.1f}"


def _fmt_ratio(peer_ms: float | None, ours_ms: float | None) -> str:
    if peer_ms is None or not ours_ms:
        return "–"
    return f"{peer_ms / ours_ms:,.1f}×"


@dataclass
class SizeReport:
    """Everything measured at one pool size, for printing and JSON."""

    n: int
    how: str
    results: list[TaskResult] = field(default_factory=list)
    skipped: dict[tuple[str, str], SkipDecision] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def peer_cell(report: SizeReport, strategy: str, phase: PhaseResult, lib: str) -> tuple[str, str, str, list[str]]:
    """(time, memory, overlap, notes) cells of one peer in one row."""
    if lib not in pa.PEER_SPECS.get(strategy, {}):
        return "–", "–", "–", []
    if lib in report.unavailable:
        return "not installed", "–", "–", []
    decision = report.skipped.get((strategy, lib))
    if decision is not None and not decision.run:
        return "skipped (est. > cap)", "–", "–", [f"{SIDE_TITLES[lib]}: {decision.reason}"]
    m = phase.sides.get(lib)
    if m is None:
        return "– (no memo)" if phase.phase == "memo reused" else "–", "–", "–", []
    if m.error:
        return "error", "–", "–", [f"{SIDE_TITLES[lib]} error: {m.error}"]
    ours = phase.sides.get("ours")
    ov = "–"
    if ours is not None and not ours.error and m.selection:
        ov = f"{selection_overlap(ours.selection, m.selection, len(ours.selection)):.2f}"
    notes = [f"{SIDE_TITLES[lib]}: {n}" for n in m.notes]
    if m.memo_mib is not None:
        notes.append(f"{SIDE_TITLES[lib]} memo {m.memo_mib:,.1f} MiB")
    return _fmt_ms(m.median_ms), f"{m.peak_mib:,.1f}", ov, notes


def size_table_rows(report: SizeReport, libraries: Sequence[str]) -> list[list[str]]:
    rows = []
    for res in report.results:
        for phase in res.phases:
            name = res.strategy + (f" ({phase.phase})" if phase.phase else "")
            ours = phase.sides.get("ours")
            notes: list[str] = []
            if ours is None:
                ours_ms, ours_mem = "–", "–"
            elif ours.error:
                ours_ms, ours_mem = "error", "–"
                notes.append(f"ours error: {ours.error}")
            else:
                ours_ms, ours_mem = _fmt_ms(ours.median_ms), f"{ours.peak_mib:,.1f}"
                notes.extend(f"ours: {n}" for n in ours.notes)
                if ours.memo_mib is not None:
                    notes.append(f"ours memo {ours.memo_mib:,.2f} MiB")
            row = [name, ours_ms, ours_mem]
            peer_ms: list[float] = []
            for lib in libraries:
                t, mem, ov, more = peer_cell(report, res.strategy, phase, lib)
                row += [t, mem, ov]
                notes.extend(more)
                m = phase.sides.get(lib)
                if m is not None and not m.error and m.median_ms is not None:
                    peer_ms.append(m.median_ms)
            ours_median = ours.median_ms if ours is not None and not ours.error else None
            row.append(_fmt_ratio(min(peer_ms) if peer_ms else None, ours_median))
            if phase.phase == "memo reused":
                notes.insert(0, "later cycles: memo filled by an earlier call, its size not counted")
            row.append("; ".join(notes))
            rows.append(row)
    return rows


def size_table_headers(libraries: Sequence[str]) -> list[str]:
    headers = ["strategy", "ours (ms)", "ours peak (MiB)"]
    for lib in libraries:
        t = SIDE_TITLES[lib]
        headers += [f"{t} (ms)", f"{t} peak (MiB)", f"overlap {t}"]
    return headers + ["fastest peer / ours", "notes"]


def al_table(report: SizeReport, libraries: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """One row per randomised strategy: start accuracy, then per side the AULC mean over its seeds,
    each seed's AULC and the mean final accuracy (or why the side has no curve)."""
    headers = ["strategy", "start acc."] + [f"AULC {SIDE_TITLES[s]}" for s in ("ours", *libraries)]
    rows = []
    for res in report.results:
        if not res.al and not res.al_notes:
            continue
        start = next((c[0] for curves in res.al.values() for c in curves.values()), None)
        row = [res.strategy, "–" if start is None else f"{start:.4f}"]
        for side in ("ours", *libraries):
            curves = res.al.get(side)
            note = res.al_notes.get(side, "")
            decision = report.skipped.get((res.strategy, side))
            if curves:
                per = ", ".join(f"s{seed} {aulc(c):.4f}" for seed, c in curves.items())
                final = np.mean([c[-1] for c in curves.values()])
                cell = f"{np.mean([aulc(c) for c in curves.values()]):.4f} ({per}); final {final:.4f}"
                row.append(cell + (f"; {note}" if note else ""))
            elif note:
                row.append(note)
            elif side != "ours" and side not in pa.PEER_SPECS.get(res.strategy, {}):
                row.append("–")
            elif side in report.unavailable:
                row.append("not installed")
            elif decision is not None and not decision.run:
                row.append("skipped (est. > cap)")
            else:
                row.append("–")
        rows.append(row)
    return headers, rows


def scaling_rows(reports: Sequence[SizeReport], libraries: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    headers = ["strategy", "side"] + [f"N={r.n:,}" for r in reports]
    keys: list[tuple[str, str]] = []
    for r in reports:
        for res in r.results:
            for phase in res.phases:
                name = res.strategy + (f" ({phase.phase})" if phase.phase else "")
                for side in ("ours", *libraries):
                    if side != "ours" and side not in pa.PEER_SPECS.get(res.strategy, {}):
                        continue
                    if (name, side) not in keys:
                        keys.append((name, side))
    rows = []
    for name, side in keys:
        strategy = name.split(" (")[0]
        cells = []
        for r in reports:
            cell = "–"
            decision = r.skipped.get((strategy, side))
            if side in r.unavailable:
                cell = "not installed"
            elif decision is not None and not decision.run:
                cell = "skipped (est. > cap)"
            else:
                for res in r.results:
                    for phase in res.phases:
                        if res.strategy + (f" ({phase.phase})" if phase.phase else "") != name:
                            continue
                        m = phase.sides.get(side)
                        if m is not None:
                            cell = "error" if m.error else f"{_fmt_ms(m.median_ms)} ms"
            cells.append(cell)
        rows.append([name, SIDE_TITLES[side], *cells])
    return headers, rows


def print_table(headers: list[str], rows: list[list[str]], markdown: bool) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=headers, tablefmt="github" if markdown else "simple", disable_numparse=True))


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from pytest_albench.strategies import strategy_names

    names = strategy_names()
    p = argparse.ArgumentParser(
        description=("Time one query of our strategies and of their scikit-activeml / small-text counterparts on "
                     "the same pool, labeled set and fitted LogisticRegression (alternating calls, median of "
                     "--repeats after a warm-up), with peak extra memory, selection overlap and, for randomised "
                     "strategies, a short AL run per side."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--strategies", nargs="+", default=list(pa.DEFAULT_STRATEGIES), metavar="NAME",
                   help=f"our strategies (registered: {', '.join(names)}); those without a counterpart run "
                   "on our side only")
    p.add_argument("--peers", nargs="+", default=list(pa.PEER_LIBRARIES), choices=list(pa.PEER_LIBRARIES),
                   help="peer libraries to compare with")
    p.add_argument("--sizes", type=_size_list, default=["full"],
                   help="pool sizes N, comma-separated: below the pool a seeded subsample, within 1%% of it (or "
                   "'full') the whole pool, above it tiled copies with jitter; e.g. 2500,10000,40000")
    p.add_argument("--device", default="cpu", help="our side: auto, cpu, cuda or cuda:N (peers are CPU-only)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads and BLAS/OpenMP threads (threadpoolctl + env) in the workers; 0: library "
                   "defaults. 1 is the only meaningful choice on a shared machine (see README)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per side after one warm-up call")
    p.add_argument("--peer-time-cap", type=float, default=60.0, metavar="SECONDS",
                   help="a call whose warm-up exceeds this is timed once; at a larger N, a peer whose "
                   "extrapolated time exceeds it is skipped")
    p.add_argument("--peer-memory-cap-gib", type=float, default=8.0, metavar="GIB",
                   help="skip a peer whose extrapolated (or a-priori) peak memory exceeds this")
    p.add_argument("--batch", type=int, default=100, help="query size")
    p.add_argument("--per-class", type=int, default=10, help="labeled points per class before the query")
    p.add_argument("--seed", type=int, default=0, help="labeled set, subsample/tiling and call seeds")
    p.add_argument("--lr-max-iter", type=int, default=1000, help="max_iter of the LogisticRegression (lbfgs)")
    p.add_argument("--n-samples", type=int, default=8, help="sampled_proba passes (only strategies that need it)")
    al = p.add_argument_group("short AL runs (randomised strategies, at the whole-pool size only)")
    al.add_argument("--al-cycles", type=int, default=5, help="queries per AL run; 0 turns the AL runs off")
    al.add_argument("--al-seeds", type=_int_list, default=[0, 1], help="comma-separated seeds, one AL run each")
    al.add_argument("--al-time-cap", type=float, default=900.0, metavar="SECONDS",
                    help="per strategy and side: run only as many seeds as fit in this much estimated query "
                    "time (measured median × cycles); none if one run does not fit")
    data = p.add_argument_group("data")
    sc.add_data_options(data)
    data.add_argument("--synthetic-rows", type=int, default=10_000, help="rows of a synthetic pool")
    data.add_argument("--base-rows", type=int, default=None,
                      help="(testing) first subsample the pool to this many rows, so small --sizes above it "
                      "exercise the tiling path cheaply")
    data.add_argument("--tile-jitter", type=float, default=0.01,
                      help="std of the Gaussian jitter of tiled copies, as a fraction of the RMS coordinate")
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from pytest_albench.engine.device import resolve_device

    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    for line in sc.machine_lines(device):
        print(line)
    print(f"threads per worker: {args.threads or 'library defaults'} (torch intra-op; BLAS/OpenMP via "
          "threadpoolctl and OMP/MKL/OPENBLAS_NUM_THREADS). Peers always run on the CPU.")
    libs = pa.find_peer_libraries(list(args.peers))
    unavailable = {k: lib.problem for k, lib in libs.items() if not lib.available}
    for key, lib in libs.items():
        if lib.available:
            print(f"peer {pa.PEER_LIBRARIES[key][1]} {lib.version}" + (f" (WARNING: {lib.problem})" if lib.problem else ""))
        else:
            print(f"peer {pa.PEER_LIBRARIES[key][1]}: NOT AVAILABLE — {lib.problem}")
    if unavailable:
        print(f"Only our side is measured for missing peers. To compare: {pa.INSTALL_HINT}")
    libraries = list(args.peers)
    available = [k for k in libraries if k not in unavailable]
    print("counterparts: " + "; ".join(
        f"{s} → " + (", ".join(f"{SIDE_TITLES[lib]} {spec.display}" for lib, spec in pa.PEER_SPECS.get(s, {}).items()
                               if lib in libraries) or "none")
        for s in args.strategies))
    print(f"memory: peak RSS increase during a call (sampled every {args.sample_ms:g} ms in the warm-up, "
          "ru_maxrss in all calls); our side on CUDA: torch.cuda.max_memory_allocated. One fresh spawned process "
          "per (strategy, N); sides alternate inside it.")

    reports: list[SizeReport] = []
    history: dict[tuple[str, str], Cost] = {}
    overlap_warnings: list[str] = []
    started = time.perf_counter()
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
        if base.x_test is not None and args.al_cycles > 0:
            test_path = str(tmp / "test.npz")
            np.savez(test_path, x=base.x_test, y=base.y_test)
        print(f"sizes: {', '.join(f'{n:,}' for n in sizes)}; labeled: {args.per_class} per class; query {args.batch}; "
              f"features × feature_scale of each pool (same matrix for every side); LogisticRegression lbfgs C=1, "
              f"max_iter={args.lr_max_iter}")
        set_thread_env(args.threads)
        for n in sizes:
            xn, yn, how = resize_pool(x0, y0, n, args.seed, args.tile_jitter)
            pool_path = tmp / f"pool_{n}.npz"
            np.savez(pool_path, x=xn, y=yn, n_classes=np.int64(base.n_classes))
            report = SizeReport(n, how, unavailable=dict(unavailable))
            print(f"\n=== N = {n:,} × {xn.shape[1]}: {how}", flush=True)
            for strategy in args.strategies:
                run_libs = []
                for lib in available:
                    spec = pa.PEER_SPECS.get(strategy, {}).get(lib)
                    if spec is None:
                        continue
                    decision = decide_peer(spec, n, xn.shape[1], base.n_classes, history.get((strategy, lib)),
                                           args.peer_time_cap, args.peer_memory_cap_gib * GIB)
                    report.skipped[(strategy, lib)] = decision
                    if decision.run:
                        run_libs.append(lib)
                    else:
                        history[(strategy, lib)] = Cost(n, decision.est_time_s, decision.est_bytes, False)
                        print(f"  {strategy} / {SIDE_TITLES[lib]}: skipped at N={n:,}: {decision.reason}",
                              file=sys.stderr)
                task = PeerTask(strategy, str(pool_path), test_path if n == rows else None, tuple(run_libs),
                                args.batch, args.per_class, args.repeats, device, args.peer_time_cap, args.threads,
                                args.seed, args.sample_ms, args.n_samples, args.lr_max_iter,
                                args.al_cycles if n == rows else 0, tuple(args.al_seeds), args.al_time_cap)
                t0 = time.perf_counter()
                print(f"  ... {strategy} at N={n:,} (ours{''.join(' + ' + SIDE_TITLES[lib] for lib in run_libs)})",
                      file=sys.stderr, flush=True)
                result = run_in_fresh_process(task)
                print(f"      done in {time.perf_counter() - t0:.1f} s; {sc.load_line()}", file=sys.stderr, flush=True)
                report.results.append(result)
                for lib in run_libs:
                    ms = [p.sides[lib] for p in result.phases if lib in p.sides and not p.sides[lib].error]
                    if ms:
                        history[(strategy, lib)] = Cost(n, max((m.median_ms or 0.0) for m in ms) / 1000.0,
                                                        max(m.peak_mib for m in ms) * MIB)
                if strategy in pa.DETERMINISTIC:
                    first = result.phases[0].sides
                    for lib in run_libs:
                        m, ours = first.get(lib), first.get("ours")
                        if m is None or ours is None or m.error or ours.error:
                            continue
                        ov = selection_overlap(ours.selection, m.selection, args.batch)
                        if ov < 1.0:
                            msg = (f"!!! WARNING: {strategy} is deterministic but ours and {SIDE_TITLES[lib]} picked "
                                   f"different points at N={n:,}: overlap {ov:.2f} < 1.0")
                            overlap_warnings.append(msg)
                            print(msg, flush=True)
                for line in result.diagnostics:
                    print(line, flush=True)
            reports.append(report)
            lr_notes = sorted({res.notes[0] for res in report.results if res.notes})
            print(f"\nN = {n:,} ({how}); {'; '.join(lr_notes)}")
            print_table(size_table_headers(libraries), size_table_rows(report, libraries), args.markdown)
            headers, al_rows = al_table(report, libraries)
            if al_rows:
                print(f"\nShort AL runs at N = {n:,}: {args.al_cycles} cycle(s) × {args.batch} from the same "
                      f"{args.per_class}/class labeled set, a fresh LogisticRegression per cycle, test accuracy on "
                      f"{base.label} test; AULC = mean accuracy over the {args.al_cycles + 1} points (start "
                      f"included): mean (per seed); final = accuracy after the last cycle")
                print_table(headers, al_rows, args.markdown)
    print(f"\ntotal benchmark time: {time.perf_counter() - started:.1f} s; at the end: {sc.load_line()}")
    if len(reports) > 1:
        print("\nScaling: median time of one query per strategy and side")
        headers, rows_ = scaling_rows(reports, libraries)
        print_table(headers, rows_, args.markdown)
    for msg in overlap_warnings:
        print(msg)
    if args.json:
        import json

        payload = {
            "machine": sc.machine_lines(device), "argv": sys.argv[1:] if argv is None else list(argv),
            "peers": {k: dataclasses.asdict(v) for k, v in libs.items()},
            "sizes": [
                {"n": r.n, "how": r.how, "unavailable": r.unavailable,
                 "skipped": {f"{s}/{lib}": dataclasses.asdict(d) for (s, lib), d in r.skipped.items()},
                 "results": [dataclasses.asdict(res) for res in r.results]}
                for r in reports
            ],
            "overlap_warnings": overlap_warnings,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
