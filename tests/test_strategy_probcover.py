"""ProbCover: δ by the purity rule, an exact symmetric ball graph, greedy maximum coverage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_albench.strategies import QueryInputs, probcover as probcover_module, query
from pytest_albench.strategies.kernels import kmeans
from pytest_albench.strategies.probcover import (
    BallGraph,
    ball_graph_for,
    build_ball_graph,
    nearest_other_label,
    probcover,
    purity_radius,
)


def pool(x: torch.Tensor, labeled_at: list[int] | None = None, n_classes: int = 3) -> QueryInputs:
    labeled = torch.zeros(x.shape[0], dtype=torch.bool)
    labeled[labeled_at or []] = True
    return QueryInputs(x, labeled, torch.where(labeled, 0, -1), n_classes)


def mixture(seed: int, n: int = 150, d: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    centres = 4.0 * torch.randn(3, d, generator=gen)
    return centres[torch.arange(n) % 3] + torch.randn(n, d, generator=gen)


def brute_balls(x: torch.Tensor, delta: float) -> np.ndarray:
    return (torch.cdist(x.double(), x.double()) <= delta).numpy()


def coverage(x: torch.Tensor, delta: float, picks: np.ndarray) -> float:
    return float(brute_balls(x, delta)[picks].any(axis=0).mean())


#: With δ = 0.25: ball(0.2) holds all 5 of the first group, ball(10.1) all 3 of the second (its
#: neighbours hold 2 each), and 20 is alone.
LINE = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4, 10.0, 10.1, 10.3, 20.0])[:, None]


def test_greedy_takes_the_ball_covering_most_points_first() -> None:
    picked = probcover(pool(LINE), 3, np.random.default_rng(0), delta=0.25)
    assert picked.tolist() == [2, 6, 8]


def test_points_covered_by_labeled_balls_do_not_count() -> None:
    picked = probcover(pool(LINE, labeled_at=[2]), 2, np.random.default_rng(0), delta=0.25)
    assert picked.tolist() == [6, 8]  # the labeled 0.2 already covers the whole first group


def test_fills_at_random_once_everything_is_covered() -> None:
    picks = {tuple(probcover(pool(LINE), 5, np.random.default_rng(s), delta=0.25).tolist()[3:]) for s in range(6)}
    assert len(picks) > 1
    assert all(len(set(p)) == 2 for p in picks)


@pytest.mark.parametrize("seed", range(3))
def test_covers_at_least_as_much_as_random(seed: int) -> None:
    x = mixture(seed)
    inputs = pool(x)
    picked = query("probcover", inputs, 10, np.random.default_rng(seed))
    delta = next(iter(inputs.memo["probcover"].values())).delta
    random_cover = np.mean(
        [coverage(x, delta, query("random", pool(x), 10, np.random.default_rng(s))) for s in range(10)]
    )
    assert coverage(x, delta, picked) >= random_cover


def test_purity_radius_is_the_largest_delta_keeping_enough_balls_pure() -> None:
    other = torch.tensor([float(v) for v in range(1, 21)])  # 20 points; 5 % may be impure
    delta = purity_radius(other, 0.95)
    assert 1.0 < delta < 2.0  # δ ≥ 1 makes point 0 impure (1 of 20: allowed); δ ≥ 2 makes two
    assert float((other > delta).double().mean()) >= 0.95
    assert purity_radius(other, 1.0) < 1.0


def test_chosen_delta_meets_the_purity_target_on_pseudo_labels() -> None:
    x = mixture(0)
    gen = torch.Generator().manual_seed(0)
    graph = ball_graph_for(pool(x), gen, delta=None, n_clusters=None, purity=0.95, max_degree=None)
    pseudo, _ = kmeans(x, 3, torch.Generator().manual_seed(0), n_init=probcover_module.KMEANS_RESTARTS)
    pure = nearest_other_label(x, pseudo) > graph.delta
    assert float(pure.double().mean()) >= 0.95


def test_max_degree_caps_the_median_ball_size() -> None:
    x = mixture(1, n=200)
    gen = torch.Generator().manual_seed(0)
    graph = ball_graph_for(pool(x, n_classes=2), gen, delta=None, n_clusters=None, purity=0.5, max_degree=8)
    assert float(graph.degree.double().median()) <= 8


def test_ball_graph_is_exact_and_symmetric(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probcover_module, "BLOCK_ENTRIES", 7 * 150)  # many row blocks
    x = mixture(2)
    graph = build_ball_graph(x, 2.0)
    dense = np.zeros((150, 150), dtype=bool)
    rows = np.repeat(np.arange(150), graph.degree.numpy())
    dense[rows, graph.col.long().numpy()] = True
    np.testing.assert_array_equal(dense, dense.T)
    np.testing.assert_array_equal(dense, brute_balls(x, 2.0))


def test_duplicates_at_zero_radius_form_balls_of_copies() -> None:
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).repeat(3, 1)
    graph = build_ball_graph(x, 0.0)
    assert graph.degree.tolist() == [3] * 6


def test_graph_is_built_once_and_reused_across_cycles(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[BallGraph] = []
    original = probcover_module.build_ball_graph

    def counting(x: torch.Tensor, delta: float) -> BallGraph:
        built.append(original(x, delta))
        return built[-1]

    monkeypatch.setattr(probcover_module, "build_ball_graph", counting)
    inputs = pool(mixture(0))
    first = query("probcover", inputs, 5, np.random.default_rng(0))
    inputs.labeled[torch.from_numpy(first)] = True
    query("probcover", inputs, 5, np.random.default_rng(1))
    assert len(built) == 1
    assert len(inputs.memo["probcover"]) == 1


def test_selection_does_not_depend_on_whether_the_graph_was_cached() -> None:
    inputs = pool(mixture(0))
    cold = query("probcover", inputs, 8, np.random.default_rng(4))
    warm = query("probcover", inputs, 8, np.random.default_rng(4))
    np.testing.assert_array_equal(cold, warm)
