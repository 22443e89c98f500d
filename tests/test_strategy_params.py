"""Strategy parameters from a case: declared where registered, checked on every path, passed, hashed.

The template test at the end ties ``PARAM_TABLE`` to the registry, as scikit-activeml's query
strategy templates tie their ``test_param_*`` methods to the estimator's ``__init__``: a strategy that
gains a parameter without an entry here (valid and invalid values run through ``query()``) fails it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
import torch
from historical_config import HISTORICAL_KEYS

from pytest_albench.engine.config import ALConfig
from pytest_albench.engine.loop import PoolProblem, run_active_learning
from pytest_albench.errors import ConfigError, StrategyError
from pytest_albench.strategies import (
    STRATEGIES,
    Param,
    QueryInputs,
    get_strategy,
    query,
    register_strategy,
    strategy_names,
)
from pytest_albench.strategies.dropquery import dropout_flips
from pytest_albench.strategies.probcover import purity_radius

pytest_plugins = ["pytester"]

N_POOL, DIM, N_CLASSES, N_LABELED = 60, 6, 3, 6


class LinearSoftmaxHead:
    """A fixed linear softmax classifier: the smallest thing with the head interface."""

    is_affine = False

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x @ self.weight.T, dim=1)


def make_inputs(n_labeled: int = N_LABELED) -> QueryInputs:
    """A small 3-class pool with every need a parametrized strategy declares filled in."""
    gen = torch.Generator().manual_seed(0)
    centres = 3.0 * torch.randn(N_CLASSES, DIM, generator=gen)
    truth = torch.arange(N_POOL) % N_CLASSES
    x = centres[truth] + torch.randn(N_POOL, DIM, generator=gen)
    head = LinearSoftmaxHead(centres.clone())
    labeled = torch.zeros(N_POOL, dtype=torch.bool)
    labeled[:n_labeled] = True
    labels = torch.where(labeled, truth, torch.full_like(truth, -1))
    return QueryInputs(x, labeled, labels, N_CLASSES, proba=head.predict_proba(x), head=head)  # type: ignore[arg-type]


@pytest.fixture
def temporary_strategies() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards so no other test (or the template) sees them."""
    names: list[str] = []
    yield names
    for name in names:
        STRATEGIES.remove(name)


# --- declarations are checked against the signature at registration -------------------------------------


def _with_offset(inputs: QueryInputs, batch_size: int, rng: np.random.Generator, *, offset: int = 0) -> np.ndarray:
    """The first unlabeled points after skipping ``offset`` of them: a selection a parameter visibly moves."""
    return inputs.unlabeled_indices()[offset : offset + batch_size].numpy()


OFFSET = Param("offset", "int", low=0, doc="unlabeled points skipped")


def test_a_declared_strategy_registers_with_its_params(temporary_strategies: list[str]) -> None:
    register_strategy("with_offset", cold_start=True, params=(OFFSET,))(_with_offset)
    temporary_strategies.append("with_offset")
    assert get_strategy("with_offset").params == (OFFSET,)
    picked = query("with_offset", make_inputs(), 3, np.random.default_rng(0), {"offset": 2})
    assert picked.tolist() == [N_LABELED + 2, N_LABELED + 3, N_LABELED + 4]


@pytest.mark.parametrize(
    "params, message",
    [
        ((), r"strategy 'bad' takes keyword\(s\) \['offset'\] that it does not declare"),
        (
            (OFFSET, Param("scale", "float")),
            "strategy 'bad' declares parameter 'scale' that its function does not take",
        ),
        ((OFFSET, OFFSET), "declares a parameter twice"),
        ((Param("offset", "int", low=1),), "the default 0 of 'offset' is not an int >= 1"),
        ((Param("offset", "complex"),), "is not a Param of a kind in"),  # type: ignore[arg-type]
    ],
)
def test_declarations_that_do_not_match_the_signature_are_refused(params: tuple[Param, ...], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        register_strategy("bad", cold_start=True, params=params)(_with_offset)
    assert "bad" not in STRATEGIES


def test_a_declared_keyword_needs_a_default_and_a_class_may_declare_params(temporary_strategies: list[str]) -> None:
    def no_default(inputs: QueryInputs, batch_size: int, rng: np.random.Generator, *, offset: int) -> np.ndarray:
        return _with_offset(inputs, batch_size, rng, offset=offset)

    with pytest.raises(StrategyError, match="parameter 'offset' needs a default value"):
        register_strategy("bad", cold_start=True, params=(OFFSET,))(no_default)

    @register_strategy("offset_class")
    class OffsetStrategy:
        cold_start = True
        params = (OFFSET,)

        def __call__(self, inputs: QueryInputs, batch_size: int, rng: np.random.Generator, *, offset: int = 0) -> Any:
            return _with_offset(inputs, batch_size, rng, offset=offset)

    temporary_strategies.append("offset_class")
    assert [p.name for p in get_strategy("offset_class").params] == ["offset"]


# --- ALConfig: validated when the case is built, stored sorted, hashed only when given -------------------


@pytest.mark.parametrize(
    "strategy, params, message",
    [
        (
            "typiclust",
            {"k": 3},
            "strategy 'typiclust' has no parameter 'k'; valid parameters: k_neighbors, max_clusters, min_cluster_size, "
            "n_init$",
        ),
        ("random", {"k": 3}, "strategy 'random' has no parameter 'k'; valid parameters: none"),
        (
            "dropquery",
            {"rate": 1.0},
            r"strategy 'dropquery' parameter 'rate' must be a float in \[0, 1\), got 1.0 \(out of range\)",
        ),
        ("dropquery", {"rate": "high"}, r"parameter 'rate' must be a float in \[0, 1\), got 'high' of type str"),
        ("dropquery", {"n_passes": 2.5}, "parameter 'n_passes' must be an int >= 1, got 2.5 of type float"),
        (
            "probcover",
            {"purity": 0},
            r"'probcover' parameter 'purity' must be a float in \(0, 1\], got 0 \(out of range\)",
        ),
        (
            "alfamix",
            {"alphas": []},
            r"'alphas' must be a non-empty sequence of floats in \(0, 0.5\], got \[\] \(empty\)",
        ),
    ],
)
def test_alconfig_refuses_bad_params_naming_parameter_strategy_and_range(
    strategy: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ALConfig(strategy=strategy, strategy_params=params)
    with pytest.raises(ConfigError, match=message):  # with_overrides (the plugin's path) checks the same way
        ALConfig(strategy=strategy).with_overrides(strategy_params=params)


def test_alconfig_refuses_params_that_are_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="strategy_params must be a dict"):
        ALConfig(strategy="dropquery", strategy_params=0.5)  # type: ignore[arg-type]


def test_params_are_stored_sorted_and_appear_in_the_dict_only_when_given() -> None:
    config = ALConfig(strategy="probcover", strategy_params={"purity": 1, "max_degree": None})
    assert config.strategy_params == (("max_degree", None), ("purity", 1.0))
    assert config.to_dict()["strategy_params"] == {"max_degree": None, "purity": 1.0}
    assert ALConfig.from_dict(config.to_dict()) == config
    plain = ALConfig(strategy="probcover")
    assert list(plain.to_dict()) == HISTORICAL_KEYS
    assert ALConfig(strategy="probcover", strategy_params={}).to_dict() == plain.to_dict()
    assert ALConfig(strategy="alfamix", strategy_params={"alphas": [0.5]}).strategy_params == (("alphas", (0.5,)),)


# --- the loop passes them to the query and hashes them ---------------------------------------------------


@pytest.fixture(scope="module")
def blobs() -> PoolProblem:
    """Four Gaussian classes in 8 dimensions: cheap, and enough for k-means and a logistic head."""
    rng = np.random.default_rng(0)
    centres = 4.0 * rng.standard_normal((4, 8))
    y_pool, y_test = np.arange(240) % 4, np.arange(80) % 4
    x_pool = (centres[y_pool] + rng.standard_normal((240, 8))).astype(np.float32)
    x_test = (centres[y_test] + rng.standard_normal((80, 8))).astype(np.float32)
    return PoolProblem(x_pool, y_pool, x_test, y_test, 4)


def _run(problem: PoolProblem, strategy: str, **kw: Any) -> Any:
    return run_active_learning(
        problem, strategy=strategy, seed=0, initial_pool_size=8, schedule=[8, 8], device="cpu", **kw
    )


def test_params_change_the_selection_and_enter_the_hash_only_when_given(blobs: PoolProblem) -> None:
    plain = _run(blobs, "typiclust")
    assert _run(blobs, "typiclust", strategy_params={}).config_hash == plain.config_hash
    assert "strategy_params" not in plain.config
    tuned = _run(blobs, "typiclust", strategy_params={"k_neighbors": 1, "max_clusters": 3})
    assert tuned.config["strategy_params"] == {"k_neighbors": 1, "max_clusters": 3}
    assert tuned.config_hash != plain.config_hash
    assert [c.selected for c in tuned.cycles] != [c.selected for c in plain.cycles]
    assert tuned.initial_pool == plain.initial_pool  # the parameter moves the queries, not the shared pool


def test_the_loop_hands_the_params_to_the_query(blobs: PoolProblem, temporary_strategies: list[str]) -> None:
    register_strategy("with_offset", cold_start=True, params=(OFFSET,))(_with_offset)
    temporary_strategies.append("with_offset")
    first = _run(blobs, "with_offset").cycles[1].selected
    skipped = _run(blobs, "with_offset", strategy_params={"offset": 5}).cycles[1].selected
    assert first == _run(blobs, "with_offset", strategy_params={"offset": 0}).cycles[1].selected
    assert skipped != first and len(set(skipped) & set(first)) == len(first) - 5
    with pytest.raises(ConfigError, match="'with_offset' parameter 'offset' must be an int >= 0"):
        _run(blobs, "with_offset", strategy_params={"offset": -1})


def test_a_typiclust_parameter_decides_which_point_is_typical() -> None:
    """k = 1 makes an exact duplicate pair the most typical points; k = 20 prefers the dense centre."""
    gen = torch.Generator().manual_seed(0)
    x = torch.cat([0.3 * torch.randn(30, 2, generator=gen), torch.tensor([[3.0, 0.0], [3.0, 0.0]])])
    inputs = QueryInputs(x, torch.zeros(32, dtype=torch.bool), torch.full((32,), -1), 2)
    settings = {"max_clusters": 1, "min_cluster_size": 1}
    assert query("typiclust", inputs, 1, np.random.default_rng(0), {**settings, "k_neighbors": 1})[0] in (30, 31)
    assert query("typiclust", inputs, 1, np.random.default_rng(0), settings)[0] < 30


def test_strategies_refuse_values_that_would_misbehave_even_when_called_directly() -> None:
    inputs = make_inputs()
    rows = inputs.unlabeled_indices()
    with pytest.raises(ConfigError, match=r"dropout rate must be in \[0, 1\), got 1.0"):
        dropout_flips(inputs.head, inputs.embeddings, rows, rows, 3, 1.0, torch.Generator())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"purity must be in \(0, 1\], got 1.5"):
        purity_radius(torch.ones(5), 1.5)


# --- through the plugin: marker and fixture call ----------------------------------------------------------

PLUGIN_TESTS = """
import pytest

SMALL = dict(max_pool=200, max_test=100, cycles=2, initial_pool_size=10, query_size=10, seeds=(0,))

def test_call_unknown_name(albench):
    albench("bbc_news", "tfidf-lsa", "typiclust", strategy_params={"k": 3}, **SMALL)

@pytest.mark.albench(strategy_params={"rate": 1.0})
def test_marker_out_of_range(albench):
    albench("bbc_news", "tfidf-lsa", "dropquery", **SMALL)

@pytest.mark.albench(strategy_params={"n_passes": "three"})
def test_marker_wrong_type(albench):
    albench("bbc_news", "tfidf-lsa", "dropquery", **SMALL)

def test_call_wrong_type(albench):
    albench("bbc_news", "tfidf-lsa", "typiclust", strategy_params={"k_neighbors": 2.5}, **SMALL)

@pytest.mark.albench(strategy_params={"k_neighbors": 1})
def test_marker_and_call_params_are_run_and_hashed(albench):
    plain = albench("bbc_news", "tfidf-lsa", "typiclust", **{**SMALL, "strategy_params": {}})
    marked = albench("bbc_news", "tfidf-lsa", "typiclust", **SMALL)
    called = albench("bbc_news", "tfidf-lsa", "typiclust", strategy_params={"k_neighbors": 2}, **SMALL)
    assert "strategy_params" not in plain["config"]
    assert marked["config"]["strategy_params"] == {"k_neighbors": 1}
    assert called["config"]["strategy_params"] == {"k_neighbors": 2}  # the call's params replace the marker's
    assert len({plain["config_hash"], marked["config_hash"], called["config_hash"]}) == 3
    assert marked["runs"][0]["selected"] != plain["runs"][0]["selected"]
"""


FAILURES = {
    "test_call_unknown_name": "ConfigError: strategy 'typiclust' has no parameter 'k'; "
    "valid parameters: k_neighbors, max_clusters, *",
    "test_marker_out_of_range": "ConfigError: strategy 'dropquery' parameter 'rate' must be a float in [[]0, 1), "
    "got 1.0 (out of range)",
    "test_marker_wrong_type": "ConfigError: strategy 'dropquery' parameter 'n_passes' must be an int >= 1, "
    "got 'three' of type str",
    "test_call_wrong_type": "ConfigError: strategy 'typiclust' parameter 'k_neighbors' must be an int >= 1, "
    "got 2.5 of type float",
}


def test_marker_and_fixture_call_validate_and_pass_params(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_params=PLUGIN_TESTS)
    pytester.makeini("[pytest]\nfilterwarnings =\n    ignore::DeprecationWarning\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "--albench-compare=off", "--albench-no-progress"
    )
    result.assert_outcomes(passed=1, failed=4)
    for test, message in FAILURES.items():  # the plugin reports an AlbenchError as one line under the test
        result.stdout.fnmatch_lines([f"*_ {test} _*", message], consecutive=True)


# --- the template: every declared parameter of every registered strategy has tested values ----------------


@dataclass(frozen=True)
class Cases:
    """Values one parameter is tested with: each valid one must run, each invalid one must be refused.

    ``invalid`` pairs a value with the words the refusal must contain (the reason: range or type).
    """

    valid: tuple[Any, ...]
    invalid: tuple[tuple[Any, str], ...]


NOT_INT = ((2.5, "of type float"), (True, "of type bool"), ("3", "of type str"))
NOT_FLOAT = ((True, "of type bool"), ("0.5", "of type str"))

#: (strategy, parameter) -> tested values. The template test fails when a declared parameter is missing.
PARAM_TABLE: dict[tuple[str, str], Cases] = {
    ("dropquery", "n_passes"): Cases((1, 5), ((0, "out of range"), *NOT_INT)),
    ("dropquery", "rate"): Cases((0, 0.0, 0.5, 0.99), ((1.0, "out of range"), (-0.1, "out of range"), *NOT_FLOAT)),
    ("typiclust", "max_clusters"): Cases((None, 1, 4, 500), ((0, "out of range"), *NOT_INT)),
    ("typiclust", "min_cluster_size"): Cases((1, 50), ((0, "out of range"), *NOT_INT)),
    ("typiclust", "k_neighbors"): Cases((1, 3, 100), ((0, "out of range"), *NOT_INT)),
    ("typiclust", "n_init"): Cases((1, 2), ((0, "out of range"), *NOT_INT)),
    ("probcover", "delta"): Cases((None, 0.5, 5), ((0.0, "out of range"), (float("nan"), "out of range"), *NOT_FLOAT)),
    ("probcover", "n_clusters"): Cases((None, 1, 5), ((0, "out of range"), *NOT_INT)),
    ("probcover", "purity"): Cases((1.0, 0.5, 0.01), ((0.0, "out of range"), (1.5, "out of range"), *NOT_FLOAT)),
    ("probcover", "max_degree"): Cases((None, 1, 8), ((0, "out of range"), *NOT_INT)),
    ("probcover", "delta_grid"): Cases(
        (None, (0.2, 0.4, 2.0), [1.0]),
        (([], "empty"), ((0.0, 0.2), "out of range"), (0.5, "of type float"), ("0.2", "of type str")),
    ),
    ("alfamix", "alphas"): Cases(
        ((0.5,), [0.125, 0.25], np.array([0.1, 0.2])),
        (
            ([], "empty"),
            ((0.0,), "out of range"),
            ([0.6], "out of range"),
            (0.25, "of type float"),
            (["a"], "of type list"),
            ("0.1", "of type str"),
        ),
    ),
}


def _values(kind: str) -> list[Any]:
    return [
        pytest.param(strategy, name, value, reason, id=f"{strategy}-{name}-{value!r}")
        for (strategy, name), cases in PARAM_TABLE.items()
        for value, reason in ([(v, "") for v in cases.valid] if kind == "valid" else cases.invalid)
    ]


def _declared(strategy: str, name: str) -> Param:
    return next(p for p in get_strategy(strategy).params if p.name == name)


def _expected(param: Param, value: Any) -> Any:
    """What the strategy must receive: builtins, floats for float kinds, tuples for sequences."""
    if value is None:
        return None
    if param.kind == "floats":
        return tuple(float(v) for v in value)
    return float(value) if param.kind == "float" else value


def test_every_declared_parameter_is_covered_by_the_table() -> None:
    """The template's guard: a new parameter (or a renamed one) without tested values fails here."""
    declared = {(s, p.name) for s in strategy_names() for p in get_strategy(s).params}
    assert {"dropquery", "typiclust", "probcover", "alfamix"} <= {s for s, _ in declared}
    assert sorted(declared - set(PARAM_TABLE)) == [], "declared parameters with no tested values in PARAM_TABLE"
    assert sorted(set(PARAM_TABLE) - declared) == [], "PARAM_TABLE entries for parameters no strategy declares"
    assert all(cases.valid and cases.invalid for cases in PARAM_TABLE.values())


@pytest.mark.parametrize("strategy, name, value, reason", _values("valid"))
def test_valid_values_reach_the_strategy_and_it_runs(strategy: str, name: str, value: Any, reason: str) -> None:
    spec = get_strategy(strategy)
    received: dict[str, Any] = {}

    def spy(inputs: QueryInputs, batch_size: int, rng: np.random.Generator, **params: Any) -> Any:
        received.update(params)
        return spec.func(inputs, batch_size, rng, **params)  # type: ignore[call-arg]

    inputs = make_inputs(n_labeled=0 if spec.cold_start else N_LABELED)
    picked = query(replace(spec, func=spy), inputs, 4, np.random.default_rng(0), {name: value})
    assert picked.shape == (4,) and np.unique(picked).size == 4  # query() also validated the selection
    expected = _expected(_declared(strategy, name), value)
    assert received == {name: expected} and type(received[name]) is type(expected)


@pytest.mark.parametrize("strategy, name, value, reason", _values("invalid"))
def test_invalid_values_are_refused_by_query_before_any_work(strategy: str, name: str, value: Any, reason: str) -> None:
    spec = get_strategy(strategy)

    def must_not_run(inputs: QueryInputs, batch_size: int, rng: np.random.Generator, **params: Any) -> Any:
        raise AssertionError("the strategy ran with an invalid parameter")

    inputs = make_inputs(n_labeled=0 if spec.cold_start else N_LABELED)
    with pytest.raises(ConfigError) as refused:
        query(replace(spec, func=must_not_run), inputs, 4, np.random.default_rng(0), {name: value})
    message = str(refused.value)
    assert f"strategy {strategy!r} parameter {name!r} must be {_declared(strategy, name).describe()}" in message
    assert reason in message
