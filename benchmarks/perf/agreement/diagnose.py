"""Why a deterministic strategy's picks part from scikit-activeml's: the strategies, or the heads?

Why this exists: at the first cycle whose picks differ, both sides held the same labeled set, so the
difference comes from one of two places: the strategy implementations (ranking, tie-breaking, distance
arithmetic) or the two fitted heads (our torch L-BFGS and scikit-learn's lbfgs stop at a gradient
tolerance of 1e-4, not at the exact optimum). For each such (cell, seed) of a results file this
replays that cycle and answers both questions with numbers:

- **our strategy on the peer's head**: our strategy code fed scikit-learn's fitted weights; when it
  picks exactly what scikit-activeml picked, the strategies agree and the difference is the heads';
- **tight fits**: both heads refitted to a gradient tolerance of 1e-10; the largest class-probability
  difference between them shrinks from the protocol's ~1e-3 towards 0, and the picks then agree
  unless a score gap at the batch boundary is smaller still;
- the score gap at the batch boundary (B-th vs (B+1)-th score under the peer's head), to compare
  with the head difference.

Run ``python -m benchmarks.perf.agreement.diagnose RESULTS.json [...] --data-dir ../shared/data``.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..peers import adapters as pa
from ..peers.al_runs import fit_logistic
from ..peers.timing import call_seed
from .cells import PEER_MAX_ITER, PEER_SEED_OFFSET, Cell
from .sides import as_tensor, case_config, replay_heads
from .table import merge_entries

__all__ = ["TIGHT_TOL", "diagnose_entry", "main"]

#: Gradient tolerance of the tight refits (the protocol's is 1e-4), and their iteration cap.
TIGHT_TOL = 1e-10
TIGHT_MAX_ITER = 20000


def _padded_head(clf: Any, n_classes: int, dtype: Any) -> Any:
    """Our LogisticHead holding a scikit-learn estimator's weights; classes it never saw get
    probability 0, as scikit-activeml's classifier wrapper gives them."""
    import torch

    from pytest_albench.engine.heads import LogisticHead

    d = clf.coef_.shape[1]
    weight = np.zeros((n_classes, d))
    bias = np.full(n_classes, -1e4)
    weight[clf.classes_] = clf.coef_
    bias[clf.classes_] = clf.intercept_
    head = LogisticHead(n_classes=n_classes, feature_scaling="none")
    head.weight = torch.tensor(weight, dtype=dtype).T  # (d, C) over a contiguous (C, d), as fit stores it
    head.bias = torch.tensor(bias, dtype=dtype)
    return head


def _proba(head: Any, x: Any) -> np.ndarray:
    out: np.ndarray = head.predict_proba(x).double().numpy()
    return out


def _peer_proba(clf: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    p = np.zeros((x.shape[0], n_classes))
    p[:, clf.classes_] = clf.predict_proba(x)
    return p


def _ours_pick(
    strategy: str, head: Any, x: Any, y: Any, labeled: np.ndarray, n_classes: int, batch: int, seed: int
) -> set[int]:
    """Our strategy's picks with ``head`` fitted, fed as ``run_active_learning`` feeds it."""
    import torch

    from pytest_albench.engine.loop import fill_needs
    from pytest_albench.strategies import QueryInputs, get_strategy, query

    spec = get_strategy(strategy)
    mask = torch.from_numpy(labeled.copy())
    known = torch.where(mask, y, torch.full_like(y, -1))
    inputs = QueryInputs(x, mask.clone(), known, n_classes, memo={})
    rng = np.random.default_rng(seed)
    fill_needs(inputs, spec.needs, head, x, 8, rng)
    return {int(i) for i in query(spec, inputs, batch, rng)}


def _peer_pick(
    cell: Cell, clf: Any, x: np.ndarray, y: np.ndarray, labeled: np.ndarray, n_classes: int, batch: int, seed: int
) -> set[int]:
    """scikit-activeml's picks with the fitted ``clf``, called as the benchmark calls it."""
    adapter = pa.SkactivemlAdapter(pa.PEER_SPECS[cell.strategy]["skactiveml"], n_classes)
    inputs = pa.CycleInputs(x=x, labeled=labeled.copy(), labels=y, n_classes=n_classes, clf=clf, batch=batch)
    state = adapter.new_state(inputs)
    adapter.bind(inputs)
    return {int(i) for i in adapter.select(state, inputs, seed)}


def _tight_sklearn(x: np.ndarray, labeled: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    idx = np.flatnonzero(labeled)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a line search that cannot improve at 1e-10 only warns
        return LogisticRegression(C=1.0, tol=TIGHT_TOL, max_iter=TIGHT_MAX_ITER).fit(x[idx], y[idx])


def _boundary_gap(strategy: str, p: np.ndarray, labeled: np.ndarray, batch: int) -> float | None:
    """Score gap between the batch's last pick and the first point left out, under probabilities ``p``."""
    unl = p[~labeled]
    if strategy == "least_confidence":
        score = -unl.max(axis=1)
    elif strategy == "margin":
        top2 = np.sort(unl, axis=1)[:, -2:]
        score = -(top2[:, 1] - top2[:, 0])
    elif strategy == "entropy":
        score = -(unl * np.log(np.clip(unl, 1e-300, None))).sum(axis=1)
    else:
        return None
    s = np.sort(score)[::-1]
    return float(s[batch - 1] - s[batch])


def diagnose_entry(engine: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """Replay the first differing cycle of one (cell, seed) record (see the module doc)."""
    import torch

    from pytest_albench.engine.engine import run_experiment
    from pytest_albench.engine.heads import make_head

    cell = Cell(entry["dataset"], entry["embedding"], entry["strategy"])
    seed, t = int(entry["seed"]), int(entry["divergence"]["cycle"])
    settings = entry["settings"]
    config = case_config(cell, t, settings["query_size"], settings["max_pool"])
    problem = engine.problem_for(config)
    result = run_experiment(config, seed, engine)
    heads, _ = replay_heads(config, problem, result)
    x_np = np.ascontiguousarray(problem.x_pool, dtype=np.float32)
    y_np = problem.y_pool.astype(np.int64)
    x, y = as_tensor(x_np), torch.from_numpy(y_np)
    c, batch = problem.n_classes, len(result.cycles[t].selected)
    labeled = np.zeros(len(y_np), dtype=bool)
    for record in result.cycles[:t]:
        labeled[np.asarray(record.selected, dtype=np.int64)] = True
    ours = {int(i) for i in result.cycles[t].selected}
    clf, _ = fit_logistic(x_np, labeled, y_np, PEER_MAX_ITER)
    peer_seed = call_seed(seed, PEER_SEED_OFFSET + t)
    peer = _peer_pick(cell, clf, x_np, y_np, labeled, c, batch, peer_seed)
    on_peer_head = _ours_pick(cell.strategy, _padded_head(clf, c, x.dtype), x, y, labeled, c, batch, seed)
    p_ours, p_peer = _proba(heads[t - 1], x), _peer_proba(clf, x_np, c)
    tight_clf = _tight_sklearn(x_np, labeled, y_np)
    params = {**dict(config.head_params), "tol": TIGHT_TOL, "max_iter": TIGHT_MAX_ITER}
    tight_head = make_head(config.head, c, 0, **params)
    tight_head.warm_start_from(heads[t - 1])  # type: ignore[attr-defined]
    idx = torch.from_numpy(np.flatnonzero(labeled))
    tight_head.fit(x[idx], y[idx])
    tight_ours = _ours_pick(cell.strategy, tight_head, x, y, labeled, c, batch, seed)
    tight_peer = _peer_pick(cell, tight_clf, x_np, y_np, labeled, c, batch, peer_seed)
    return {
        "key": entry["key"],
        "cycle": t,
        "reproduced": len(ours & peer) == entry["overlap"][t - 1],
        "overlap": len(ours & peer),
        "batch": batch,
        "ours_on_peer_head_overlap": len(on_peer_head & peer),
        "max_dp": float(np.abs(p_ours - p_peer).max()),
        "max_dp_tight": float(np.abs(_proba(tight_head, x) - _peer_proba(tight_clf, x_np, c)).max()),
        "overlap_tight": len(tight_ours & tight_peer),
        "boundary_gap": _boundary_gap(cell.strategy, p_peer, labeled, batch),
    }


def probcover_delta(engine: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """ProbCover's δ on both sides of one (cell, seed): ours as the run chose it (k-means pseudo-labels,
    purity from ``DELTA_SAMPLE_ROWS`` sampled rows), ours from every row on the same pseudo-labels, and
    scikit-activeml's (from the record), with the purity of each grid radius on both sides' pseudo-labels.

    Our run's strategy stream is replayed: ProbCover needs no head output, so its first draw in cycle 1
    seeds the generator that k-means and the row sample use."""
    import torch
    from sklearn.cluster import KMeans

    from pytest_albench.engine.loop import make_streams
    from pytest_albench.strategies.kernels import kmeans, torch_generator
    from pytest_albench.strategies.probcover import (
        DELTA_SAMPLE_ROWS,
        KMEANS_RESTARTS,
        choose_delta,
        grid_radius,
        nearest_other_label,
        scan_distances,
    )

    cell = Cell(entry["dataset"], entry["embedding"], entry["strategy"])
    seed, settings = int(entry["seed"]), entry["settings"]
    config = case_config(cell, settings["cycles"], settings["query_size"], settings["max_pool"])
    problem = engine.problem_for(config)
    params = dict(config.strategy_params)
    grid, purity = tuple(params["delta_grid"]), float(params["purity"])
    x, c = as_tensor(problem.x_pool), problem.n_classes
    as_run = choose_delta(x, c, purity, None, torch_generator(make_streams(seed)["strategy"]), grid)
    gen = torch_generator(make_streams(seed)["strategy"])
    pseudo, _ = kmeans(x, c, gen, n_init=KMEANS_RESTARTS)
    sampled = None
    if x.shape[0] > DELTA_SAMPLE_ROWS:
        rows = torch.randperm(x.shape[0], generator=gen)[:DELTA_SAMPLE_ROWS].sort().values
        sampled = grid_radius(scan_distances(x, pseudo, None, rows)[0], purity, grid)
    other = nearest_other_label(x, pseudo)
    km = KMeans(n_clusters=c, random_state=call_seed(seed, PEER_SEED_OFFSET + 1))
    peer_other = nearest_other_label(x, torch.from_numpy(km.fit_predict(problem.x_pool)))
    return {
        "key": entry["key"],
        "ours_as_run": as_run,
        "ours_sampled_check": sampled,
        "ours_all_rows": grid_radius(other, purity, grid),
        "peer": entry["peer"].get("delta"),
        "peer_replayed": grid_radius(peer_other, purity, grid),
        "purity_ours": [round(float((other > d).double().mean()), 4) for d in grid],
        "purity_peer": [round(float((peer_other > d).double().mean()), 4) for d in grid],
    }


def render(rows: Sequence[dict[str, Any]]) -> str:
    """The diagnosis as a Markdown table."""
    head = (
        "| (cell, seed) | first differing cycle | shared picks | our strategy on the peer's head | "
        "max Δp heads | max Δp tight heads | shared picks, tight heads | boundary score gap |"
    )
    lines = [head, "| " + " | ".join(["---"] * 8) + " |"]
    for r in rows:
        b = r["batch"]
        gap = "—" if r["boundary_gap"] is None else f"{r['boundary_gap']:.1e}"
        shared = f"{r['overlap']}/{b}" + ("" if r["reproduced"] else " (not reproduced)")
        lines.append(
            f"| {r['key'].replace('|', ' / ')} | {r['cycle']} | {shared} | "
            f"{r['ours_on_peer_head_overlap']}/{b} | {r['max_dp']:.1e} | {r['max_dp_tight']:.1e} | "
            f"{r['overlap_tight']}/{b} | {gap} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.perf.agreement.diagnose", description=__doc__)
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--probcover", action="store_true", help="report ProbCover's δ per (cell, seed) instead")
    p.add_argument("--limit", type=int, default=None, help="diagnose at most this many (cell, seed) per cell")
    args = p.parse_args(argv)
    from pytest_albench.engine.engine import Engine

    from .cli import limit_threads

    limiter = limit_threads(args.threads) if args.threads is not None else None
    engine = Engine(data_dir=args.data_dir, progress=False)
    _, entries = merge_entries(args.results)
    if args.probcover:
        for entry in entries:
            if entry["strategy"] == "probcover":
                print(probcover_delta(engine, entry), flush=True)
        del limiter
        return 0
    per_cell: dict[str, int] = {}
    rows = []
    for entry in entries:
        cell_key = entry["key"].rsplit("|", 1)[0]
        if "divergence" not in entry or per_cell.get(cell_key, 0) >= (args.limit or 10**9):
            continue
        per_cell[cell_key] = per_cell.get(cell_key, 0) + 1
        rows.append(diagnose_entry(engine, entry))
        print(render(rows[-1:]).splitlines()[-1], flush=True)
    print(render(rows))
    del limiter
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
