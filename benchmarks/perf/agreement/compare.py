"""One (cell, seed): both runs, and the record that says how far they agree.

Why these numbers: the AULCs are what the study compares, so they must agree within noise; the
selections and the heads say *why* they agree or not. For a deterministic strategy the two sides
must pick the same points while they hold the same labeled set and their heads agree, so the record
keeps, per cycle, whether the picks are identical and how many points they share (and whether they
are the same rows: duplicated texts give byte-identical embeddings, whose copies are interchangeable
and tie-broken differently by the two sides); while the labeled
sets are still the same it also compares the two heads directly (test and pool predictions, largest
probability difference), and at the first cycle whose picks differ it keeps the float64 diagnosis of
``peers.overlap.diagnose_mismatch`` (ranks and scores of the points only one side picked).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_albench.engine.engine import Engine
from pytest_albench.engine.metrics import normalized_aulc

from ..peers.overlap import diagnose_mismatch
from .cells import Cell, settings_of
from .sides import OurRun, PeerRun, as_tensor, case_config, run_ours, run_peer

__all__ = ["compare_heads", "identical_prefix", "run_seed"]


def identical_prefix(identical: list[bool]) -> int:
    """How many leading cycles picked identical sets."""
    n = 0
    for same in identical:
        if not same:
            break
        n += 1
    return n


def compare_heads(ours: OurRun, peer: PeerRun, point: int, x_pool: np.ndarray) -> dict[str, Any]:
    """Our head and the peer's at curve point ``point`` (fitted on the same labeled set): how often
    their pool predictions agree and the largest difference of a class probability on the pool."""

    head = ours.heads[point]
    p_ours = head.predict_proba(as_tensor(x_pool)).double().numpy()
    clf = peer.inputs[point].clf if point < len(peer.inputs) else None
    if clf is None:
        return {"cycle": point}
    p_peer = np.zeros_like(p_ours)
    p_peer[:, clf.classes_] = clf.predict_proba(x_pool)
    return {
        "cycle": point,
        "test_agree": float(np.mean(ours.test_pred[point] == peer.test_pred[point])),
        "pool_agree": float(np.mean(p_ours.argmax(axis=1) == p_peer.argmax(axis=1))),
        "max_dp": float(np.abs(p_ours - p_peer).max()),
    }


def run_seed(
    engine: Engine, cell: Cell, seed: int, cycles: int, query_size: int, max_pool: int | None
) -> dict[str, Any]:
    """Run both sides of ``cell`` for ``seed`` and return the JSON-ready record."""
    config = case_config(cell, cycles, query_size, max_pool)
    problem = engine.problem_for(config)
    ours = run_ours(engine, config, problem, seed)
    result = ours.result
    schedule = [len(c.selected) for c in result.cycles[1:]]
    peer = run_peer(cell, problem, result.initial_pool, schedule, seed)
    n_labeled = [c.n_labeled for c in result.cycles]
    ours_sel = [np.asarray(c.selected, dtype=np.int64) for c in result.cycles[1:]]
    identical = [set(a.tolist()) == set(b.tolist()) for a, b in zip(ours_sel, peer.selected, strict=True)]
    overlap = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(ours_sel, peer.selected, strict=True)]
    prefix = identical_prefix(identical)
    # duplicated texts embed to byte-identical rows, which every strategy scores alike: picks that differ
    # only by which copy of a row was taken are the same picks (compared as multisets of distinct rows)
    row_id = np.unique(problem.x_pool, axis=0, return_inverse=True)[1].reshape(-1)
    same_rows = [
        sorted(row_id[a].tolist()) == sorted(row_id[b].tolist()) for a, b in zip(ours_sel, peer.selected, strict=True)
    ]
    agreement = [float(np.mean(a == b)) for a, b in zip(ours.test_pred, peer.test_pred, strict=True)]
    # the labeled sets are the same at curve points 0..prefix: there the heads are comparable directly
    same_labels = [compare_heads(ours, peer, t, problem.x_pool) for t in range(min(prefix, len(peer.inputs) - 1) + 1)]
    record: dict[str, Any] = {
        "key": cell.key(seed),
        "dataset": cell.dataset,
        "embedding": cell.embedding,
        "strategy": cell.strategy,
        "seed": seed,
        "settings": settings_of(cell, cycles, query_size, max_pool),
        "problem": {
            "pool": len(problem.y_pool),
            "test": len(problem.y_test),
            "dim": int(problem.x_pool.shape[1]),
            "classes": problem.n_classes,
            "k0": len(result.initial_pool),
        },
        "n_labeled": n_labeled,
        "ours": {
            "aulc": result.aulc,
            "accuracy": [c.test_accuracy for c in result.cycles],
            "seconds": round(ours.seconds, 3),
            "config_hash": result.config_hash,
            "replay_matches": ours.replay_matches,
        },
        "peer": {
            "aulc": normalized_aulc(n_labeled, peer.accuracy),
            "accuracy": peer.accuracy,
            "seconds": round(peer.seconds, 3),
            "notes": peer.notes,
            **peer_extras(peer),
        },
        "identical": identical,
        "overlap": overlap,
        "identical_prefix": prefix,
        "same_rows": same_rows,
        "same_rows_prefix": identical_prefix(same_rows),
        "head_agreement": agreement,
        "same_labels_heads": same_labels,
    }
    if cell.deterministic and prefix < len(identical):
        t = prefix  # index of the first differing cycle (cycle t + 1); its query saw curve point t
        record["divergence"] = {
            "cycle": t + 1,
            "diagnosis": diagnose_mismatch(
                cell.strategy, "skactiveml", ours_sel[t].tolist(), peer.selected[t].tolist(), peer.inputs[t]
            ),
        }
    return record


def peer_extras(peer: PeerRun) -> dict[str, Any]:
    """What the peer's strategy chose that explains its picks (ProbCover's δ)."""
    return {"delta": peer.delta} if peer.delta is not None else {}
