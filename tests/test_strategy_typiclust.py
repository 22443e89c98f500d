"""TypiClust: one typical point from each dense cluster; outliers, duplicates and full coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pytest_albench.strategies import QueryInputs, query
from pytest_albench.strategies.typiclust import mean_knn_distance, next_cluster

BLOB_CENTRES = [(0.0, 0.0), (20.0, 0.0), (0.0, 20.0)]


def blob(centre: tuple[float, float]) -> list[tuple[float, float]]:
    """A blob whose densest point is its centre: the centre, a ring of 20 at 0.1, a ring of 30 at 1."""
    cx, cy = centre
    points = [(cx, cy)]
    for n, r in ((20, 0.1), (30, 1.0)):
        angles = [2 * math.pi * i / n for i in range(n)]
        points += [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in angles]
    return points


def blobs_with_outliers(seed: int) -> tuple[QueryInputs, list[int]]:
    """Three tight blobs of 51 points plus 6 scattered outliers; returns inputs and blob-centre rows."""
    rng = np.random.default_rng(seed)
    points: list[tuple[float, float]] = []
    centres: list[int] = []
    for c in BLOB_CENTRES:
        centres.append(len(points))
        points += blob(c)
    points += [tuple(p) for p in rng.uniform(-5.0, 25.0, size=(6, 2))]
    order = rng.permutation(len(points))  # shuffle so row position cannot help
    x = torch.tensor(np.asarray(points)[order], dtype=torch.float32)
    where = {int(old): new for new, old in enumerate(order)}
    n = x.shape[0]
    inputs = QueryInputs(x, torch.zeros(n, dtype=torch.bool), torch.full((n,), -1), 3)
    return inputs, [where[c] for c in centres]


@pytest.mark.parametrize("seed", range(4))
def test_picks_the_densest_point_of_each_blob(seed: int) -> None:
    inputs, centres = blobs_with_outliers(seed)
    picked = query("typiclust", inputs, 3, np.random.default_rng(seed))
    assert sorted(picked.tolist()) == sorted(centres)


def test_skips_clusters_that_already_hold_a_labeled_point() -> None:
    inputs, centres = blobs_with_outliers(0)
    inputs.labeled[centres[0]] = True
    inputs.labels[centres[0]] = 0
    picked = query("typiclust", inputs, 2, np.random.default_rng(0))
    assert sorted(picked.tolist()) == sorted(centres[1:])


def test_duplicated_points_are_handled() -> None:
    base = torch.tensor([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0], [0.0, 10.0]])
    x = base.repeat_interleave(10, dim=0)
    n = x.shape[0]
    inputs = QueryInputs(x, torch.zeros(n, dtype=torch.bool), torch.full((n,), -1), 2)
    picked = query("typiclust", inputs, 4, np.random.default_rng(0))
    assert sorted((picked // 10).tolist()) == [0, 1, 2, 3]  # one from each group of copies
    assert query("typiclust", inputs, n, np.random.default_rng(1)).shape == (n,)


def test_all_points_identical_still_yields_a_full_batch() -> None:
    x = torch.ones(12, 3)
    inputs = QueryInputs(x, torch.zeros(12, dtype=torch.bool), torch.full((12,), -1), 2)
    assert sorted(query("typiclust", inputs, 12, np.random.default_rng(0)).tolist()) == list(range(12))


def test_more_labeled_than_clusters_spreads_the_batch() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=gen)
    labeled = torch.zeros(200, dtype=torch.bool)
    labeled[:30] = True
    inputs = QueryInputs(x, labeled, torch.where(labeled, 0, -1), 2)
    picked = query("typiclust", inputs, 5, np.random.default_rng(0))
    assert len(set(picked.tolist())) == 5


def test_next_cluster_prefers_uncovered_then_large_then_low_id() -> None:
    sizes = np.array([10, 30, 30, 3, 50])
    taken = np.array([0, 0, 0, 0, 1])
    free = sizes - taken
    assert next_cluster(sizes, taken, free, min_size=5) == 1
    taken[1] = 1
    assert next_cluster(sizes, taken, free, min_size=5) == 2
    taken[2] = taken[0] = 1
    assert next_cluster(sizes, taken, free, min_size=5) == 4  # all covered once: largest wins
    free[[0, 1, 2, 4]] = 0
    assert next_cluster(sizes, taken, free, min_size=5) == 3  # only the small one is left


def test_typicality_uses_mean_distance_to_k_nearest_others() -> None:
    x = torch.tensor([[0.0], [1.0], [3.0], [3.0]])
    torch.testing.assert_close(mean_knn_distance(x, 2), torch.tensor([2.0, 1.5, 1.0, 1.0]))
    torch.testing.assert_close(mean_knn_distance(x[:1], 0), torch.tensor([0.0]))


def test_clustering_is_reused_across_cycles_once_the_cluster_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_albench.strategies import typiclust as typiclust_module

    inputs, _ = blobs_with_outliers(0)
    calls = []
    original = typiclust_module.kmeans
    monkeypatch.setattr(typiclust_module, "kmeans", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = typiclust_module.typiclust(inputs, 4, np.random.default_rng(1), max_clusters=6)
    again = typiclust_module.typiclust(inputs, 4, np.random.default_rng(1), max_clusters=6)
    assert len(calls) == 1  # same embeddings, same capped count: the memo's k-means is reused
    assert first.tolist() == again.tolist()  # and the picks do not depend on the memo hit
    fresh = QueryInputs(inputs.embeddings, inputs.labeled, inputs.labels, inputs.n_classes)
    assert typiclust_module.typiclust(fresh, 4, np.random.default_rng(1), max_clusters=6).tolist() == first.tolist()
