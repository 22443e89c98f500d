"""The optimized kernels select exactly what a straightforward implementation of the definition selects.

Each reference below is written for clarity, in float64 numpy with full distance matrices, and is
run on pools big enough to cross the optimized code's block and sampling boundaries. The fast paths
(chunked distances, GEMM-folded norms, the upper-triangle ball graph, running minima, seeded row
samples) must not change a single pick. BADGE, CoreSet and the uncertainty scores have their
reference tests in their own files; this file covers k-means, TypiClust and ProbCover.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_albench.strategies import (
    QueryInputs,
    kernels as _torch_ops,
    probcover as probcover_module,
    typiclust as typiclust_module,
)
from pytest_albench.strategies.kernels import kmeans, kmeans_pp_init
from pytest_albench.strategies.probcover import build_ball_graph, greedy_cover


def blobs(seed: int, n: int, d: int = 6, k: int = 5, spread: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = 5.0 * torch.randn(k, d, generator=gen)
    return centres[torch.randint(k, (n,), generator=gen)] + spread * torch.randn(n, d, generator=gen)


def sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)


def naive_lloyd(x: np.ndarray, centres: np.ndarray, max_iter: int = 500) -> np.ndarray:
    """Textbook Lloyd until no assignment changes."""
    labels = sqdist(x, centres).argmin(axis=1)
    for _ in range(max_iter):
        centres = np.stack([x[labels == c].mean(axis=0) for c in range(centres.shape[0])])
        new = sqdist(x, centres).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


@pytest.mark.parametrize("seed", range(3))
def test_kmeans_converges_to_the_textbook_lloyd_fixed_point(seed: int) -> None:
    """Regression: k-means once stopped after a single Lloyd step (infinite previous inertia)."""
    x = blobs(seed, 900, k=8, spread=2.5)  # overlapping blobs: one step is never enough
    k = 8
    labels, _ = kmeans(x, k, torch.Generator().manual_seed(seed), tol=0.0, n_iter=500)
    start = kmeans_pp_init(x, k, torch.Generator().manual_seed(seed))
    expected = naive_lloyd(x.double().numpy(), x.double().numpy()[start.numpy()])
    np.testing.assert_array_equal(labels.numpy(), expected)


def test_kmeans_with_the_default_tolerance_is_close_to_converged() -> None:
    x = blobs(5, 900, k=8, spread=2.5)
    gen_seed = 5
    default, _ = kmeans(x, 8, torch.Generator().manual_seed(gen_seed))
    converged, _ = kmeans(x, 8, torch.Generator().manual_seed(gen_seed), tol=0.0, n_iter=500)
    one_step, _ = kmeans(x, 8, torch.Generator().manual_seed(gen_seed), n_iter=1)
    agree = float((default == converged).double().mean())
    assert agree >= 0.98
    assert agree > float((one_step == converged).double().mean())


def test_kmeans_seeds_from_a_row_sample_only_on_large_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    x = blobs(1, 300, k=4)
    seen: list[int] = []
    original = _torch_ops.kmeans_pp_init

    def spy(rows: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
        seen.append(rows.shape[0])
        return original(rows, k, gen)

    monkeypatch.setattr(_torch_ops, "kmeans_pp_init", spy)
    kmeans(x, 4, torch.Generator().manual_seed(0))
    monkeypatch.setattr(_torch_ops, "KMEANS_SEED_MIN_ROWS", 50)
    kmeans(x, 4, torch.Generator().manual_seed(0))
    assert seen == [300, 50]  # all rows when small; max(4k, min rows) = 50 rows otherwise


# --- TypiClust ------------------------------------------------------------------------------------


def naive_typiclust(
    x: np.ndarray, assign: np.ndarray, labeled: np.ndarray, batch: int, k_nn: int, min_size: int
) -> list[int]:
    """The definition: repeatedly take the cluster with the fewest labeled-or-picked points (ties:
    larger, then lower id; clusters below ``min_size`` only when nothing else is free), and from it
    the free point with the smallest mean distance to its k nearest other cluster members."""
    n_clusters = assign.max() + 1
    available = ~labeled.copy()
    picks: list[int] = []
    for _ in range(batch):
        sizes = np.bincount(assign, minlength=n_clusters)
        free = np.bincount(assign[available], minlength=n_clusters)
        taken = sizes - free
        candidates = [c for c in range(n_clusters) if free[c] > 0]
        big = [c for c in candidates if sizes[c] >= min_size]
        c = min(big or candidates, key=lambda c: (taken[c], -sizes[c], c))
        members = np.flatnonzero(assign == c)
        k = min(k_nn, members.size - 1)
        dist = np.sqrt(sqdist(x[members], x[members]))
        np.fill_diagonal(dist, np.inf)
        spread = np.sort(dist, axis=1)[:, :k].mean(axis=1) if k else np.zeros(members.size)
        open_rows = [i for i in range(members.size) if available[members[i]]]
        pick = int(members[min(open_rows, key=lambda i: spread[i])])
        picks.append(pick)
        available[pick] = False
    return picks


@pytest.mark.parametrize("seed", range(3))
def test_typiclust_equals_the_naive_definition_for_the_same_clustering(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = blobs(seed, 700, k=12, spread=1.5)
    labeled = torch.zeros(700, dtype=torch.bool)
    labeled[torch.randperm(700, generator=torch.Generator().manual_seed(seed))[:15]] = True
    batch = 25
    fixed, _ = kmeans(x, 15 + batch, torch.Generator().manual_seed(seed))
    monkeypatch.setattr(typiclust_module, "kmeans", lambda *args, **kwargs: (fixed, None))
    inputs = QueryInputs(x, labeled, torch.where(labeled, 0, -1), 12)
    picked = typiclust_module.typiclust(inputs, batch, np.random.default_rng(seed), min_cluster_size=5)
    expected = naive_typiclust(x.double().numpy(), fixed.numpy(), labeled.numpy(), batch, 20, 5)
    assert picked.tolist() == expected


# --- ProbCover ------------------------------------------------------------------------------------


def naive_greedy_cover(balls: np.ndarray, labeled: np.ndarray, batch: int, order: np.ndarray) -> list[int]:
    """Maximum coverage by the definition: each pick covers the most uncovered points (ties: first in
    ``order``), points in labeled balls already covered."""
    covered = balls[labeled].any(axis=0)
    available = ~labeled.copy()
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    picks: list[int] = []
    for _ in range(batch):
        gains = np.where(available, (balls & ~covered[None, :]).sum(axis=1), -1)
        best = gains.max()
        if best <= 0:
            break
        pick = int(min(np.flatnonzero(gains == best), key=lambda i: rank[i]))
        picks.append(pick)
        available[pick] = False
        covered |= balls[pick]
    return picks


@pytest.mark.parametrize("delta", [0.8, 2.0, 6.0])
def test_ball_graph_over_many_blocks_equals_the_full_distance_matrix(
    delta: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probcover_module, "BLOCK_ENTRIES", 37 * 400)  # 37-row blocks: ragged last block
    x = blobs(7, 400, d=3)
    graph = build_ball_graph(x, delta)
    dense = np.zeros((400, 400), dtype=bool)
    dense[np.repeat(np.arange(400), graph.degree.numpy()), graph.col.long().numpy()] = True
    expected = sqdist(x.double().numpy(), x.double().numpy()) <= delta * delta
    mismatched = dense != expected
    assert np.array_equal(dense, dense.T)
    # float32 against float64: only pairs within rounding of δ may differ
    near = np.abs(np.sqrt(sqdist(x.double().numpy(), x.double().numpy())) - delta) < 1e-4
    assert not (mismatched & ~near).any()


@pytest.mark.parametrize("seed", range(3))
def test_greedy_cover_equals_the_naive_maximum_coverage(seed: int) -> None:
    x = blobs(seed, 500, d=3)
    delta = 1.2
    labeled = np.zeros(500, dtype=bool)
    labeled[np.random.default_rng(seed).choice(500, 10, replace=False)] = True
    graph = build_ball_graph(x, delta)
    picks = greedy_cover(graph, torch.from_numpy(labeled), 30, torch.Generator().manual_seed(seed))
    order = torch.randperm(500, generator=torch.Generator().manual_seed(seed)).numpy()
    dense = np.zeros((500, 500), dtype=bool)
    dense[np.repeat(np.arange(500), graph.degree.numpy()), graph.col.long().numpy()] = True
    expected = naive_greedy_cover(dense, labeled, 30, order)
    assert len(expected) == 30  # the whole batch is greedy, so no random fill is compared
    assert picks.tolist() == expected


def test_delta_from_sampled_rows_is_close_to_delta_from_all_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    x = blobs(3, 3000, d=8, k=6, spread=2.0)
    gen_seed = 11
    sampled = probcover_module.choose_delta(x, 6, 0.95, 64, torch.Generator().manual_seed(gen_seed))
    monkeypatch.setattr(probcover_module, "DELTA_SAMPLE_ROWS", 10**9)
    full = probcover_module.choose_delta(x, 6, 0.95, 64, torch.Generator().manual_seed(gen_seed))
    assert sampled == pytest.approx(full, rel=0.05)


# --- Alfa-Mix -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_alfamix_flip_counts_from_mixed_logits_equal_a_forward_pass_per_mix(seed: int) -> None:
    """The linear head's shortcut (mix the logits) counts the same flips as classifying each mix."""
    from pytest_albench.engine.heads import LogisticHead
    from pytest_albench.strategies.alfamix import DEFAULT_ALPHAS, count_flips

    x = blobs(seed, 600, d=8, k=6, spread=2.0).double()  # float64: no rounding-level disagreements
    y = torch.from_numpy(np.random.default_rng(seed).integers(0, 6, 600))
    head = LogisticHead(n_classes=6).fit(x[:60], y[:60])
    rows = torch.arange(60, 600)
    predicted = head.predict_proba(x[rows]).argmax(dim=1)
    anchors = torch.stack([x[:60][y[:60] == c].mean(dim=0) for c in range(6)])

    class Opaque:  # the same head without the affine shortcut: one forward pass per mix
        def predict_proba(self, z: torch.Tensor) -> torch.Tensor:
            return head.predict_proba(z)

    fast = count_flips(head, x, rows, predicted, anchors, DEFAULT_ALPHAS)
    slow = count_flips(Opaque(), x, rows, predicted, anchors, DEFAULT_ALPHAS, chunk=97)
    assert int((slow > 0).sum()) > 0
    torch.testing.assert_close(fast, slow, rtol=0, atol=0)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("alphas", [(0.125, 0.25, 0.375, 0.5), (0.05, 0.3)])
def test_alfamix_candidates_from_one_alpha_equal_counting_every_mix(seed: int, alphas: tuple[float, ...]) -> None:
    """The affine shortcut (largest α only, the anchor's top class first) marks exactly the points that
    some (anchor, α) mix flips, also for rows whose given prediction is not their top logit."""
    from pytest_albench.engine.heads import LogisticHead
    from pytest_albench.strategies.alfamix import count_flips, flip_candidates

    x = blobs(seed, 900, d=8, k=6, spread=1.0).double()
    y = torch.from_numpy(np.random.default_rng(seed).integers(0, 6, 900))
    head = LogisticHead(n_classes=6).fit(x[:60], y[:60])
    rows = torch.arange(60, 900)
    predicted = head.predict_proba(x[rows]).argmax(dim=1)
    wrong = torch.from_numpy(np.random.default_rng(seed + 10).random(rows.shape[0]) < 0.1)
    predicted[wrong] = (predicted[wrong] + 1) % 6  # not the top logit: mixes need not be monotone in α
    anchors = torch.stack([x[:60][y[:60] == c].mean(dim=0) for c in range(5)])  # one class has no anchor

    class Opaque:  # the same head without the affine shortcut: one forward pass per mix
        def predict_proba(self, z: torch.Tensor) -> torch.Tensor:
            return head.predict_proba(z)

    reference = count_flips(Opaque(), x, rows, predicted, anchors, alphas, chunk=97) > 0
    fast = flip_candidates(head, x, rows, predicted, anchors, alphas)
    assert 0 < int(reference.sum()) < rows.shape[0]  # both kinds of rows occur
    assert torch.equal(fast, reference)
    assert torch.equal(flip_candidates(Opaque(), x, rows, predicted, anchors, alphas), reference)
