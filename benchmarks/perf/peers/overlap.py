"""Whether two sides picked the same points, and, for deterministic strategies, why not.

Why: "N times faster" is only a fair claim when both sides answer the same question, which for
least confidence, margin, entropy and CoreSet means the same 100 points. A mismatch is explained in
float64 so that a float32 near-tie can be told from a real disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import adapters as pa


def selection_overlap(ours: Sequence[int], peer: Sequence[int], batch: int) -> float:
    """|ours ∩ peer| / batch: 1.0 when both picked the same points, in any order."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    return len({int(i) for i in ours} & {int(i) for i in peer}) / batch


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


def _float64_proba(cycle: pa.CycleInputs) -> np.ndarray:
    clf = cycle.clf
    z: np.ndarray = cycle.x.astype(np.float64) @ clf.coef_.T.astype(np.float64) + clf.intercept_.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    p: np.ndarray = np.exp(z)
    proba: np.ndarray = p / p.sum(axis=1, keepdims=True)
    return proba


def diagnose_mismatch(
    strategy: str, lib: str, ours: Sequence[int], peer: Sequence[int], cycle: pa.CycleInputs
) -> list[str]:
    """Lines explaining where a deterministic strategy's selections part, computed in float64.

    Uncertainty: the exact (float64) rank and score of every point only one side picked, next to
    the scores at the batch boundary: ranks just around 100 with scores equal to ~1e-7 mean a
    float32 near-tie, anything else is a real disagreement. CoreSet: the first pick where the two
    sequences differ and both candidates' exact distance to the chosen set at that step.
    """
    only_ours = sorted(set(ours) - set(peer))
    only_peer = sorted(set(peer) - set(ours))
    head = (
        f"{strategy} vs {lib}: {len(only_ours)} of {cycle.batch} picks differ "
        f"(only ours: {only_ours[:8]}, only {lib}: {only_peer[:8]})"
    )
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
        lines.append(
            f"  float64 scores at the boundary: #{b} {score[order[b - 1]]:.9g}, #{b + 1} {score[order[b]]:.9g}"
        )
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
                lines.append(
                    f"  first difference at pick {step + 1}: {who} picked {i}, exact distance to "
                    f"the chosen set {dist:.9g}"
                )
    return lines
