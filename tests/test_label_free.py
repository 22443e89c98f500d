"""Label-free embedding measures: known geometries, invariances, determinism, degenerate and bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pytest_albench.engine.label_free import (
    LABEL_FREE_MEASURES,
    LABEL_FREE_SETTINGS,
    LABEL_FREE_VERSION,
    label_free_measures,
)
from pytest_albench.errors import DatasetError

pytest.importorskip("sklearn", reason="the label-free measures need scikit-learn")

CLUSTER = ("cluster_silhouette", "cluster_k", "cluster_stability")
SPECTRUM = ("pca_dim_90_fraction", "effective_rank_fraction", "spectrum_decay")


def blobs(seed: int = 0) -> np.ndarray:
    """Five tight, well-separated Gaussian blobs in 20-d (centres at scale 10, noise 1)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(5, 20))
    return centres[np.repeat(np.arange(5), 100)] + rng.normal(size=(500, 20))


def gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def random_rotation(d: int, seed: int = 0) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


@pytest.fixture(scope="module")
def blob_measures() -> dict[str, float]:
    return label_free_measures(blobs())


def test_api_keys_settings_and_version(blob_measures: dict[str, float]) -> None:
    assert list(blob_measures) == list(LABEL_FREE_MEASURES)
    assert len(set(LABEL_FREE_MEASURES)) == len(LABEL_FREE_MEASURES)
    assert all(isinstance(v, float) for v in blob_measures.values())
    # The settings go into a cache key: plain JSON that survives a round trip unchanged.
    assert json.loads(json.dumps(LABEL_FREE_SETTINGS, allow_nan=False)) == LABEL_FREE_SETTINGS
    assert LABEL_FREE_VERSION == 1


def test_separated_blobs_cluster_well_and_noise_does_not(blob_measures: dict[str, float]) -> None:
    noise = label_free_measures(gaussian(500, 20))
    assert blob_measures["cluster_k"] == 5
    assert blob_measures["cluster_silhouette"] > 0.9
    assert blob_measures["cluster_stability"] > 0.98
    assert noise["cluster_silhouette"] < 0.2
    assert noise["cluster_stability"] < 0.4


def test_twonn_finds_a_plane_in_50_dimensions() -> None:
    rng = np.random.default_rng(3)
    plane = rng.uniform(size=(2000, 2)) @ rng.normal(size=(2, 50))
    assert label_free_measures(plane)["intrinsic_dimension"] == pytest.approx(2.0, rel=0.2)


def test_twonn_of_a_10d_gaussian() -> None:
    assert label_free_measures(gaussian(2000, 10, seed=4))["intrinsic_dimension"] == pytest.approx(10.0, rel=0.25)


def test_twonn_ignores_duplicate_rows() -> None:
    # Each row four times: zero first-neighbour distances must not give inf/NaN, nor change the estimate.
    rng = np.random.default_rng(5)
    plane = rng.uniform(size=(400, 2)) @ rng.normal(size=(2, 30))
    once = label_free_measures(plane)["intrinsic_dimension"]
    repeated = label_free_measures(np.repeat(plane, 4, axis=0))["intrinsic_dimension"]
    assert math.isfinite(repeated) and repeated == pytest.approx(2.0, rel=0.25)
    assert repeated == pytest.approx(once, rel=1e-9)


def test_spectrum_measures_of_known_spectra() -> None:
    # Column r scaled by 1/r: covariance eigenvalues ∝ r^-2, a power law with exponent 2.
    decaying = gaussian(5000, 20, seed=6) * np.arange(1, 21) ** -1.0
    m = label_free_measures(decaying)
    assert m["spectrum_decay"] == pytest.approx(2.0, rel=0.15)
    isotropic = label_free_measures(gaussian(5000, 20, seed=7))
    assert isotropic["effective_rank_fraction"] > 0.95
    assert abs(isotropic["spectrum_decay"]) < 0.3
    assert m["effective_rank_fraction"] < 0.5 * isotropic["effective_rank_fraction"]
    # Three strong directions in 40-d: 90 % of the variance in 3 components.
    rng = np.random.default_rng(8)
    low_rank = rng.normal(size=(1000, 3)) @ rng.normal(size=(3, 40)) * 10 + rng.normal(scale=0.1, size=(1000, 40))
    assert label_free_measures(low_rank)["pca_dim_90_fraction"] == pytest.approx(3 / 40)


def test_anisotropy_of_a_common_offset_and_of_centred_noise() -> None:
    noise = gaussian(500, 20, seed=9)
    assert label_free_measures(noise + 20.0)["anisotropy"] > 0.95
    assert abs(label_free_measures(noise - noise.mean(axis=0))["anisotropy"]) < 0.02


def test_anisotropy_is_the_mean_cosine_over_all_pairs() -> None:
    x = gaussian(40, 5, seed=10) + 0.5
    x[3] = 0.0  # a zero row has no direction and is left out
    unit = x[np.arange(40) != 3]
    unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    cos = unit @ unit.T
    expected = (cos.sum() - np.trace(cos)) / (len(cos) * (len(cos) - 1))
    assert label_free_measures(x)["anisotropy"] == pytest.approx(expected, rel=1e-12)


def test_hubness_grows_with_dimension() -> None:
    # Uniform data in the unit cube (Radovanović et al.): points near the mean direction become hubs of
    # the cosine 10-NN graph as d grows. (Centred Gaussian rows would not do: under cosine they are
    # uniform on the sphere, where no point is central and hubness stays low at any d.)
    rng = np.random.default_rng(11)
    low = label_free_measures(rng.uniform(size=(1500, 3)))["hubness"]
    high = label_free_measures(rng.uniform(size=(1500, 100)))["hubness"]
    assert low < 0.5 and high > 2.0


def test_neighbourhoods_of_a_thin_manifold_survive_projection_and_noise_does_not() -> None:
    rng = np.random.default_rng(12)
    plane = label_free_measures(rng.uniform(size=(1000, 2)) @ rng.normal(size=(2, 50)))
    noise = label_free_measures(gaussian(1000, 50, seed=12))
    assert plane["neighbourhood_agreement"] > 0.7
    assert noise["neighbourhood_agreement"] < 0.3


def test_same_input_and_seed_give_identical_values_and_the_seed_matters() -> None:
    x = gaussian(300, 16, seed=13).astype(np.float32)
    first, again = label_free_measures(x, seed=3), label_free_measures(x.copy(), seed=3)
    assert first == again  # no NaN here, so == is bit-identical equality
    assert label_free_measures(x, seed=4) != first


def test_cluster_and_cosine_measures_ignore_row_scaling(blob_measures: dict[str, float]) -> None:
    scales = np.random.default_rng(14).uniform(0.1, 10.0, size=(500, 1))
    scaled = label_free_measures(blobs() * scales)
    for name in (*CLUSTER, "hubness", "anisotropy"):
        assert scaled[name] == pytest.approx(blob_measures[name], rel=1e-6, abs=1e-9), name


def test_geometry_measures_are_rotation_invariant() -> None:
    x = gaussian(600, 30, seed=15) * np.linspace(3.0, 0.2, 30) + 1.0
    plain, rotated = label_free_measures(x), label_free_measures(x @ random_rotation(30))
    for name in ("intrinsic_dimension", *SPECTRUM, "hubness", "anisotropy"):
        assert rotated[name] == pytest.approx(plain[name], rel=1e-6, abs=1e-9), name


def test_identical_rows_give_nan_not_errors() -> None:
    m = label_free_measures(np.tile(np.arange(1.0, 9.0), (50, 1)))
    for name in (*CLUSTER, "intrinsic_dimension", *SPECTRUM, "hubness", "neighbourhood_agreement"):
        assert math.isnan(m[name]), name
    assert m["anisotropy"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "x",
    [
        pytest.param(gaussian(20, 6, seed=16), id="n=20-below-the-k-grid"),
        pytest.param(gaussian(200, 1, seed=17), id="d=1"),
        pytest.param(gaussian(30, 200, seed=18), id="d>n"),
        pytest.param(np.hstack([gaussian(100, 5, seed=19), np.full((100, 3), 7.0)]), id="constant-columns"),
        pytest.param(np.repeat(gaussian(10, 4, seed=20), 3, axis=0), id="ten-distinct-rows"),
        pytest.param(np.vstack([np.zeros((10, 8)), gaussian(30, 8, seed=21)]), id="zero-rows"),
        pytest.param(np.random.default_rng(22).integers(0, 3, size=(60, 4)), id="integer-ties"),
    ],
)
def test_degenerate_inputs_give_finite_values_or_nan(x: np.ndarray) -> None:
    m = label_free_measures(x)
    assert list(m) == list(LABEL_FREE_MEASURES)
    assert not any(math.isinf(v) for v in m.values()), m
    assert math.isfinite(m["anisotropy"]) and math.isfinite(m["pca_dim_90_fraction"])


def test_degenerate_cases_are_nan_exactly_where_undefined() -> None:
    one_d = label_free_measures(gaussian(200, 1, seed=17))
    # In 1-d every row points one of two ways: no cosine clusters or cosine neighbourhoods exist.
    assert all(math.isnan(one_d[name]) for name in (*CLUSTER, "hubness"))
    assert one_d["intrinsic_dimension"] == pytest.approx(1.0, rel=0.2)
    assert one_d["pca_dim_90_fraction"] == 1.0 and math.isnan(one_d["spectrum_decay"])
    small = label_free_measures(gaussian(20, 6, seed=16))
    assert small["cluster_k"] in (5.0, 10.0)  # 20 and 50 exceed half of 20 rows
    wide = label_free_measures(gaussian(30, 200, seed=18))
    assert wide["pca_dim_90_fraction"] <= 29 / 200  # 30 centred rows span at most 29 directions
    few = label_free_measures(np.repeat(gaussian(10, 4, seed=20), 3, axis=0))
    assert math.isnan(few["hubness"]) and math.isnan(few["neighbourhood_agreement"])  # 10 distinct < k + 1


@pytest.mark.parametrize(
    ("x", "match"),
    [
        pytest.param(np.ones(100), "2-D pool", id="1-D"),
        pytest.param(np.ones((30, 4, 2)), "2-D pool", id="3-D"),
        pytest.param(np.ones((19, 4)), "at least 20 rows", id="too-few-rows"),
        pytest.param(np.ones((30, 0)), "at least one column", id="no-columns"),
        pytest.param(np.array([["a"] * 3] * 30), "real-valued", id="strings"),
        pytest.param(np.where(np.eye(30, 4) > 0, np.nan, 1.0), "4 NaN/inf entries; re-embed", id="nan"),
        pytest.param(np.where(np.eye(30, 4) > 0, np.inf, 1.0), "NaN/inf", id="inf"),
    ],
)
def test_bad_inputs_raise_a_dataset_error_naming_the_fix(x: np.ndarray, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        label_free_measures(x)


def test_every_measure_is_finite_on_a_real_embedding(albench_cache_dir: Path) -> None:
    from pytest_albench.data import load_dataset
    from pytest_albench.embeddings import embed_dataset
    from pytest_albench.errors import DatasetUnavailableError

    try:
        dataset = load_dataset("bbc_news")
    except DatasetUnavailableError as exc:
        pytest.skip(f"the packaged bbc_news dataset is not available: {exc}")
    pool = embed_dataset("tfidf-lsa", dataset, cache_dir=albench_cache_dir, progress=False).train
    m = label_free_measures(pool)
    assert all(math.isfinite(v) for v in m.values()), m
    assert m["cluster_k"] in LABEL_FREE_SETTINGS["clusters"]["k_grid"]
    assert 1.0 < m["intrinsic_dimension"] < pool.shape[1]
    assert 0.0 < m["neighbourhood_agreement"] <= 1.0 and -1.0 <= m["anisotropy"] <= 1.0
