"""Embedding-quality measures: hand-computable values, determinism, caching, and the case record."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pytest_albench.engine.label_free import label_free_measures
from pytest_albench.engine.loop import PoolProblem
from pytest_albench.engine.quality import MEASURES, embedding_quality, problem_quality, purity
from pytest_albench.errors import DatasetError


def separated(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three classes along three orthogonal axes with small noise: every measure is at its best."""
    rng = np.random.default_rng(seed)
    axes = np.eye(3) * 10.0
    y_pool = np.repeat(np.arange(3), 12)
    y_test = np.repeat(np.arange(3), 4)
    x_pool = axes[y_pool] + rng.normal(scale=0.1, size=(36, 3))
    x_test = axes[y_test] + rng.normal(scale=0.1, size=(12, 3))
    return x_pool, y_pool, x_test, y_test


def test_perfectly_separated_clusters_score_one() -> None:
    q = embedding_quality(*separated())
    assert q["linear_probe_accuracy"] == 1.0
    assert q["knn_accuracy"] == 1.0
    assert q["kmeans_purity"] == 1.0
    assert q["silhouette"] > 0.95
    assert (q["n_pool"], q["n_test"], q["n_classes"], q["dim"]) == (36, 12, 3, 3)


def test_knn_accuracy_counts_a_test_point_whose_neighbours_disagree() -> None:
    x_pool, y_pool, x_test, y_test = separated()
    y_test = y_test.copy()
    y_test[:3] = 1  # three of the twelve test points sit in class 0's cluster but claim class 1
    q = embedding_quality(x_pool, y_pool, x_test, y_test)
    assert q["knn_accuracy"] == pytest.approx(9 / 12)
    assert q["linear_probe_accuracy"] == pytest.approx(9 / 12)


def test_purity_of_a_constructed_clustering() -> None:
    # cluster 0 holds labels (0, 0, 1) -> majority 2; cluster 1 holds (1, 1, 1) -> 3: purity 5/6.
    assert purity(np.array([0, 0, 0, 1, 1, 1]), np.array([0, 0, 1, 1, 1, 1])) == pytest.approx(5 / 6)
    # Cluster ids and labels need not be 0..k-1.
    assert purity(np.array([7, 7, 3, 3]), np.array([5, 9, 9, 9])) == pytest.approx(3 / 4)


def test_kmeans_purity_when_two_tight_clusters_mix_labels() -> None:
    # Two tight clusters (x and y axes); cluster A has 8 points of class 0 and 2 of class 1, cluster B
    # 10 of class 1. k-means (k = 2) finds the clusters, so purity = (8 + 10) / 20 = 0.9.
    rng = np.random.default_rng(1)
    x_pool = np.vstack(
        [
            np.array([5.0, 0.0]) + rng.normal(scale=0.05, size=(10, 2)),
            np.array([0.0, 5.0]) + rng.normal(scale=0.05, size=(10, 2)),
        ]
    )
    y_pool = np.array([0] * 8 + [1] * 2 + [1] * 10)
    q = embedding_quality(x_pool, y_pool, x_pool[:2], y_pool[:2])
    assert q["kmeans_purity"] == pytest.approx(0.9)


def test_silhouette_of_four_points_by_hand() -> None:
    # Class 0: (1, 0), (1, 1); class 1: (0, 1), (-1, 1). With r = 1/sqrt(2), cosine distances are
    # 1 - r within each class, and across: d((1,0),(0,1)) = 1, d((1,0),(-1,1)) = 1 + r,
    # d((1,1),(0,1)) = 1 - r, d((1,1),(-1,1)) = 1.
    # (1,0): a = 1 - r, b = (1 + 1 + r)/2 = 1 + r/2  -> s = (3r/2) / (1 + r/2)
    # (1,1): a = 1 - r, b = (1 - r + 1)/2 = 1 - r/2  -> s = (r/2) / (1 - r/2)
    # The other class is the mirror image, so the mean is the mean of these two.
    r = 1 / math.sqrt(2)
    expected = ((1.5 * r) / (1 + r / 2) + (0.5 * r) / (1 - r / 2)) / 2
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    assert embedding_quality(x, y, x, y)["silhouette"] == pytest.approx(expected, rel=1e-9)


def test_silhouette_uses_a_seeded_subsample_of_at_most_2000_points() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 2500)
    x = np.eye(3)[y] + rng.normal(scale=0.5, size=(2500, 3))
    a = embedding_quality(x, y, x[:50], y[:50], seed=0)
    b = embedding_quality(x, y, x[:50], y[:50], seed=0)
    c = embedding_quality(x, y, x[:50], y[:50], seed=1)
    assert a == b
    assert a["silhouette"] != c["silhouette"]  # a different subsample


def test_measures_are_deterministic() -> None:
    data = separated(seed=5)
    assert embedding_quality(*data, seed=2) == embedding_quality(*data, seed=2)


def test_bad_input_names_the_problem() -> None:
    x_pool, y_pool, x_test, y_test = separated()
    with pytest.raises(DatasetError, match="two classes"):
        embedding_quality(x_pool, np.zeros_like(y_pool), x_test, y_test)
    with pytest.raises(DatasetError, match="differ in width"):
        embedding_quality(x_pool, y_pool, x_test[:, :2], y_test)


def test_problem_quality_is_cached_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_albench.engine.quality as quality

    x_pool, y_pool, x_test, y_test = separated(seed=9)
    problem = PoolProblem(x_pool=x_pool, y_pool=y_pool, x_test=x_test, y_test=y_test, n_classes=3)
    first = problem_quality(problem, cache_dir=tmp_path)
    expected = embedding_quality(x_pool, y_pool, x_test, y_test) | label_free_measures(x_pool)
    assert first.keys() == expected.keys()
    assert first == pytest.approx(expected, nan_ok=True)  # the label-free measures are in the same entry
    assert list((tmp_path / "quality").rglob("*.alb"))
    quality._MEMO.clear()
    monkeypatch.setattr(quality, "embedding_quality", lambda *a, **k: pytest.fail("recomputed despite the cache"))
    assert problem_quality(problem, cache_dir=tmp_path) == first


def test_every_case_record_carries_the_quality_of_its_cell(pytester: pytest.Pytester, tmp_path: Path) -> None:
    from pytester_grid import CONFTEST, TEST_FILE, load_json, run

    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_grid=TEST_FILE)
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n    ignore::DeprecationWarning\n")
    out = tmp_path / "r.json"
    run(pytester, "-n", "2", f"--albench-json={out}", "--albench-compare=off").assert_outcomes(passed=3)
    cases = load_json(out)["cases"]
    qualities = [case["quality"] for case in cases]
    assert all(q == qualities[0] for q in qualities)  # one (dataset, embedding) cell: one set of measures
    assert set(MEASURES) <= set(qualities[0])
    assert qualities[0]["n_pool"] == 300 and qualities[0]["n_test"] == 300
    assert 0.0 < qualities[0]["linear_probe_accuracy"] <= 1.0


def test_a_pool_too_small_for_the_label_free_measures_keeps_its_label_based_ones(tmp_path: Path) -> None:
    x_pool, y_pool, x_test, y_test = separated(seed=4)
    small = PoolProblem(x_pool=x_pool[::3], y_pool=y_pool[::3], x_test=x_test, y_test=y_test, n_classes=3)
    assert len(np.unique(small.y_pool)) >= 2
    values = problem_quality(small, cache_dir=tmp_path)
    assert math.isfinite(values["knn_accuracy"]) and math.isfinite(values["linear_probe_accuracy"])
    assert all(math.isnan(values[name]) for name in ("cluster_silhouette", "hubness", "anisotropy"))
