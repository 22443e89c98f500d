"""Named protocols, ``validation="none"`` and the settings they resolve to, hash and record included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from historical_config import HISTORICAL_KEYS
from pytester_grid import load_json, run

from pytest_albench.data import load_dataset
from pytest_albench.engine.config import ALConfig
from pytest_albench.engine.engine import Engine, run_experiment
from pytest_albench.engine.protocols import PROTOCOLS, SKACTIVEML_DELTA_GRID, get_protocol
from pytest_albench.errors import ConfigError
from pytest_albench.strategies.base import QueryInputs
from pytest_albench.strategies.probcover import grid_radius
from pytest_albench.strategies.typiclust import typiclust


def test_the_default_protocol_leaves_a_case_as_it_was() -> None:
    config = ALConfig.for_case("bbc_news", "minilm-l6", "typiclust", cycles=3)
    assert set(config.to_dict()) == set(HISTORICAL_KEYS)
    assert config == ALConfig(dataset="bbc_news", embedding="minilm-l6", strategy="typiclust", cycles=3)


def test_scikit_activeml_protocol_sets_what_that_library_does() -> None:
    config = ALConfig.for_case("trec6", "minilm-l6", "probcover", protocol="scikit-activeml")
    head = dict(config.head_params)
    assert head["C"] == 1.0 and head["feature_scaling"] == "none" and head["max_iter"] == 1000
    assert head["warm_start"] is False
    assert config.validation == "none"
    assert config.initial_pool_size == "classes" and config.k0_for(6) == 6
    assert (
        dict(config.strategy_params)["delta_grid"]
        == SKACTIVEML_DELTA_GRID
        == (0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
    )
    assert dict(config.strategy_params)["max_degree"] is None
    typi = ALConfig.for_case("trec6", "minilm-l6", "typiclust", protocol="scikit-activeml")
    assert dict(typi.strategy_params) == {"max_clusters": None, "min_cluster_size": 1, "k_neighbors": 5}
    margin = ALConfig.for_case("trec6", "minilm-l6", "margin", protocol="scikit-activeml")
    assert margin.strategy_params == ()
    document = config.to_dict()
    assert document["protocol"] == "scikit-activeml" and document["validation"] == "none"


def test_explicit_settings_win_key_by_key_and_foreign_heads_keep_only_the_scaling() -> None:
    config = ALConfig.for_case(
        "trec6",
        "minilm-l6",
        "typiclust",
        protocol="study",
        head_params={"C": 4.0},
        strategy_params={"k_neighbors": 9},
        initial_pool_size=12,
        validation="carve",
    )
    assert dict(config.head_params)["C"] == 4.0 and dict(config.head_params)["feature_scaling"] == "none"
    assert dict(config.strategy_params) == {"max_clusters": None, "min_cluster_size": 1, "k_neighbors": 9}
    assert config.initial_pool_size == 12 and config.validation == "carve"
    mlp = ALConfig.for_case("trec6", "minilm-l6", "margin", protocol="study", head="mlp")
    assert dict(mlp.head_params) == {"feature_scaling": "none"}  # C / max_iter are the logistic head's


def test_every_protocol_is_documented_and_reachable() -> None:
    for name, protocol in PROTOCOLS.items():
        assert protocol.summary and protocol.why and get_protocol(name) is protocol
        assert protocol.describe()["name"] == name
    assert "inferred" in PROTOCOLS["study"].why.lower()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"protocol": "sklearn"}, "unknown protocol 'sklearn'; known protocols: default"),
        ({"validation": "holdout"}, "unknown validation setting 'holdout'"),
        ({"initial_pool_size": "all"}, "initial_pool_size must be a non-negative integer or 'classes'"),
        ({"head_params": {"feature_scaling": "unit"}}, None),
    ],
)
def test_bad_protocol_settings_are_refused_with_the_valid_ones(
    settings: dict[str, object], message: str | None
) -> None:
    if message is None:  # head parameters are checked when the head is built
        from pytest_albench.engine.heads import make_head

        with pytest.raises(ConfigError, match=r"unknown feature_scaling 'unit'.*'pool_norm'.*'none'"):
            make_head("logistic", 3, 0, **dict(ALConfig.for_case("d", "e", "margin", **settings).head_params))
        return
    with pytest.raises(ConfigError, match=message):
        ALConfig.for_case("bbc_news", "tfidf-lsa", "margin", **settings)


def test_validation_none_keeps_the_whole_train_split_as_the_pool() -> None:
    carved = load_dataset("bbc_news")
    whole = load_dataset("bbc_news", validation_fraction=None)
    assert len(whole.validation) == 0
    assert len(whole.train) == len(carved.train) + len(carved.validation)
    engine = Engine(progress=False)
    config = ALConfig.for_case("bbc_news", "tfidf-lsa", "random", protocol="study", cycles=1, query_size=5)
    problem = engine.problem_for(config)
    assert len(problem.y_pool) == len(whole.train) and problem.x_validation is not None
    assert problem.x_validation.shape == (0, problem.x_pool.shape[1])
    result = run_experiment(config, 0, engine)
    assert all(record.validation_accuracy is None for record in result.cycles)
    assert result.config["protocol"] == "study" and result.config["validation"] == "none"
    default = run_experiment(ALConfig.for_case("bbc_news", "tfidf-lsa", "random", cycles=1, query_size=5), 0, engine)
    assert default.config_hash != result.config_hash
    assert default.cycles[0].validation_accuracy is not None


def test_validation_none_ignores_a_datasets_own_validation_split(tmp_path: Path) -> None:
    rows = {"train": 40, "validation": 10, "test": 10}
    for split, n in rows.items():
        folder = tmp_path / "toy"
        folder.mkdir(exist_ok=True)
        lines = ["text,label"] + [
            f"{split} document number {i} about {'cats' if i % 2 else 'dogs'},{i % 2}" for i in range(n)
        ]
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")
    engine = Engine(data_dir=str(tmp_path), progress=False)
    own = engine.problem_for(ALConfig.for_case("toy", "tfidf-lsa", "random"))
    none = engine.problem_for(ALConfig.for_case("toy", "tfidf-lsa", "random", validation="none"))
    assert own.x_validation is not None and none.x_validation is not None
    assert len(own.y_pool) == len(none.y_pool) == 40
    assert own.x_validation.shape[0] == 10 and none.x_validation.shape[0] == 0


def test_k0_classes_labels_one_point_per_class_on_average() -> None:
    engine = Engine(progress=False)
    config = ALConfig.for_case(
        "bbc_news", "tfidf-lsa", "random", protocol="scikit-activeml", cycles=1, query_size=3, max_pool=200
    )
    result = run_experiment(config, 0, engine)
    assert len(result.initial_pool) == 5 == result.cycles[0].n_labeled
    assert result.config["initial_pool_size"] == 5  # the hash holds the resolved k0


def test_grid_radius_is_scikit_activemls_rule() -> None:
    other = torch.tensor([0.1, 0.5, 0.9, 1.3, 1.7, 2.5, 3.0, 3.0, 3.0, 3.0], dtype=torch.float64)
    # purity(δ) = share of points whose nearest other-label point is farther than δ (balls include
    # their boundary): 0.9 at δ=0.2 and 0.4, 0.8 at 0.6 ... so 0.4 is the largest δ with purity >= 0.9
    assert grid_radius(other, 0.9, SKACTIVEML_DELTA_GRID) == pytest.approx(0.4)
    assert grid_radius(other, 0.6, SKACTIVEML_DELTA_GRID) == pytest.approx(1.6)
    assert grid_radius(other, 0.5, SKACTIVEML_DELTA_GRID) == pytest.approx(2.0)
    assert grid_radius(other, 1.0, SKACTIVEML_DELTA_GRID) == pytest.approx(0.2)  # none pure enough: smallest
    assert grid_radius(other, 0.9, (0.4, 0.2)) == pytest.approx(0.4)  # the grid's order does not matter


def test_uncapped_typiclust_uses_labeled_plus_batch_clusters() -> None:
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(700, 4)).astype(np.float32))
    labeled = torch.zeros(700, dtype=torch.bool)
    labeled[:600] = True
    inputs = QueryInputs(x, labeled, torch.full((700,), -1), 2, memo={})
    picks = typiclust(inputs, 10, np.random.default_rng(1), max_clusters=None, min_cluster_size=1, k_neighbors=5)
    (key,) = inputs.memo["typiclust"]
    assert len(np.unique(inputs.memo["typiclust"][key].assign)) <= 610
    assert inputs.memo["typiclust"][key].assign.max() >= 500  # above the default cap of 500
    assert len(set(picks.tolist())) == 10 and not labeled[picks].any()


def test_a_session_protocol_reaches_records_tables_and_the_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_grid="""
import pytest

@pytest.mark.parametrize("strategy", ["random", "margin"])
def test_al(albench, strategy):
    albench("bbc_news", "tfidf-lsa", strategy, max_pool=200, max_test=200, cycles=2, query_size=5)

@pytest.mark.albench(protocol="default")
def test_own_protocol(albench):
    albench("bbc_news", "tfidf-lsa", "random", max_pool=200, max_test=200, cycles=2, query_size=5)
"""
    )
    out = pytester.path / "results.json"
    result = run(pytester, "--albench-protocol", "study", "--albench-seeds", "0", f"--albench-json={out}", "-q")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*protocol=study*"])
    cases = {c["case_id"]: c for c in load_json(out)["cases"]}
    study = cases["test_al[random]"]
    assert study["protocol"] == "study" and study["variant"] == "protocol=study"
    assert study["config"]["validation"] == "none" and study["config"]["head_params"]["feature_scaling"] == "none"
    own = cases["test_own_protocol"]
    assert own["protocol"] == "default" and own["variant"] == "" and "protocol" not in own["config"]
    bad = run(pytester, "--albench-protocol", "sklearn")
    bad.stderr.fnmatch_lines(
        ["*--albench-protocol: invalid value 'sklearn'; choose one of default, scikit-activeml, study*"]
    )
