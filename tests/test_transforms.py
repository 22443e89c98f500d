"""Embedding transforms (the quality dial): parsing, arithmetic, fitting on the pool only, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_albench.data import load_dataset
from pytest_albench.embeddings import (
    apply_transforms,
    embed_dataset,
    encoder_identity,
    get_encoder_spec,
    missing_requirement,
    parse_embedding_name,
)
from pytest_albench.engine.config import ALConfig
from pytest_albench.engine.engine import Engine, run_experiment
from pytest_albench.errors import ConfigError, EmbeddingError


def _splits(seed: int = 0, n: int = 300, d: int = 24) -> dict[str, np.ndarray]:
    """Correlated, offset rows (like an encoder's), with a test split drawn differently from the pool."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * np.linspace(3.0, 0.1, d)[:, None]
    offset = rng.standard_normal(d) * 4
    return {
        "train": rng.standard_normal((n, d)) @ mixing + offset,
        "validation": rng.standard_normal((40, d)) @ mixing + offset,
        "test": rng.standard_normal((60, d)) @ mixing + offset + 1.0,
    }


def _chain(name: str) -> tuple:
    return parse_embedding_name(name)[1]


@pytest.mark.parametrize(
    ("name", "base", "steps"),
    [
        ("minilm-l6|pca:32", "minilm-l6", ["pca:32"]),
        ("minilm-l6|noise:0.5", "minilm-l6", ["noise:0.5,seed=0"]),
        ("minilm-l6|noise:0.50,seed=3", "minilm-l6", ["noise:0.5,seed=3"]),
        ("tfidf-lsa | whiten | normalize", "tfidf-lsa", ["whiten", "normalize"]),
        ("org/model@abc|truncate:8|PCA:4", "org/model@abc", ["truncate:8", "pca:4"]),
        ("minilm-l6", "minilm-l6", []),
    ],
)
def test_names_parse_into_an_encoder_and_a_canonical_chain(name: str, base: str, steps: list[str]) -> None:
    parsed_base, chain = parse_embedding_name(name)
    assert parsed_base == base
    assert [str(step) for step in chain] == steps


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("minilm-l6|pcaa:3", "unknown transform 'pcaa'"),
        ("minilm-l6|pca:0", "dimension K >= 1"),
        ("minilm-l6|pca:2.5", "dimension K >= 1"),
        ("minilm-l6|truncate", "dimension K >= 1"),
        ("minilm-l6|noise:-1", "ratio R >= 0"),
        ("minilm-l6|noise:nan", "ratio R >= 0"),
        ("minilm-l6|noise", "ratio R >= 0"),
        ("minilm-l6|whiten:3", "takes no value"),
        ("minilm-l6|noise:1,seed=x", "seed=<non-negative integer>"),
        ("minilm-l6|pca:3,seed=1", "only noise takes"),
        ("|pca:3", "names no encoder"),
        ("minilm-l6|", "unknown transform ''"),
    ],
)
def test_a_bad_chain_is_refused_with_the_accepted_forms(name: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=r"pca:K|names no encoder|needs|takes no value|only noise") as info:
        parse_embedding_name(name)
    assert fragment in str(info.value)
    with pytest.raises(ConfigError):  # and before anything runs: the case's configuration refuses it
        ALConfig(dataset="bbc_news", embedding=name, strategy="random")


def test_pca_matches_scikit_learn_fitted_on_the_pool_only() -> None:
    from sklearn.decomposition import PCA

    splits = _splits()
    out = apply_transforms(_chain("x|pca:5"), splits)
    reference = PCA(n_components=5, svd_solver="full").fit(splits["train"])
    for split, array in splits.items():
        expected = reference.transform(array)
        signs = np.sign((out[split] * expected).sum(axis=0))  # components are defined up to sign
        np.testing.assert_allclose(out[split], expected * signs, rtol=1e-4, atol=1e-4)
    assert out["train"].dtype == np.float32 and out["train"].shape == (300, 5)
    assert np.allclose(out["train"].mean(axis=0), 0, atol=1e-4)  # centred by the pool's mean ...
    assert not np.allclose(out["test"].mean(axis=0), 0, atol=0.1)  # ... not by the test split's


def test_the_test_split_never_shapes_the_pool_features() -> None:
    splits = _splits()
    shifted = {**splits, "test": splits["test"] * 7 + 3}
    for name in ("x|pca:6", "x|whiten", "x|noise:0.5", "x|pca:6|noise:1|normalize"):
        a, b = apply_transforms(_chain(name), splits), apply_transforms(_chain(name), shifted)
        np.testing.assert_array_equal(a["train"], b["train"])
        np.testing.assert_array_equal(a["validation"], b["validation"])
        assert not np.array_equal(a["test"], b["test"])


def test_whitening_gives_the_pool_identity_covariance() -> None:
    out = apply_transforms(_chain("x|whiten"), _splits())["train"].astype(np.float64)
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(out.shape[1]), atol=1e-3)


def test_whitening_a_rank_deficient_pool_drops_the_empty_axes() -> None:
    splits = _splits(d=10)
    splits = {k: np.hstack([v, v[:, :3]]) for k, v in splits.items()}  # 13 columns, rank 10
    out = apply_transforms(_chain("x|whiten"), splits)
    assert out["train"].shape[1] == 10 and np.isfinite(out["test"]).all()


@pytest.mark.parametrize("ratio", [0.25, 1.0, 4.0])
def test_noise_power_is_the_asked_share_of_the_pools_signal_power(ratio: float) -> None:
    splits = _splits(n=4000)
    out = apply_transforms(_chain(f"x|noise:{ratio}"), splits)
    added = out["train"].astype(np.float64) - splits["train"]
    measured = added.var(axis=0).sum() / splits["train"].var(axis=0, ddof=1).sum()
    assert measured == pytest.approx(ratio, rel=0.05)
    per_axis = added.var(axis=0)  # isotropic: the same variance on every axis, whatever the signal's
    assert per_axis.max() / per_axis.min() < 1.25


def test_noise_is_reproducible_per_seed_and_independent_between_splits() -> None:
    splits = _splits()
    first, again = apply_transforms(_chain("x|noise:1"), splits), apply_transforms(_chain("x|noise:1"), splits)
    other = apply_transforms(_chain("x|noise:1,seed=1"), splits)
    np.testing.assert_array_equal(first["test"], again["test"])
    assert not np.array_equal(first["test"], other["test"])
    same = {"train": splits["train"], "test": splits["train"].copy()}
    noisy = apply_transforms(_chain("x|noise:1"), same)
    assert not np.allclose(noisy["train"], noisy["test"])  # the test rows get their own draws
    zero = apply_transforms(_chain("x|noise:0"), splits)
    np.testing.assert_allclose(zero["test"], splits["test"], rtol=1e-6)


def test_truncate_normalize_and_a_chain_compose_left_to_right() -> None:
    splits = _splits()
    truncated = apply_transforms(_chain("x|truncate:7"), splits)
    np.testing.assert_allclose(truncated["test"], splits["test"][:, :7], rtol=1e-6)
    unit = apply_transforms(_chain("x|normalize"), splits)
    np.testing.assert_allclose(np.linalg.norm(unit["test"], axis=1), 1.0, rtol=1e-5)
    chained = apply_transforms(_chain("x|pca:8|truncate:3|normalize"), splits)
    stepwise = apply_transforms(_chain("x|normalize"), apply_transforms(_chain("x|pca:3"), splits))
    np.testing.assert_allclose(chained["test"], stepwise["test"], rtol=1e-5, atol=1e-6)


def test_a_transform_wider_than_the_pool_names_the_limit() -> None:
    splits = _splits(d=24)
    with pytest.raises(EmbeddingError, match="use pca:24 or less"):
        apply_transforms(_chain("x|pca:25"), splits, where="embedding 'x|pca:25'")
    with pytest.raises(EmbeddingError, match="use truncate:24 or less"):
        apply_transforms(_chain("x|truncate:30"), splits)
    flat = {k: np.ones_like(v) for k, v in splits.items()}
    with pytest.raises(EmbeddingError, match="has none"):
        apply_transforms(_chain("x|noise:1"), flat)
    with pytest.raises(EmbeddingError, match="every pool row is the same"):
        apply_transforms(_chain("x|whiten"), flat)


def test_transformed_embeddings_are_cached_under_their_own_identity(tmp_path: Path) -> None:
    dataset = load_dataset("bbc_news")
    base = embed_dataset("tfidf-lsa", dataset, cache_dir=tmp_path, progress=False)
    first = embed_dataset("tfidf-lsa|pca:16", dataset, cache_dir=tmp_path, progress=False)
    again = embed_dataset("tfidf-lsa|pca:16", dataset, cache_dir=tmp_path, progress=False)
    wider = embed_dataset("tfidf-lsa|pca:32", dataset, cache_dir=tmp_path, progress=False)
    assert not first.fully_cached and again.fully_cached and not wider.fully_cached
    np.testing.assert_array_equal(first.test, again.test)
    assert first.train.shape == (len(dataset.train), 16) and wider.train.shape[1] == 32
    assert first.encoder_name == "tfidf-lsa|pca:16"
    identity = dict(first.encoder_identity)
    assert identity["encoder"] == dict(base.encoder_identity)
    assert identity["transforms"] == [{"op": "pca", "value": 16}]
    assert identity["fitted_on_pool"] == dataset.train.fingerprint
    assert encoder_identity("tfidf-lsa|pca:16", dataset) == identity
    assert encoder_identity("tfidf-lsa|pca:32", dataset) != identity
    expected = apply_transforms(_chain("x|pca:16"), {s: base.split(s) for s in ("train", "validation", "test")})
    np.testing.assert_array_equal(first.test, expected["test"])


def test_the_chain_needs_what_its_encoder_needs() -> None:
    assert missing_requirement("tfidf-lsa|pca:4") is None
    with pytest.raises(ConfigError, match="its encoder is 'minilm-l6'"):
        get_encoder_spec("minilm-l6|pca:4")
    with pytest.raises(ConfigError, match="unknown transform"):
        missing_requirement("tfidf-lsa|shuffle")


def test_an_al_run_on_a_dialled_embedding_records_what_produced_it() -> None:
    engine = Engine(progress=False)
    config = ALConfig.for_case("bbc_news", "tfidf-lsa|pca:8|noise:1", "margin", cycles=2, query_size=5)
    problem = engine.problem_for(config)
    assert problem.x_pool.shape[1] == 8 and problem.x_test.shape[1] == 8
    assert problem.description["embedding_identity"]["transforms"][1] == {"op": "noise", "value": 1.0, "seed": 0}
    result = run_experiment(config, 0, engine)
    plain = run_experiment(ALConfig.for_case("bbc_news", "tfidf-lsa|pca:8", "margin", cycles=2, query_size=5), 0)
    assert result.config_hash != plain.config_hash
    assert len(result.cycles) == 3 and 0.0 < result.final_accuracy <= 1.0
