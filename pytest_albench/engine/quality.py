"""How good is an embedding for a dataset, measured without any active learning?

The study asks whether AL strategies help more on some embeddings than on others. Answering that
needs a description of each (dataset, embedding) cell that does not come from the AL runs themselves,
otherwise gains would be correlated with themselves. These measures use the fully labeled pool:

* ``linear_probe_accuracy``: scikit-learn's ``LogisticRegression`` (lbfgs, up to 2,000 iterations)
  fitted on the whole pool: the ceiling that an AL learning curve approaches. It is the protocol's
  logistic head — the same ``C`` and ``feature_scaling`` as the case's head (``probe=``; by default
  C = 1 on the ``pool_norm`` scaling) — fitted to convergence, so the ceiling is that of the model AL
  trains, not of a differently regularised one (on raw unit-norm rows C = 1 is ~400× stronger
  regularisation than on the scaled rows, and such a probe can score below a few hundred AL labels).
* ``knn_accuracy``: 5-NN, cosine. Local label consistency, which is what diversity and density
  strategies (TypiClust, ProbCover, Coreset) rely on. k = 5 is the common default, large enough not to
  be decided by one mislabeled neighbour and small enough to stay local on the smallest classes of a
  few-thousand-point pool; being odd, it cannot tie on binary tasks.
* ``kmeans_purity``: k-means with k = number of classes on L2-normalised rows, then the share of points
  in their cluster's majority class: do the natural clusters coincide with the classes?
* ``silhouette``: silhouette of the *true* labels under cosine distance, on a seeded subsample of at
  most 2,000 points (it is quadratic): how well-separated the classes are in the geometry.

Beside these, every cell gets the label-free measures of :mod:`.label_free` (cluster structure,
intrinsic dimension, spectrum, hubness, neighbourhood robustness, anisotropy), computed on the
unlabeled pool alone: what a user can measure before buying a label, and what the advisor predicts from.

Every random choice comes from ``seed``, so the numbers are the same on every rerun. The measures of
one problem are shared by all its strategy cases, so :func:`problem_quality` memoizes them per process
and stores them in the content-keyed on-disk cache (xdist workers compute each cell once).
"""

from __future__ import annotations

import hashlib
import math
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from .label_free import LABEL_FREE_MEASURES, LABEL_FREE_SETTINGS, LABEL_FREE_VERSION, label_free_measures

__all__ = ["LABEL_FREE_MEASURES", "MEASURES", "QUALITY_VERSION", "embedding_quality", "problem_quality", "purity"]

#: Bump when a measure's definition or setting changes; older cached values are then ignored.
QUALITY_VERSION = 2  # 2: the label-free measures joined the entry
#: Measure names, in the order they are stored in a cache entry (after the integer sizes).
MEASURES = ("linear_probe_accuracy", "knn_accuracy", "kmeans_purity", "silhouette")
SIZES = ("n_pool", "n_test", "n_classes", "dim")
#: The settings that define the measures; they are part of the cache key.
SETTINGS: dict[str, Any] = {
    "probe": {"model": "LogisticRegression", "solver": "lbfgs", "C": 1.0, "max_iter": 2000, "scale": "feature_scale"},
    "knn": {"k": 5, "metric": "cosine"},
    "kmeans": {"n_init": 4, "rows": "l2-normalised"},
    "silhouette": {"max_points": 2000, "metric": "cosine"},
}

_MEMO: dict[str, dict[str, float | int]] = {}
_MEMO_LOCK = threading.Lock()


def probe_settings(probe: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The probe's settings for a head's ``C`` and ``feature_scaling`` (``probe``; None: the defaults).

    At the defaults the result is exactly :data:`SETTINGS`' probe entry, so cached measures of the
    default protocol keep their keys.
    """
    from .heads import DEFAULT_FEATURE_SCALING, check_feature_scaling

    settings = dict(SETTINGS["probe"])
    probe = dict(probe or {})
    unknown = sorted(set(probe) - {"C", "feature_scaling"})
    if unknown:
        raise DatasetError(f"the linear probe takes C and feature_scaling only, got {unknown}")
    if "C" in probe:
        settings["C"] = float(probe["C"])
    scaling = check_feature_scaling(probe.get("feature_scaling", DEFAULT_FEATURE_SCALING))
    settings["scale"] = "feature_scale" if scaling == "pool_norm" else scaling
    return settings


def embedding_quality(
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int = 0,
    probe: Mapping[str, Any] | None = None,
) -> dict[str, float | int]:
    """The four measures plus sizes; an undefined measure (e.g. one class in a subsample) is NaN.

    ``probe`` gives the linear probe the protocol head's ``C`` and ``feature_scaling``.
    """
    from sklearn.exceptions import ConvergenceWarning

    x_pool, y_pool, x_test, y_test = _validated(x_pool, y_pool, x_test, y_test)
    classes = np.unique(y_pool)
    n_pool, n_classes = len(y_pool), len(classes)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    out: dict[str, float | int] = {
        "n_pool": int(n_pool),
        "n_test": len(y_test),
        "n_classes": int(n_classes),
        "dim": int(x_pool.shape[1]),
    }

    with warnings.catch_warnings():
        # A probe stopped at max_iter is still a near-optimal ceiling estimate, and k-means on duplicate
        # points finding fewer distinct clusters is a fact about the data that purity already reflects;
        # suites run with warnings as errors, and neither should fail an AL case.
        warnings.simplefilter("ignore", ConvergenceWarning)
        out.update(_measures(x_pool, y_pool, x_test, y_test, n_classes, rng, probe_settings(probe)))
    return out


def _measures(
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    n_classes: int,
    rng: np.random.Generator,
    probe_setting: Mapping[str, Any],
) -> dict[str, float]:
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import KNeighborsClassifier

    from .loop import feature_scale

    n_pool = len(y_pool)
    out: dict[str, float] = {}
    scale = feature_scale(x_pool) if probe_setting["scale"] == "feature_scale" else 1.0
    probe = LogisticRegression(C=probe_setting["C"], solver="lbfgs", max_iter=probe_setting["max_iter"])
    probe.fit(x_pool * scale, y_pool)
    out["linear_probe_accuracy"] = float(np.mean(probe.predict(x_test * scale) == y_test))

    knn = KNeighborsClassifier(n_neighbors=min(SETTINGS["knn"]["k"], n_pool), metric="cosine", algorithm="brute")
    knn.fit(x_pool, y_pool)
    out["knn_accuracy"] = float(np.mean(knn.predict(x_test) == y_test))

    unit = _l2_normalised(x_pool)
    kmeans = KMeans(n_clusters=min(n_classes, n_pool), n_init=SETTINGS["kmeans"]["n_init"], random_state=_sk_seed(rng))
    out["kmeans_purity"] = purity(kmeans.fit_predict(unit), y_pool)

    max_points = SETTINGS["silhouette"]["max_points"]
    sample = np.sort(rng.choice(n_pool, size=max_points, replace=False)) if n_pool > max_points else np.arange(n_pool)
    labels = y_pool[sample]
    n_labels = np.unique(labels).size
    out["silhouette"] = (
        float(silhouette_score(x_pool[sample], labels, metric="cosine")) if 2 <= n_labels < len(sample) else math.nan
    )
    return out


def purity(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Share of points whose label is their cluster's most common label."""
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    _, cluster_idx = np.unique(clusters, return_inverse=True)
    _, label_idx = np.unique(labels, return_inverse=True)
    counts = np.zeros((cluster_idx.max() + 1, label_idx.max() + 1), dtype=np.int64)
    np.add.at(counts, (cluster_idx, label_idx), 1)
    return float(counts.max(axis=1).sum() / len(labels))


def problem_quality(
    problem: Any, *, cache_dir: str | Path | None = None, seed: int = 0, probe: Mapping[str, Any] | None = None
) -> dict[str, float | int]:
    """:func:`embedding_quality` of a ``PoolProblem``, memoized per process and cached on disk.

    The key hashes the arrays' content (not the dataset/embedding names), the measure settings and
    :data:`QUALITY_VERSION`, so a changed subsample, encoder or measure never reuses a stale value.
    """
    from ..storage.cache import ArrayCache, CacheKey, resolve_cache_dir

    x_pool, y_pool, x_test, y_test = problem.x_pool, problem.y_pool, problem.x_test, problem.y_test
    key = CacheKey.from_inputs(
        {
            "kind": "embedding-quality",
            "quality_version": QUALITY_VERSION,
            "settings": {**SETTINGS, "probe": probe_settings(probe)},
            "label_free": {"version": LABEL_FREE_VERSION, "settings": LABEL_FREE_SETTINGS},
            "seed": int(seed),
            "content": _content_digest(x_pool, y_pool, x_test, y_test),
        }
    )
    with _MEMO_LOCK:
        if key.digest in _MEMO:
            return dict(_MEMO[key.digest])
    cache = ArrayCache(resolve_cache_dir(cache_dir) / "quality")

    def compute() -> np.ndarray:
        values = embedding_quality(x_pool, y_pool, x_test, y_test, seed=seed, probe=probe)
        try:
            values.update(label_free_measures(x_pool, seed=seed))
        except DatasetError:  # a pool too small for them keeps its label-based measures; these are NaN
            values.update(dict.fromkeys(LABEL_FREE_MEASURES, math.nan))
        return np.array([values[name] for name in SIZES + MEASURES + LABEL_FREE_MEASURES], dtype=np.float64)

    name = problem.description.get("name", "") if isinstance(getattr(problem, "description", None), Mapping) else ""
    stored = cache.get_or_compute(key, compute, meta={"problem": str(name)}).array
    names = MEASURES + LABEL_FREE_MEASURES
    if stored.shape != (len(SIZES) + len(names),):
        raise DatasetError(  # the key includes the version, so this means a foreign file under our name
            f"embedding-quality cache entry {cache.path(key)} has shape {stored.shape}; delete it and rerun"
        )
    values: dict[str, float | int] = {name: int(v) for name, v in zip(SIZES, stored[: len(SIZES)], strict=True)}
    values.update({name: float(v) for name, v in zip(names, stored[len(SIZES) :], strict=True)})
    with _MEMO_LOCK:
        _MEMO[key.digest] = values
    return dict(values)


def _content_digest(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data.cast("B") if array.size else b"")
    return digest.hexdigest()


def _validated(
    x_pool: np.ndarray, y_pool: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x_pool, x_test = np.asarray(x_pool, dtype=np.float64), np.asarray(x_test, dtype=np.float64)
    y_pool, y_test = np.asarray(y_pool), np.asarray(y_test)
    for split, x, y in (("pool", x_pool, y_pool), ("test", x_test, y_test)):
        if x.ndim != 2 or x.shape[0] == 0 or y.shape != (x.shape[0],):
            raise DatasetError(
                f"embedding quality needs a non-empty 2-D {split} matrix with one label per row, got "
                f"embeddings {x.shape} and labels {y.shape}"
            )
    if x_pool.shape[1] != x_test.shape[1]:
        raise DatasetError(f"pool and test embeddings differ in width ({x_pool.shape[1]} vs {x_test.shape[1]})")
    if np.unique(y_pool).size < 2:
        raise DatasetError("embedding quality needs at least two classes in the pool")
    return x_pool, y_pool, x_test, y_test


def _l2_normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))
