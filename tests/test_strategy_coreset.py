"""CoreSet: the farthest point first, and the same sequence as a naive O(N²) k-center greedy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_albench.strategies import QueryInputs, query


def line_inputs(positions: list[float], labeled_at: list[int]) -> QueryInputs:
    x = torch.tensor(positions, dtype=torch.float32)[:, None]
    labeled = torch.zeros(len(positions), dtype=torch.bool)
    labeled[labeled_at] = True
    labels = torch.where(labeled, 0, -1)
    return QueryInputs(x, labeled, labels, 2)


def random_inputs(n: int, d: int, n_labeled: int, seed: int) -> QueryInputs:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[torch.randperm(n, generator=gen)[:n_labeled]] = True
    return QueryInputs(x, labeled, torch.where(labeled, 0, -1), 2)


def naive_k_center(x: np.ndarray, labeled: np.ndarray, batch_size: int, first: int | None = None) -> list[int]:
    """Textbook k-center greedy with the full distance matrix, recomputing every minimum each step."""
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    centres = list(np.flatnonzero(labeled))
    picks: list[int] = [] if first is None else [first]
    while len(picks) < batch_size:
        closest = dist[:, centres + picks].min(axis=1)
        closest[labeled] = -1.0
        closest[picks] = -1.0
        picks.append(int(np.argmax(closest)))
    return picks


def test_picks_the_farthest_point_then_the_next_farthest() -> None:
    inputs = line_inputs([0.0, 1.0, 2.0, 10.0, 4.0], labeled_at=[0])
    assert query("coreset", inputs, 2, np.random.default_rng(0)).tolist() == [3, 4]


@pytest.mark.parametrize("seed", range(4))
def test_sequence_equals_naive_k_center_greedy(seed: int) -> None:
    inputs = random_inputs(120, 5, n_labeled=7, seed=seed)
    picked = query("coreset", inputs, 15, np.random.default_rng(seed))
    expected = naive_k_center(inputs.embeddings.numpy(), inputs.labeled.numpy(), 15)
    assert picked.tolist() == expected


def test_cold_start_begins_at_a_seeded_random_point_then_goes_greedy() -> None:
    inputs = random_inputs(80, 3, n_labeled=0, seed=5)
    firsts = set()
    for seed in range(5):
        picked = query("coreset", inputs, 6, np.random.default_rng(seed))
        naive = naive_k_center(inputs.embeddings.numpy(), inputs.labeled.numpy(), 6, first=int(picked[0]))
        assert picked.tolist() == naive
        firsts.add(int(picked[0]))
    assert len(firsts) > 1


def test_duplicates_of_labeled_points_are_taken_last() -> None:
    inputs = line_inputs([0.0, 0.0, 0.0, 5.0], labeled_at=[0])
    assert query("coreset", inputs, 3, np.random.default_rng(0))[0] == 3


def test_large_labeled_set_is_handled_in_blocks() -> None:
    """More labeled points than one distance block holds: the running minimum still starts right."""
    inputs = random_inputs(5000, 2, n_labeled=4500, seed=1)
    picked = query("coreset", inputs, 1, np.random.default_rng(0))
    x = inputs.embeddings
    lab = x[inputs.labeled]
    unl = inputs.unlabeled_indices()
    best = max(unl.tolist(), key=lambda i: float(((lab - x[i]) ** 2).sum(dim=1).min()))
    assert picked.tolist() == [best]
