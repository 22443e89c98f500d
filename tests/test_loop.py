"""The AL loop: budgets, random streams, the test split's isolation, and what it records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from pytest_albench import register_strategy
from pytest_albench.engine.loop import PoolProblem, check_budget, run_active_learning
from pytest_albench.errors import BudgetError, EmbeddingError, StrategyError
from pytest_albench.strategies.base import STRATEGIES


@pytest.fixture(scope="module")
def problem() -> PoolProblem:
    """BBC News (packaged, real) as TF-IDF + SVD features fitted on the pool texts only."""
    from pytest_albench.data import load_dataset

    data = load_dataset("bbc_news")
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2).fit(data.train.texts)
    svd = TruncatedSVD(48, random_state=0).fit(vectorizer.transform(data.train.texts))
    embed = lambda texts: svd.transform(vectorizer.transform(texts)).astype(np.float32)  # noqa: E731
    return PoolProblem(
        embed(data.train.texts),
        data.train.labels.copy(),
        embed(data.test.texts),
        data.test.labels.copy(),
        5,
        x_validation=embed(data.validation.texts),
        y_validation=data.validation.labels.copy(),
    )


def run(problem: PoolProblem, strategy: str, seed: int = 0, **kw):
    kw.setdefault("initial_pool_size", 10)
    kw.setdefault("schedule", [10] * 4)
    return run_active_learning(problem, strategy=strategy, seed=seed, device="cpu", **kw)


def test_records_every_cycle_and_a_json_serialisable_result(problem: PoolProblem) -> None:
    result = run(problem, "margin")
    assert [c.n_labeled for c in result.cycles] == [10, 20, 30, 40, 50]
    assert all(len(c.selected) == 10 for c in result.cycles)
    assert 0.0 <= result.aulc <= 1.0 and result.final_accuracy == result.cycles[-1].test_accuracy
    assert all(c.validation_accuracy is not None for c in result.cycles)
    text = json.dumps(result.to_dict())
    assert "config_hash" in text and result.environment["versions"]["torch"]
    again = type(result).from_dict(json.loads(text))
    assert again.aulc == result.aulc and again.cycles[2].selected == result.cycles[2].selected


def test_same_seed_same_run_and_every_strategy_shares_the_initial_pool(problem: PoolProblem) -> None:
    first, second = run(problem, "typiclust", seed=4), run(problem, "typiclust", seed=4)
    assert [c.selected for c in first.cycles] == [c.selected for c in second.cycles]
    assert first.aulc == second.aulc
    pools = {s: run(problem, s, seed=4, schedule=[5]).initial_pool for s in ("random", "margin", "badge")}
    assert pools["random"] == pools["margin"] == pools["badge"]
    assert run(problem, "random", seed=5, schedule=[5]).initial_pool != pools["random"]


def test_the_test_split_never_reaches_a_strategy(problem: PoolProblem) -> None:
    seen: list[tuple[int, ...]] = []

    @register_strategy("spy_on_inputs", needs=("proba", "hidden", "head"), replace=True)
    def spy(inputs, batch_size, rng):
        seen.append((inputs.embeddings.shape[0], inputs.proba.shape[0], inputs.hidden.shape[0]))
        assert int((inputs.labels >= 0).sum()) == int(inputs.labeled.sum())  # unlabeled labels hidden
        return inputs.unlabeled_indices()[:batch_size]

    try:
        run(problem, "spy_on_inputs", schedule=[3, 3])
    finally:
        STRATEGIES.remove("spy_on_inputs")
    assert seen == [(len(problem.y_pool),) * 3] * 2


def test_a_strategy_returning_duplicates_or_labeled_points_is_caught(problem: PoolProblem) -> None:
    @register_strategy("returns_labeled", needs=("proba",), replace=True)
    def returns_labeled(inputs, batch_size, rng):
        return inputs.labeled_indices()[:batch_size]

    @register_strategy("returns_duplicates", cold_start=True, replace=True)
    def returns_duplicates(inputs, batch_size, rng):
        return np.repeat(inputs.unlabeled_indices()[0].item(), batch_size)

    try:
        with pytest.raises(StrategyError, match="already-labeled"):
            run(problem, "returns_labeled")
        with pytest.raises(StrategyError, match="duplicate"):
            run(problem, "returns_duplicates")
    finally:
        STRATEGIES.remove("returns_labeled")
        STRATEGIES.remove("returns_duplicates")


def test_budgets_the_pool_cannot_supply_are_refused_before_any_work(problem: PoolProblem) -> None:
    n = len(problem.y_pool)
    with pytest.raises(BudgetError, match=f"k0={n + 1} exceeds the pool of {n}"):
        run(problem, "random", initial_pool_size=n + 1)
    with pytest.raises(BudgetError, match="exceeds the pool"):
        run(problem, "random", schedule=[n])
    with pytest.raises(BudgetError, match=">= 1"):
        check_budget(100, 10, [5, 0])


def test_cold_start_runs_diversity_strategies_and_refuses_the_others(problem: PoolProblem) -> None:
    result = run(problem, "typiclust", initial_pool_size=0, schedule=[10, 10])
    assert [c.n_labeled for c in result.cycles] == [10, 20]
    with pytest.raises(StrategyError, match="cold start"):
        run(problem, "margin", initial_pool_size=0, schedule=[10])


def test_nan_or_inf_embeddings_are_rejected_with_the_rows(problem: PoolProblem) -> None:
    bad = problem.x_pool.copy()
    bad[[3, 7]] = np.nan
    with pytest.raises(EmbeddingError, match=r"2 of \d+ pool embeddings contain NaN or inf \(first rows \[3, 7\]\)"):
        PoolProblem(bad, problem.y_pool, problem.x_test, problem.y_test, 5)


def test_end_to_end_on_a_real_local_dataset(shared_data: Path, tmp_path: Path) -> None:
    from pytest_albench import ALConfig, EngineSettings, run_experiment

    settings = EngineSettings(data_dir=str(shared_data), cache_dir=str(tmp_path), device="cpu", progress=False)
    config = ALConfig(dataset="trec6", embedding="tfidf-lsa", strategy="badge", max_pool=1500, max_test=500, cycles=4)
    result = run_experiment(config, seed=0, settings=settings)
    assert result.data["pool_size"] == 1500 and result.data["test_size"] == 500
    assert result.data["dataset_source"].startswith("local:")
    assert [c.n_labeled for c in result.cycles] == [10, 20, 30, 40, 50]
    assert result.final_accuracy > 1 / 6


def test_the_engine_keeps_a_bounded_lru_of_embedded_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most ``max_problems`` problems and ``max_problem_bytes`` of embeddings stay in memory, least
    recently used first out, and the newest is kept whatever its size."""
    from pytest_albench import ALConfig, Engine
    from pytest_albench.engine import engine as engine_module

    built: list[str] = []

    def fake_build(config: ALConfig, settings: Engine, progress: object = None) -> PoolProblem:
        built.append(config.dataset)
        x = np.zeros((10, 100 if config.dataset != "big" else 10_000), dtype=np.float32)
        return PoolProblem(x_pool=x, y_pool=np.arange(10) % 2, x_test=x, y_test=np.arange(10) % 2, n_classes=2)

    monkeypatch.setattr(engine_module, "build_problem", fake_build)
    engine = Engine(max_problems=2, max_problem_bytes=500_000)
    for name in ("a", "b", "a", "c", "a", "b"):
        engine.problem_for(ALConfig(dataset=name))
    assert built == ["a", "b", "c", "b"]  # "a" was used most recently, so "b" was evicted by "c"
    assert engine.cached_problems() == 2
    engine.problem_for(ALConfig(dataset="big"))  # 800 kB of pool and test: more than the rest may hold
    assert engine.cached_problems() == 1
