"""The strategy contract every registered strategy must meet, plus known-answer tests of the scores.

The contract is parametrized over ``strategy_names()``, so a strategy added to the registry is
checked without touching this file. Heads are faked with a fixed linear softmax, so these tests
do not depend on ``pytest_albench.engine.heads``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from pytest_albench.errors import BudgetError, ConfigError, StrategyError
from pytest_albench.strategies import (
    STRATEGIES,
    QueryInputs,
    get_strategy,
    query,
    register_strategy,
    strategy_names,
)
from pytest_albench.strategies.bald import bald_scores
from pytest_albench.strategies.uncertainty import entropy_scores, least_confidence_scores, margin_scores

N_POOL, DIM, N_CLASSES, N_LABELED = 60, 6, 3, 6


class LinearSoftmaxHead:
    """A fixed linear softmax classifier: the smallest thing with the head interface."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        self.weight = weight
        self.bias = torch.zeros(weight.shape[0], dtype=weight.dtype) if bias is None else bias
        self.n_classes = int(weight.shape[0])

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x @ self.weight.T + self.bias, dim=1)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> LinearSoftmaxHead:
        return self

    def sampled_proba(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor:
        return torch.stack([self.predict_proba(x)] * n_samples)


def make_inputs(n_labeled: int = N_LABELED, seed: int = 0) -> QueryInputs:
    """A small 3-class pool with every declared need filled in, float32 as in a real run."""
    gen = torch.Generator().manual_seed(seed)
    centres = 3.0 * torch.randn(N_CLASSES, DIM, generator=gen)
    truth = torch.arange(N_POOL) % N_CLASSES
    x = centres[truth] + torch.randn(N_POOL, DIM, generator=gen)
    head = LinearSoftmaxHead(centres.clone())
    labeled = torch.zeros(N_POOL, dtype=torch.bool)
    labeled[:n_labeled] = True
    labels = torch.where(labeled, truth, torch.full_like(truth, -1))
    noisy = [x + 0.5 * torch.randn(x.shape, generator=gen) for _ in range(4)]
    sampled = torch.stack([head.predict_proba(z) for z in noisy])
    return QueryInputs(
        embeddings=x,
        labeled=labeled,
        labels=labels,
        n_classes=N_CLASSES,
        proba=head.predict_proba(x),
        hidden=x,
        sampled_proba=sampled,
        head=head,
    )


def inputs_from_proba(proba: list[list[float]]) -> QueryInputs:
    """Inputs for score-only strategies from a hand-made probability matrix; row 0 is labeled."""
    p = torch.tensor(proba, dtype=torch.float32)
    n = p.shape[0]
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[0] = True
    labels = torch.full((n,), -1, dtype=torch.long)
    labels[0] = 0
    return QueryInputs(torch.zeros(n, 2), labeled, labels, p.shape[1], proba=p)


@pytest.fixture
def temporary_names() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards so the contract suite never sees them."""
    names: list[str] = []
    yield names
    for name in names:
        STRATEGIES.remove(name)


# --- the contract -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", strategy_names())
class TestEveryStrategy:
    def test_returns_batch_size_unique_unlabeled_indices_in_range(self, name: str) -> None:
        inputs = make_inputs()
        picked = get_strategy(name).func(inputs, 7, np.random.default_rng(0))
        arr = np.asarray(picked.cpu() if isinstance(picked, torch.Tensor) else picked)
        assert arr.shape == (7,)
        assert np.unique(arr).size == 7
        assert ((arr >= 0) & (arr < N_POOL)).all()
        assert not inputs.labeled.numpy()[arr].any()

    def test_same_seed_gives_same_indices(self, name: str) -> None:
        first = query(name, make_inputs(), 5, np.random.default_rng(3))
        second = query(name, make_inputs(), 5, np.random.default_rng(3))
        np.testing.assert_array_equal(first, second)

    def test_float32_inputs_give_int64_indices(self, name: str) -> None:
        inputs = make_inputs()
        assert inputs.embeddings.dtype == torch.float32
        assert query(name, inputs, 4, np.random.default_rng(0)).dtype == np.int64

    def test_can_take_every_unlabeled_point(self, name: str) -> None:
        picked = query(name, make_inputs(), N_POOL - N_LABELED, np.random.default_rng(0))
        assert sorted(picked.tolist()) == list(range(N_LABELED, N_POOL))

    def test_cold_start_runs_or_raises_strategy_error(self, name: str) -> None:
        cold = make_inputs(n_labeled=0)
        spec = get_strategy(name)
        if spec.cold_start:
            assert query(spec, cold, 5, np.random.default_rng(0)).shape == (5,)
        else:
            with pytest.raises(StrategyError, match="cold start"):
                query(spec, cold, 5, np.random.default_rng(0))

    def test_asking_for_more_than_the_unlabeled_pool_is_a_budget_error(self, name: str) -> None:
        with pytest.raises(BudgetError, match=f"only {N_POOL - N_LABELED} of the {N_POOL}"):
            query(name, make_inputs(), N_POOL - N_LABELED + 1, np.random.default_rng(0))


def test_random_differs_between_seeds() -> None:
    picks = {tuple(query("random", make_inputs(), 5, np.random.default_rng(s)).tolist()) for s in range(4)}
    assert len(picks) == 4


def test_every_builtin_declares_what_it_reads() -> None:
    needs = {name: get_strategy(name).needs for name in strategy_names()}
    assert needs["margin"] == {"proba"}
    assert needs["badge"] == {"proba", "hidden"}
    assert needs["bald"] == {"sampled_proba"}
    assert needs["alfamix"] == needs["dropquery"] == {"head", "proba"}
    cold = {name for name in strategy_names() if get_strategy(name).cold_start}
    assert cold == {"random", "coreset", "typiclust", "probcover"}


def test_missing_declared_input_is_a_strategy_error() -> None:
    inputs = make_inputs()
    inputs.proba = None
    with pytest.raises(StrategyError, match="needs \\['proba'\\]"):
        query("margin", inputs, 3, np.random.default_rng(0))


# --- rejecting bad strategies, registering good ones --------------------------------------------


def test_strategy_returning_duplicates_is_rejected(temporary_names: list[str]) -> None:
    @register_strategy("returns_duplicates", cold_start=True)
    def returns_duplicates(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        return np.full(batch_size, int(inputs.unlabeled_indices()[0]))

    temporary_names.append("returns_duplicates")
    with pytest.raises(StrategyError, match="duplicate indices"):
        query("returns_duplicates", make_inputs(), 3, np.random.default_rng(0))


def test_strategy_returning_labeled_points_is_rejected(temporary_names: list[str]) -> None:
    @register_strategy("returns_labeled", cold_start=True)
    def returns_labeled(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        return inputs.labeled_indices()[:batch_size].numpy()

    temporary_names.append("returns_labeled")
    with pytest.raises(StrategyError, match="already-labeled"):
        query("returns_labeled", make_inputs(), 3, np.random.default_rng(0))


def test_strategy_returning_too_few_is_rejected(temporary_names: list[str]) -> None:
    register_strategy("returns_one", cold_start=True)(lambda inputs, batch_size, rng: np.array([50]))
    temporary_names.append("returns_one")
    with pytest.raises(StrategyError, match="returned 1 indices, expected 3"):
        query("returns_one", make_inputs(), 3, np.random.default_rng(0))


def test_strategy_registered_as_a_class_runs(temporary_names: list[str]) -> None:
    @register_strategy("last_unlabeled")
    class LastUnlabeled:
        """Takes the highest-numbered unlabeled points."""

        needs = ("proba",)

        def __call__(self, inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> torch.Tensor:
            return inputs.unlabeled_indices()[-batch_size:]

    temporary_names.append("last_unlabeled")
    spec = get_strategy("last_unlabeled")
    assert spec.needs == {"proba"} and not spec.cold_start
    assert spec.description == "Takes the highest-numbered unlabeled points."
    assert query("last_unlabeled", make_inputs(), 2, np.random.default_rng(0)).tolist() == [58, 59]


# --- known answers: uncertainty and BALD ----------------------------------------------------------

PROBA = [
    [0.10, 0.10, 0.80],  # labeled: must never be picked although it is uncertain-looking
    [0.90, 0.05, 0.05],  # confident
    [0.50, 0.45, 0.05],  # smallest margin (0.05), max 0.50
    [0.40, 0.30, 0.30],  # lowest max (0.40), margin 0.10, high entropy
    [0.34, 0.33, 0.33],  # near uniform: lowest max (0.34), margin 0.01, highest entropy
    [0.70, 0.20, 0.10],  # fairly confident
    [1.00, 0.00, 0.00],  # certain, exercises 0·log 0
]


def test_margin_picks_the_smallest_margins() -> None:
    picked = query("margin", inputs_from_proba(PROBA), 2, np.random.default_rng(0))
    assert picked.tolist() == [4, 2]


def test_least_confidence_picks_the_lowest_max_probabilities() -> None:
    picked = query("least_confidence", inputs_from_proba(PROBA), 3, np.random.default_rng(0))
    assert picked.tolist() == [4, 3, 2]


def test_entropy_picks_the_largest_entropies() -> None:
    picked = query("entropy", inputs_from_proba(PROBA), 2, np.random.default_rng(0))
    assert picked.tolist() == [4, 3]


def test_uncertainty_scores_match_their_definitions() -> None:
    p = torch.tensor(PROBA, dtype=torch.float64)
    torch.testing.assert_close(least_confidence_scores(p), p.max(dim=1).values)
    torch.testing.assert_close(margin_scores(p)[2], torch.tensor(0.05, dtype=torch.float64))
    expected = torch.tensor([-sum(v * np.log(v) for v in row if v > 0) for row in PROBA], dtype=torch.float64)
    torch.testing.assert_close(entropy_scores(p), expected)


def test_exact_ties_are_broken_by_the_seed() -> None:
    tied = inputs_from_proba([[1.0, 0.0]] + [[0.5, 0.5]] * 8)
    picks = {query("margin", tied, 1, np.random.default_rng(s)).item() for s in range(12)}
    assert len(picks) > 1


MARGIN_PROBA = [
    [0.48, 0.04, 0.48],  # labeled, margin 0: never picked
    [0.20, 0.30, 0.50],  # margin 0.20; the two largest are not the first two columns
    [0.05, 0.45, 0.50],  # margin 0.05: the one smallest margin
    [0.30, 0.50, 0.20],  # margin 0.20 from the same values as row 1 in another class order: an exact tie
    [0.50, 0.20, 0.30],  # margin 0.20: the third of the tie
    [0.27, 0.49, 0.24],  # margin 0.22, yet the lowest max and the highest entropy: only margin leaves it
    [0.90, 0.05, 0.05],  # confident
]


def test_margin_ranks_by_the_top_two_gap_and_leaves_exact_ties_to_the_seeded_generator() -> None:
    """Margin's definition on hand-made probabilities (this replaces an empirical 'margin beats random' test).

    The smallest p(top1) − p(top2) goes first whatever the class order; among exactly tied rows the
    seeded generator decides, so one seed always gives the same pick and every tied row wins for some seed.
    """
    inputs = inputs_from_proba(MARGIN_PROBA)
    top_two = np.sort(np.asarray(MARGIN_PROBA, dtype=np.float32), axis=1)[:, -2:]
    torch.testing.assert_close(margin_scores(inputs.proba), torch.from_numpy(top_two[:, 1] - top_two[:, 0]))
    picks = [query("margin", inputs, 2, np.random.default_rng(seed)).tolist() for seed in range(24)]
    assert all(first == 2 and second in (1, 3, 4) for first, second in picks)
    assert {second for _, second in picks} == {1, 3, 4}
    assert picks == [query("margin", inputs, 2, np.random.default_rng(seed)).tolist() for seed in range(24)]
    whole_tie = query("margin", inputs, 4, np.random.default_rng(0)).tolist()
    assert whole_tie[0] == 2 and sorted(whole_tie[1:]) == [1, 3, 4]


def test_bald_picks_points_where_confident_passes_disagree() -> None:
    confident_agree = [[0.95, 0.05]] * 4
    confident_disagree = [[0.95, 0.05], [0.05, 0.95]] * 2
    unsure_agree = [[0.5, 0.5]] * 4  # high entropy, zero mutual information
    mild_disagree = [[0.7, 0.3], [0.3, 0.7]] * 2
    per_point = [confident_agree, confident_disagree, unsure_agree, mild_disagree, confident_disagree]
    sampled = torch.tensor(per_point, dtype=torch.float32).permute(1, 0, 2)  # (T, N, C)
    labeled = torch.tensor([False, False, False, False, True])
    inputs = QueryInputs(torch.zeros(5, 2), labeled, torch.tensor([-1, -1, -1, -1, 0]), 2, sampled_proba=sampled)
    assert query("bald", inputs, 2, np.random.default_rng(0)).tolist() == [1, 3]
    scores = bald_scores(sampled)
    assert scores[2] == pytest.approx(0.0, abs=1e-7)
    binary_entropy_095 = -(0.95 * np.log(0.95) + 0.05 * np.log(0.05))
    assert float(scores[1]) == pytest.approx(np.log(2) - binary_entropy_095, rel=1e-5)


# --- boundary seekers: Alfa-Mix and DropQuery on a two-class toy problem -----------------------


def boundary_problem(dim: int, seed: int = 0) -> tuple[QueryInputs, torch.Tensor]:
    """Class = sign of the feature sum. 40 points hug the boundary, 60 lie far from it, 10 labeled.

    Returns the inputs and a (N,) mask of the boundary points.
    """
    gen = torch.Generator().manual_seed(seed)
    w = torch.ones(dim) / dim**0.5
    side = torch.where(torch.arange(110) % 2 == 0, 1.0, -1.0)
    offset = torch.cat([torch.full((10,), 3.0), torch.full((60,), 4.0), torch.full((40,), 0.0)])
    noise = torch.randn(110, dim, generator=gen)
    noise -= (noise @ w)[:, None] * w  # noise orthogonal to w: distance to the boundary is the offset
    x = (side * offset)[:, None] * w + noise + 0.15 * torch.randn(110, 1, generator=gen) * w
    head = LinearSoftmaxHead(torch.stack([-w, w]) * 4.0)
    labeled = torch.arange(110) < 10
    truth = (side > 0).long()
    labels = torch.where(labeled, truth, torch.full_like(truth, -1))
    inputs = QueryInputs(x, labeled, labels, 2, proba=head.predict_proba(x), hidden=x, head=head)
    return inputs, torch.arange(110) >= 70


@pytest.mark.parametrize("name", ["alfamix", "dropquery"])
@pytest.mark.parametrize("seed", [0, 1])
def test_boundary_strategies_pick_points_near_the_decision_boundary(name: str, seed: int) -> None:
    inputs, near = boundary_problem(dim=16, seed=seed)
    picked = query(name, inputs, 6, np.random.default_rng(seed))
    assert near[torch.from_numpy(picked)].all()


def test_alfamix_fills_with_smallest_margins_when_nothing_flips() -> None:
    inputs, _ = boundary_problem(dim=4)
    constant = LinearSoftmaxHead(torch.zeros(2, 4), torch.tensor([0.0, 1.0]))  # never flips
    inputs.head = constant
    inputs.proba = constant.predict_proba(inputs.embeddings)
    inputs.proba[70] = torch.tensor([0.5, 0.5])
    assert query("alfamix", inputs, 1, np.random.default_rng(0)).tolist() == [70]


def test_bald_scores_in_chunks_equal_one_pass_and_never_copy_all_unlabeled_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pytest_albench.strategies.bald as bald_module

    gen = torch.Generator().manual_seed(3)
    sampled = torch.softmax(torch.randn(6, 1000, 7, generator=gen) * 3, dim=2)
    rows = torch.randperm(1000, generator=gen)[:613]
    whole = bald_scores(sampled[:, rows])
    assert torch.equal(bald_scores(sampled, rows), whole)  # one chunk: exactly the one-pass scores
    torch.testing.assert_close(bald_scores(sampled)[rows], whole, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(bald_module, "SCORE_CHUNK", 97)
    torch.testing.assert_close(bald_scores(sampled, rows), whole, rtol=1e-12, atol=1e-12)


def test_sampled_proba_is_the_stack_of_the_same_draws() -> None:
    from pytest_albench.engine.heads import _stack_draws

    gen = torch.Generator().manual_seed(0)
    expected = torch.stack([torch.rand(4, 3, generator=torch.Generator().manual_seed(0)) for _ in range(1)])
    assert torch.equal(_stack_draws(1, lambda: torch.rand(4, 3, generator=gen)), expected)
    gen_a, gen_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    stacked = torch.stack([torch.rand(4, 3, generator=gen_a) for _ in range(5)])
    assert torch.equal(_stack_draws(5, lambda: torch.rand(4, 3, generator=gen_b)), stacked)
    with pytest.raises(ConfigError, match="n_samples must be >= 1"):
        _stack_draws(0, lambda: torch.zeros(1))
