"""Label-free measures of an embedding's geometry, for choosing an AL strategy before any label exists.

:mod:`.quality` describes a (dataset, embedding) cell with its labels; a user about to start active
learning has none. These measures see only the unlabeled pool, so they can be computed first and used
to predict which query strategy will win. Diversity and density strategies (TypiClust, ProbCover,
Coreset) assume cluster structure and meaningful Euclidean neighbourhoods; uncertainty strategies
assume a geometry in which a few directions separate the classes. Each measure probes one of these:

* ``cluster_silhouette``, ``cluster_k``: k-means (k-means++, ``n_init`` 2, at most 100 iterations) on
  the L2-normalised rows of the subsample, for each k of the grid {5, 10, 20, 50} with k ≤ half the
  subsample and k ≤ its number of distinct rows; ``cluster_k`` is the k with the best cosine silhouette
  (the smallest on a tie), ``cluster_silhouette`` that silhouette. High: the pool has natural clusters,
  the structure TypiClust and ProbCover sample from. Normalised rows make both scale-free per row. On
  text embeddings the silhouette often still grows at k = 50 (bbc_news × tfidf-lsa: 0.04 at k = 5 to
  0.10 at 50), so k = 50 there says "no preferred scale", not "50 topics"; a one-element grid fixes k.
* ``cluster_stability``: four k-means runs at ``cluster_k``, each with its own seed and fitted on its
  own random 80 % of the subsample, label the whole subsample; the mean adjusted Rand index over the six
  pairs. Near 1: the clusters are a property of the data, not of one seed or one sample (Ben-Hur et al.
  2002); near 0 on structureless data, where a clustering-based selection is arbitrary.
* ``intrinsic_dimension``: TwoNN (Facco et al. 2017) on the distinct rows of the subsample: with
  μ = r₂/r₁ the ratio of the Euclidean distances to the 2nd and 1st nearest neighbours, the slope
  through the origin of −log(1 − F(μ)) against log μ, the 10 % largest μ discarded. Duplicate rows
  are dropped first (a zero r₁ has no ratio), and r₁, r₂ are recomputed from the row differences so
  that near-duplicates far from the origin keep their precision. Low: the data lies on a thin manifold
  that a few labels can cover; high: neighbourhoods are noisy and coverage needs many points.
* ``pca_dim_90_fraction``: the number of principal components holding 90 % of the variance, divided
  by the ambient dimension d. ``effective_rank_fraction``: exp of the entropy of the normalised
  covariance eigenvalues (Roy & Vetterli 2007), divided by d. ``spectrum_decay``: α of λ_r ∝ r^−α, the
  negated least-squares slope of log λ_r against log r over the top half of the non-null eigenvalues
  (the tail is the sample's noise floor). They are computed on at most 5,000 rows, eigenvalues below
  1e-12 λ₁ count as null. A fast decay means a few directions carry the signal, which favours linear
  heads and uncertainty sampling; a flat spectrum spreads it thinly.
* ``hubness``: skewness of the k-occurrence counts N₁₀ (how often a point is among the 10 cosine
  nearest neighbours of the others) in the subsample (Radovanović et al. 2010). Hubs distort every
  nearest-neighbour graph: density strategies keep choosing them, coverage strategies over-count them.
* ``neighbourhood_agreement``: mean Jaccard overlap of each subsample point's 10 Euclidean nearest
  neighbours before and after a Gaussian random projection to ⌈d/2⌉ dimensions. Projection keeps
  distances up to a relative error of about √(2/d) (Johnson–Lindenstrauss), so the neighbours survive
  only if they are clearly nearer than the rest: near 1, neighbourhoods are robust and distance-based
  strategies see structure; near 0, distances concentrate and their neighbour graphs are noise.
  Euclidean, like the Coreset, ProbCover and TypiClust implementations; unaffected by a common offset.
* ``anisotropy``: mean cosine similarity over all pairs of distinct non-zero rows of the whole pool,
  exact in O(nd) from the sum of the unit rows. Near 1: the rows share a dominant direction (common in
  LLM embeddings), so raw cosines say little until the pool is centred.

The subsample is one seeded draw of at most 2,000 rows (the pairwise measures are quadratic in it), the
same for every measure, so the cost is bounded whatever the pool size and the values of pools of
different sizes are comparable. Every random choice is drawn, in a fixed order, from
``np.random.default_rng(np.random.SeedSequence(seed))``; the same input and seed give bit-identical
values. A measure undefined for the input (all rows identical, fewer distinct rows than a
neighbourhood, d = 1 for the cosine measures) is NaN, never inf and never an exception.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..errors import DatasetError

__all__ = ["LABEL_FREE_MEASURES", "LABEL_FREE_SETTINGS", "LABEL_FREE_VERSION", "label_free_measures"]

#: Bump when a measure's definition or setting changes; older cached values are then ignored.
LABEL_FREE_VERSION = 1
#: The keys of :func:`label_free_measures`, in the order a cache entry stores them.
LABEL_FREE_MEASURES: tuple[str, ...] = (
    "cluster_silhouette",
    "cluster_k",
    "cluster_stability",
    "intrinsic_dimension",
    "pca_dim_90_fraction",
    "effective_rank_fraction",
    "spectrum_decay",
    "hubness",
    "neighbourhood_agreement",
    "anisotropy",
)
#: Every setting that defines the values (JSON-safe, for a cache key).
LABEL_FREE_SETTINGS: dict[str, Any] = {
    "min_rows": 20,
    "subsample": {"max_points": 2000},
    "clusters": {
        "rows": "l2-normalised",
        "k_grid": [5, 10, 20, 50],
        "k_max_share": 0.5,
        "select": "best cosine silhouette, smallest k on ties",
        "n_init": 2,
        "max_iter": 100,
    },
    "stability": {"runs": 4, "fit_share": 0.8, "score": "adjusted_rand", "pairs": "all"},
    "twonn": {"metric": "euclidean", "discard_share": 0.1, "fit": "through origin", "duplicates": "dropped"},
    "spectrum": {"max_points": 5000, "variance_share": 0.9, "decay_ranks": "top half", "null_tol": 1e-12},
    "hubness": {"k": 10, "metric": "cosine", "statistic": "skewness"},
    "neighbourhood": {"k": 10, "metric": "euclidean", "projection": "gaussian", "dim_share": 0.5},
    "anisotropy": {"pairs": "all distinct non-zero rows"},
}
_CHUNK = 4096


def label_free_measures(x_pool: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """The :data:`LABEL_FREE_MEASURES` of an unlabeled pool (n × d); undefined ones are NaN."""
    x = _validated(x_pool)
    n, d = x.shape
    cfg = LABEL_FREE_SETTINGS
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    # All draws up front, in a fixed order, so that no branch below shifts the stream of another.
    m = min(n, cfg["subsample"]["max_points"])
    sample = np.sort(rng.permutation(n)[:m])
    spectrum_rows = np.sort(rng.permutation(n)[: min(n, cfg["spectrum"]["max_points"])])
    grid_seeds = [_sk_seed(rng) for _ in cfg["clusters"]["k_grid"]]
    runs, fit_size = cfg["stability"]["runs"], math.ceil(cfg["stability"]["fit_share"] * m)
    stability_fits = [(_sk_seed(rng), np.sort(rng.permutation(m)[:fit_size])) for _ in range(runs)]
    projection = rng.standard_normal((d, math.ceil(d * cfg["neighbourhood"]["dim_share"])))

    xs = x[sample].astype(np.float64)
    unit = _l2_normalised(xs)
    cosine, n_directions = unit @ unit.T, _n_distinct(unit)
    distinct = np.unique(xs, axis=0)
    out = dict(_clusters(unit, cosine, n_directions, grid_seeds, stability_fits))
    out["intrinsic_dimension"] = _twonn(distinct)
    out.update(_spectrum(x[spectrum_rows].astype(np.float64), d))
    k_hub, k_nb = cfg["hubness"]["k"], cfg["neighbourhood"]["k"]
    out["hubness"] = _hubness(cosine, k_hub) if n_directions > k_hub else math.nan
    out["neighbourhood_agreement"] = _agreement(xs, projection, k_nb) if len(distinct) > k_nb else math.nan
    out["anisotropy"] = _anisotropy(x)
    return {name: float(out[name]) for name in LABEL_FREE_MEASURES}


def _clusters(
    unit: np.ndarray,
    cosine: np.ndarray,
    n_distinct: int,
    grid_seeds: list[int],
    stability_fits: list[tuple[int, np.ndarray]],
) -> dict[str, float]:
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    cfg = LABEL_FREE_SETTINGS["clusters"]
    m = len(unit)
    distance = np.clip(1.0 - cosine, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)

    def kmeans(k: int, random_state: int) -> Any:
        return KMeans(n_clusters=k, n_init=cfg["n_init"], max_iter=cfg["max_iter"], random_state=random_state)

    best_k, best = math.nan, -math.inf
    with warnings.catch_warnings():
        # Duplicate rows make k-means find fewer distinct clusters than k: a fact about the data that the
        # silhouette and the stability already reflect, not a failure (suites run with warnings as errors).
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k, random_state in zip(cfg["k_grid"], grid_seeds, strict=True):
            if k > cfg["k_max_share"] * m or k > n_distinct:
                continue
            labels = kmeans(k, random_state).fit_predict(unit)
            if 2 <= np.unique(labels).size <= m - 1:
                score = float(silhouette_score(distance, labels, metric="precomputed"))
                if score > best:
                    best_k, best = k, score
        if math.isnan(best_k):
            return {"cluster_silhouette": math.nan, "cluster_k": math.nan, "cluster_stability": math.nan}
        runs = [kmeans(int(best_k), rs).fit(unit[rows]).predict(unit) for rs, rows in stability_fits]
    pairs = [adjusted_rand_score(a, b) for i, a in enumerate(runs) for b in runs[i + 1 :]]
    return {"cluster_silhouette": best, "cluster_k": float(best_k), "cluster_stability": float(np.mean(pairs))}


def _twonn(points: np.ndarray) -> float:
    """TwoNN on distinct points: r₁, r₂ from a Gram-matrix search, then recomputed exactly."""
    if len(points) < 3:
        return math.nan
    centred = points - points.mean(axis=0)
    distances = _sq_distances(centred)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, 1, axis=1)[:, :2]
    r = np.linalg.norm(centred[:, None, :] - centred[nearest], axis=2)
    r1, r2 = r.min(axis=1), r.max(axis=1)
    keep = r1 > 0
    mu = np.sort(r2[keep] / r1[keep])
    n_fit = int(len(mu) * (1.0 - LABEL_FREE_SETTINGS["twonn"]["discard_share"]))
    if n_fit < 2:
        return math.nan
    log_mu = np.log(mu[:n_fit])
    y = -np.log1p(-np.arange(1, n_fit + 1) / len(mu))
    denominator = float(log_mu @ log_mu)
    return float(log_mu @ y) / denominator if denominator > 0 else math.nan


def _spectrum(rows: np.ndarray, d: int) -> dict[str, float]:
    """PCA-90 and effective rank (both over d) and the power-law decay of the covariance spectrum."""
    cfg = LABEL_FREE_SETTINGS["spectrum"]
    nan = {"pca_dim_90_fraction": math.nan, "effective_rank_fraction": math.nan, "spectrum_decay": math.nan}
    centred = rows - rows.mean(axis=0)
    # The non-zero eigenvalues of XᵀX and XXᵀ agree; take the smaller matrix (d > n pools).
    gram = centred.T @ centred if len(rows) >= d else centred @ centred.T
    eigenvalues = np.clip(np.linalg.eigvalsh(gram)[::-1], 0.0, None)
    if not eigenvalues[0] > 0:
        return nan
    positive = eigenvalues[eigenvalues > cfg["null_tol"] * eigenvalues[0]]
    share = positive / positive.sum()
    out = {
        "pca_dim_90_fraction": (int(np.argmax(np.cumsum(share) >= cfg["variance_share"])) + 1) / d,
        "effective_rank_fraction": math.exp(-float(share @ np.log(share))) / d,
        "spectrum_decay": math.nan,
    }
    top = max(2, len(positive) // 2)
    if len(positive) >= 2:
        log_rank = np.log(np.arange(1, top + 1))
        log_value = np.log(positive[:top])
        log_rank -= log_rank.mean()
        out["spectrum_decay"] = -float(log_rank @ (log_value - log_value.mean())) / float(log_rank @ log_rank)
    return out


def _hubness(similarity: np.ndarray, k: int) -> float:
    counts = np.bincount(_knn(similarity, k).ravel(), minlength=len(similarity)).astype(np.float64)
    spread = counts.std()
    return float(np.mean((counts - counts.mean()) ** 3) / spread**3) if spread > 0 else math.nan


def _agreement(rows: np.ndarray, projection: np.ndarray, k: int) -> float:
    centred = rows - rows.mean(axis=0)
    full = _knn(-_sq_distances(centred), k)
    projected = _knn(-_sq_distances(centred @ projection), k)
    # Each row's two sets hold distinct indices, so equal neighbours in the sorted union are the overlap.
    both = np.sort(np.concatenate([full, projected], axis=1), axis=1)
    overlap = np.count_nonzero(np.diff(both, axis=1) == 0, axis=1)
    return float(np.mean(overlap / (2 * k - overlap)))


def _anisotropy(x: np.ndarray) -> float:
    """Mean cosine over pairs i ≠ j of non-zero rows: (‖Σuᵢ‖² − Σ‖uᵢ‖²) / (c(c − 1)), in row chunks."""
    total, squares, count = np.zeros(x.shape[1]), 0.0, 0
    for start in range(0, len(x), _CHUNK):
        rows = x[start : start + _CHUNK].astype(np.float64)
        norms = np.linalg.norm(rows, axis=1)
        unit = rows[norms > 0] / norms[norms > 0, None]
        total += unit.sum(axis=0)
        squares += float(np.einsum("ij,ij->", unit, unit))
        count += len(unit)
    return (float(total @ total) - squares) / (count * (count - 1)) if count >= 2 else math.nan


def _knn(similarity: np.ndarray, k: int) -> np.ndarray:
    """(m, k) indices of each row's k most similar other rows (itself excluded by index)."""
    similarity = similarity.copy()
    np.fill_diagonal(similarity, -np.inf)
    return np.argpartition(-similarity, k - 1, axis=1)[:, :k]


def _sq_distances(rows: np.ndarray) -> np.ndarray:
    norms = np.einsum("ij,ij->i", rows, rows)
    squared: np.ndarray = np.clip(norms[:, None] + norms[None, :] - 2.0 * (rows @ rows.T), 0.0, None)
    return squared


def _n_distinct(rows: np.ndarray) -> int:
    return int(np.unique(rows, axis=0).shape[0])


def _validated(x_pool: np.ndarray) -> np.ndarray:
    x = np.asarray(x_pool)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise DatasetError(f"label-free measures need a real-valued embedding matrix, got dtype {x.dtype}")
    min_rows = LABEL_FREE_SETTINGS["min_rows"]
    if x.ndim != 2 or x.shape[0] < min_rows or x.shape[1] < 1:
        raise DatasetError(
            f"label-free measures need a 2-D pool of at least {min_rows} rows (one embedding per row) and "
            f"at least one column, got shape {x.shape}; pass the pool's embeddings, e.g. reshape(n, -1)"
        )
    if not np.isfinite(x).all():
        raise DatasetError(
            f"the pool has {int(np.size(x) - np.count_nonzero(np.isfinite(x)))} NaN/inf entries; "
            "re-embed it or drop those rows before computing label-free measures"
        )
    return x


def _l2_normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))
