"""The torch kernels the strategies add to ``_torch_ops``: blocked distances, k-NN, D² sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_albench.strategies.kernels import (
    d2_seeding,
    device_generator,
    knn_sqdist,
    min_sqdist,
    nearest_center,
    sample_proportional,
    sq_norms,
    sqdist_to_point,
    top_k,
)


def points(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_min_and_nearest_agree_with_cdist_when_centres_span_several_blocks() -> None:
    x, centres = points(37, 3), points(23, 3, seed=1)
    full = torch.cdist(x, centres).square()
    torch.testing.assert_close(min_sqdist(x, centres, chunk=5), full.min(dim=1).values)
    idx, dist = nearest_center(x, centres, chunk=5)
    torch.testing.assert_close(idx, full.argmin(dim=1))
    torch.testing.assert_close(dist, full.min(dim=1).values)


def test_sq_norms_in_chunks_equal_the_direct_sum() -> None:
    x = points(50, 4)
    torch.testing.assert_close(sq_norms(x, chunk=7), (x * x).sum(dim=1))


def test_sqdist_to_point_matches_cdist() -> None:
    x = points(20, 4)
    torch.testing.assert_close(sqdist_to_point(x, sq_norms(x), 3), torch.cdist(x, x[3:4]).square()[:, 0])


@pytest.mark.parametrize("exclude_self", [False, True])
def test_knn_matches_brute_force_across_blocks(exclude_self: bool) -> None:
    x = points(41, 3)
    full = torch.cdist(x, x).square()
    if exclude_self:
        full.fill_diagonal_(float("inf"))
    dist, idx = knn_sqdist(x, x, 4, exclude_self=exclude_self, chunk=6)
    expected = full.sort(dim=1).values[:, :4]
    torch.testing.assert_close(dist, expected)
    torch.testing.assert_close(full.gather(1, idx), expected)


def test_knn_excluding_self_still_counts_a_duplicate() -> None:
    x = torch.tensor([[0.0], [0.0], [5.0]])
    dist, idx = knn_sqdist(x, x, 1, exclude_self=True)
    assert idx[:2, 0].tolist() == [1, 0]
    assert dist[:2, 0].tolist() == [0.0, 0.0]


def test_knn_refuses_more_neighbours_than_rows() -> None:
    with pytest.raises(ValueError, match="cannot take 3 neighbours among 2"):
        knn_sqdist(points(3, 2), points(3, 2), 3, exclude_self=True)


def test_sample_proportional_never_returns_zero_weight_and_follows_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    weights = torch.tensor([0.0, 1.0, 0.0, 3.0, 0.0])
    draws = np.array([sample_proportional(weights, gen) for _ in range(2000)])
    assert set(draws.tolist()) <= {1, 3}
    assert 0.70 < float((draws == 3).mean()) < 0.80


def test_d2_seeding_never_repeats_and_respects_eligibility() -> None:
    x = torch.zeros(6, 2)  # all identical: every weight is 0, so draws fall back to uniform
    x_sq = sq_norms(x)
    eligible = torch.tensor([True, True, False, True, True, True])
    gen = torch.Generator().manual_seed(0)
    chosen = d2_seeding(0, 5, lambda j: sqdist_to_point(x, x_sq, j), eligible, gen)
    assert sorted(chosen) == [0, 1, 3, 4, 5]


def test_device_generator_on_cpu_is_the_generator_itself() -> None:
    gen = torch.Generator()
    assert device_generator(gen, torch.device("cpu")) is gen


def _sorted_top_k(scores: torch.Tensor, k: int, seed: int, largest: bool) -> torch.Tensor:
    """The definition: a stable sort of the seeded permutation of the scores, first k."""
    perm = torch.randperm(scores.shape[0], generator=torch.Generator().manual_seed(seed))
    return perm[torch.argsort(scores[perm], descending=largest, stable=True)[:k]]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 7, 100, 500, 600])
def test_top_k_sorts_only_contenders_yet_equals_a_full_stable_sort(k: int, largest: bool) -> None:
    """Same indices in the same order, with heavy exact ties (scores on a coarse grid), ±0.0 and ±inf."""
    rng = np.random.default_rng(k)
    scores = torch.from_numpy(np.round(rng.normal(size=500), 1)).float()
    scores[:5] = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 0.0])
    for seed in range(5):
        got = top_k(scores, k, torch.Generator().manual_seed(seed), largest=largest)
        torch.testing.assert_close(got, _sorted_top_k(scores, k, seed, largest), rtol=0, atol=0)


def test_top_k_with_nan_or_integer_scores_falls_back_to_the_full_sort() -> None:
    scores = torch.tensor([0.5, float("nan"), 0.2, 0.9, 0.2])
    torch.testing.assert_close(top_k(scores, 3, torch.Generator().manual_seed(3)), _sorted_top_k(scores, 3, 3, True))
    ints = torch.tensor([3, 1, 3, 2, 1])
    torch.testing.assert_close(
        top_k(ints, 2, torch.Generator().manual_seed(4), largest=False), _sorted_top_k(ints, 2, 4, False)
    )
