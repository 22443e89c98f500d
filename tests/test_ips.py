"""Initial-pool selection: the registry, every method's contract, and the errors users will meet."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from pytest_albench.errors import BudgetError, ConfigError, StrategyError, UnknownNameError
from pytest_albench.strategies import IPS_METHODS, ips_names, register_ips, select_initial_pool

N_POOL = 90


def pool(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1, 2], [60, 20, 10])
    centres = rng.normal(scale=4.0, size=(3, 5))
    return (centres[labels] + rng.normal(size=(N_POOL, 5))).astype(np.float32), labels


@pytest.fixture
def temporary_names() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        IPS_METHODS.remove(name)


def test_builtin_methods_are_registered() -> None:
    assert set(ips_names()) >= {"random", "stratified", "coreset", "typiclust", "probcover"}


@pytest.mark.parametrize("method", ["random", "stratified", "coreset", "typiclust", "probcover"])
class TestEveryMethod:
    def test_returns_k0_distinct_indices_in_range(self, method: str) -> None:
        x, labels = pool()
        picked = select_initial_pool(method, x, 12, np.random.default_rng(0), labels=labels)
        assert picked.dtype == np.int64 and picked.shape == (12,)
        assert np.unique(picked).size == 12 and picked.min() >= 0 and picked.max() < N_POOL

    def test_same_seed_same_pool(self, method: str) -> None:
        x, labels = pool()
        first = select_initial_pool(method, x, 8, np.random.default_rng(5), labels=labels)
        second = select_initial_pool(method, torch.from_numpy(x), 8, np.random.default_rng(5), labels=labels)
        np.testing.assert_array_equal(first, second)

    def test_whole_pool_and_empty_pool(self, method: str) -> None:
        x, labels = pool()
        whole = select_initial_pool(method, x, N_POOL, np.random.default_rng(0), labels=labels)
        assert sorted(whole.tolist()) == list(range(N_POOL))
        assert select_initial_pool(method, x, 0, np.random.default_rng(0), labels=labels).size == 0

    def test_k0_larger_than_the_pool_is_a_budget_error_naming_both(self, method: str) -> None:
        x, labels = pool()
        with pytest.raises(BudgetError, match=f"k0={N_POOL + 1}.*{N_POOL} points"):
            select_initial_pool(method, x, N_POOL + 1, np.random.default_rng(0), labels=labels)


def test_random_pools_differ_between_seeds() -> None:
    x, _ = pool()
    pools = {tuple(select_initial_pool("random", x, 5, np.random.default_rng(s)).tolist()) for s in range(4)}
    assert len(pools) == 4


def test_stratified_is_class_balanced_even_with_a_small_class() -> None:
    x, labels = pool()
    picked = select_initial_pool("stratified", x, 30, np.random.default_rng(0), labels=labels)
    assert np.bincount(labels[picked]).tolist() == [10, 10, 10]
    picked = select_initial_pool("stratified", x, 40, np.random.default_rng(0), labels=labels)
    assert np.bincount(labels[picked]).tolist() == [15, 15, 10]  # class 2 has only 10 points


def test_stratified_without_labels_is_a_config_error() -> None:
    x, _ = pool()
    with pytest.raises(ConfigError, match="needs the true labels"):
        select_initial_pool("stratified", x, 5, np.random.default_rng(0))


def test_labels_of_the_wrong_length_are_a_config_error() -> None:
    x, labels = pool()
    with pytest.raises(ConfigError, match="expected \\(90,\\)"):
        select_initial_pool("random", x, 5, np.random.default_rng(0), labels=labels[:-1])


def test_unknown_method_lists_the_valid_ones() -> None:
    x, _ = pool()
    with pytest.raises(UnknownNameError, match=r"Did you mean 'typiclust'.*coreset, probcover, random"):
        select_initial_pool("typiclus", x, 5, np.random.default_rng(0))


def test_cold_start_methods_work_without_labels() -> None:
    x, _ = pool()
    for method in ("coreset", "typiclust", "probcover"):
        assert select_initial_pool(method, x, 6, np.random.default_rng(0)).shape == (6,)


@pytest.mark.parametrize("seed", range(3))
def test_typiclust_pool_covers_every_cluster(seed: int) -> None:
    x, labels = pool(seed)
    picked = select_initial_pool("typiclust", x, 3, np.random.default_rng(seed), labels=labels)
    assert sorted(labels[picked].tolist()) == [0, 1, 2]


def test_registered_method_is_used_and_validated(temporary_names: list[str]) -> None:
    @register_ips("first_rows")
    def first_rows(
        embeddings: torch.Tensor,
        k0: int,
        rng: np.random.Generator,
        labels: np.ndarray | None,
        n_classes: int | None,
    ) -> list[int]:
        return list(range(k0))

    @register_ips("repeats")
    def repeats(
        embeddings: torch.Tensor,
        k0: int,
        rng: np.random.Generator,
        labels: np.ndarray | None,
        n_classes: int | None,
    ) -> list[int]:
        return [0] * k0

    temporary_names.extend(["first_rows", "repeats"])
    x, _ = pool()
    assert select_initial_pool("first_rows", x, 3, np.random.default_rng(0)).tolist() == [0, 1, 2]
    with pytest.raises(StrategyError, match=r"initial pool method 'repeats' returned duplicate indices: \[0\]"):
        select_initial_pool("repeats", x, 3, np.random.default_rng(0))


@pytest.mark.parametrize(
    "returned, message",
    [
        ([0, 1], r"initial pool method 'bad_pool' returned 2 indices, expected 3"),
        ([0, 1, 90], r"initial pool method 'bad_pool' returned indices outside the pool \[0, 90\)"),
        ([-1, 0, 1], r"returned indices outside the pool"),
        ([0.0, 1.0, 2.0], r"initial pool method 'bad_pool' must return a 1-d array of integer indices"),
        ([[0, 1, 2]], r"must return a 1-d array of integer indices"),
    ],
)
def test_pools_are_checked_by_the_one_selection_validator(
    temporary_names: list[str], returned: list[Any], message: str
) -> None:
    """Strategies and initial-pool methods share one validator, so a bad pool gets a strategy's words."""

    @register_ips("bad_pool")
    def bad_pool(
        embeddings: torch.Tensor,
        k0: int,
        rng: np.random.Generator,
        labels: np.ndarray | None,
        n_classes: int | None,
    ) -> list[Any]:
        return returned

    temporary_names.append("bad_pool")
    x, _ = pool()
    with pytest.raises(StrategyError, match=message):
        select_initial_pool("bad_pool", x, 3, np.random.default_rng(0))
