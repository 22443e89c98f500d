"""Adapters that let our strategies and their scikit-activeml / small-text counterparts be called alike.

Why this module exists: the three libraries disagree on nearly everything a query needs. Ours wants
``QueryInputs`` with torch tensors and the head's outputs filled in by the loop; scikit-activeml wants
``query(X, y, clf=...)`` with unlabeled points marked ``np.nan`` and a classifier wrapped in its own
``SklearnClassifier``; small-text wants ``query(clf, dataset, indices_unlabeled, indices_labeled, y)``
with a ``SklearnDataset`` and, for embedding-based strategies, a classifier with an ``embed`` method.
A fair comparison needs every side to see the *same* pool matrix, the *same* labeled set and the
*same* fitted scikit-learn ``LogisticRegression``, so each adapter turns one shared ``CycleInputs``
into its library's call and nothing more. The peer libraries are optional: nothing here imports them
at module level, and ``find_peer_libraries`` says which are installed.

Every adapter has the same four methods, so the harness can time them alternately:

- ``new_state()`` — what persists between cycles of one run (our ``memo`` dict; the peer's strategy
  object, which is where scikit-activeml's ProbCover caches its distance matrix);
- ``bind(cycle)`` — untimed per-cycle setup that a real loop does after training, not when querying
  (loading the fitted weights into our head, wrapping the fitted estimator for the peer);
- ``select(state, cycle, seed)`` — the timed query: building the library's inputs from the labeled
  mask, the forward pass(es) over the pool, and the strategy itself;
- ``memo_filled(state)`` / ``memo_bytes(state)`` — whether and how much the call cached for later
  cycles.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: What a user without the peers should run (the extra is declared in pyproject.toml).
INSTALL_HINT = "pip install 'pytest-albench[peers]'"

#: Library key -> (import name, distribution name, pinned version the adapters were written for).
PEER_LIBRARIES: dict[str, tuple[str, str, str]] = {
    "skactiveml": ("skactiveml", "scikit-activeml", "1.0.1"),
    "small-text": ("small_text", "small-text", "1.4.1"),
}

#: Strategies whose selection is a deterministic function of the pool, the labeled set and the
#: classifier (up to exact ties): ours and the peers must pick the same 100 points.
DETERMINISTIC = frozenset({"least_confidence", "margin", "entropy", "coreset"})

#: Default strategies of the benchmark: ours that have a counterpart in at least one peer.
DEFAULT_STRATEGIES = ("random", "least_confidence", "margin", "entropy", "coreset", "typiclust", "probcover", "badge")

#: skactiveml's ProbCover default δ grid (``np.arange(0.2, 2.2, 0.2)``), meant for unit-norm
#: embeddings; we pass it multiplied by the pool's feature scale, so it is the same grid in the
#: scaled space both sides see.
SKACTIVEML_PROBCOVER_DELTAS = np.arange(0.2, 2.2, 0.2)


@dataclass(frozen=True)
class PeerSpec:
    """One peer counterpart of one of our strategies.

    ``time_growth`` / ``memory_growth`` are the exponents used to extrapolate the cost measured at
    one pool size N₀ to a larger N (cost × (N / N₀)^growth): 1 for strategies whose work and
    buffers are proportional to the pool, 2 for those that build an N × N matrix.
    ``min_bytes(n, d, c)`` is an a-priori lower bound of the peer's peak memory (the arrays it is
    known to allocate), used to skip it at the first size when no measurement exists yet.
    """

    library: str
    strategy: str
    display: str
    time_growth: int = 1
    memory_growth: int = 1
    min_bytes: Callable[[int, int, int], float] | None = None
    note: str = ""


def _skactiveml_badge_bytes(n: int, d: int, c: int) -> float:
    """skactiveml's Badge builds the (N, C·d) gradient embedding in the dtype of the probabilities
    and features (float32 here), and squares it once for the first centre: at least 4·N·C·d bytes."""
    return 4.0 * n * c * d


def _small_text_badge_bytes(n: int, d: int, c: int) -> float:
    """small-text's BADGE fills an ``np.zeros((N, C·d))`` float64 gradient embedding: 8·N·C·d bytes."""
    return 8.0 * n * c * d


def _probcover_matrix_bytes(n: int, d: int, c: int) -> float:
    """skactiveml's ProbCover keeps the N × N distance matrix (float32 for float32 features) and
    builds N × N boolean masks from it: at least 5·N² bytes."""
    return 5.0 * n * n


#: Our strategy -> its counterparts. A strategy without an entry here is run on our side only.
PEER_SPECS: dict[str, dict[str, PeerSpec]] = {
    "random": {
        "skactiveml": PeerSpec("skactiveml", "random", "RandomSampling"),
        "small-text": PeerSpec(
            "small-text",
            "random",
            "RandomSampling",
            note="small-text draws from numpy's global RNG (seeded before each call)",
        ),
    },
    "least_confidence": {
        "skactiveml": PeerSpec("skactiveml", "least_confidence", "UncertaintySampling(method='least_confident')"),
        "small-text": PeerSpec("small-text", "least_confidence", "LeastConfidence"),
    },
    "margin": {
        "skactiveml": PeerSpec("skactiveml", "margin", "UncertaintySampling(method='margin_sampling')"),
        "small-text": PeerSpec("small-text", "margin", "BreakingTies"),
    },
    "entropy": {
        "skactiveml": PeerSpec("skactiveml", "entropy", "UncertaintySampling(method='entropy')"),
        "small-text": PeerSpec("small-text", "entropy", "PredictionEntropy"),
    },
    "coreset": {
        "skactiveml": PeerSpec("skactiveml", "coreset", "CoreSet"),
        "small-text": PeerSpec(
            "small-text",
            "coreset",
            "GreedyCoreset(distance_metric='euclidean', normalize=False)",
            note="recomputes distances to all centres every pick",
        ),
    },
    "typiclust": {
        "skactiveml": PeerSpec(
            "skactiveml", "typiclust", "TypiClust", note="k-means with |L| + B clusters (ours caps at 500)"
        ),
    },
    "probcover": {
        "skactiveml": PeerSpec(
            "skactiveml",
            "probcover",
            "ProbCover(n_classes=C, deltas=default grid × scale)",
            time_growth=2,
            memory_growth=2,
            min_bytes=_probcover_matrix_bytes,
            note="N × N distance matrix cached on the strategy object",
        ),
    },
    "badge": {
        "skactiveml": PeerSpec(
            "skactiveml",
            "badge",
            "Badge",
            min_bytes=_skactiveml_badge_bytes,
            note="builds the (N, C·d) gradient embedding",
        ),
        "small-text": PeerSpec(
            "small-text",
            "badge",
            "BADGE(num_classes=C)",
            min_bytes=_small_text_badge_bytes,
            note="builds the (N, C·d) gradient embedding; k-means++ seeding from an unseeded RandomState",
        ),
    },
}


@dataclass(frozen=True)
class PeerLibrary:
    """Whether a peer library can be used, and its version or why not."""

    key: str
    version: str | None
    problem: str = ""

    @property
    def available(self) -> bool:
        return self.version is not None


def _import(name: str) -> Any:
    """Indirection so tests can simulate a missing peer without uninstalling it."""
    return importlib.import_module(name)


def find_peer_libraries(wanted: list[str] | None = None) -> dict[str, PeerLibrary]:
    """The requested peer libraries (all by default), each importable or with the reason it is not."""
    found: dict[str, PeerLibrary] = {}
    for key in wanted if wanted is not None else list(PEER_LIBRARIES):
        if key not in PEER_LIBRARIES:
            raise ValueError(f"unknown peer library {key!r}; known: {', '.join(PEER_LIBRARIES)}")
        module, dist, pinned = PEER_LIBRARIES[key]
        try:
            _import(module)
        except ImportError as exc:
            found[key] = PeerLibrary(key, None, f"{dist} is not installed ({exc}); {INSTALL_HINT}")
            continue
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        problem = "" if version == pinned else f"adapters were written for {dist} {pinned}, found {version}"
        found[key] = PeerLibrary(key, version, problem)
    return found


# --------------------------------------------------------------------------------------------------
# What one cycle hands to every side
# --------------------------------------------------------------------------------------------------


@dataclass
class CycleInputs:
    """The state of one AL cycle, identical for all sides.

    Attributes
    ----------
    x : (N, d) float32 pool embeddings, already multiplied by the loop's ``feature_scale``.
    labeled : (N,) bool mask of labeled points.
    labels : (N,) int64 labels; only entries where ``labeled`` is True may be read.
    n_classes : number of classes.
    clf : the fitted ``sklearn.linear_model.LogisticRegression`` (classes 0..C-1).
    batch : query size.
    scale : the feature scale that was applied to ``x`` (ProbCover's δ grid is rescaled with it).
    """

    x: np.ndarray
    labeled: np.ndarray
    labels: np.ndarray
    n_classes: int
    clf: Any
    batch: int
    scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# scikit-activeml
# --------------------------------------------------------------------------------------------------


class SkactivemlAdapter:
    """scikit-activeml 1.0.1: ``query(X, y, [clf, fit_clf=False,] batch_size=B)``.

    The fitted estimator is wrapped in skactiveml's ``SklearnClassifier``; because the estimator is
    already fitted, the wrapper's ``__sklearn_is_fitted__`` adopts a copy of it and no refit happens
    (``fit_clf=False`` in the query). The copy is made in ``bind`` (untimed), as a user would wrap
    the classifier once after training it.
    """

    library = "skactiveml"

    def __init__(self, spec: PeerSpec, n_classes: int) -> None:
        import skactiveml.pool as pool
        from skactiveml.classifier import SklearnClassifier
        from skactiveml.utils import MISSING_LABEL

        self.spec = spec
        self.n_classes = n_classes
        self._pool = pool
        self._wrapper = SklearnClassifier
        self._missing = MISSING_LABEL
        self._clf: Any = None
        self.needs_clf = spec.strategy in ("least_confidence", "margin", "entropy", "badge")

    def new_state(self, cycle: CycleInputs) -> Any:
        """A fresh query-strategy object (ProbCover caches its distances on it: that is its memo)."""
        p, s = self._pool, self.spec.strategy
        if s == "random":
            return p.RandomSampling(missing_label=self._missing)
        if s in ("least_confidence", "margin", "entropy"):
            method = {"least_confidence": "least_confident", "margin": "margin_sampling", "entropy": "entropy"}[s]
            return p.UncertaintySampling(method=method, missing_label=self._missing)
        if s == "coreset":
            return p.CoreSet(missing_label=self._missing)
        if s == "typiclust":
            return p.TypiClust(missing_label=self._missing)
        if s == "probcover":
            return p.ProbCover(
                n_classes=self.n_classes, deltas=SKACTIVEML_PROBCOVER_DELTAS * cycle.scale, missing_label=self._missing
            )
        if s == "badge":
            return p.Badge(missing_label=self._missing)
        raise ValueError(f"no scikit-activeml counterpart for {s!r}")

    def bind(self, cycle: CycleInputs) -> None:
        from sklearn.utils.validation import check_is_fitted

        self._clf = self._wrapper(cycle.clf, classes=np.arange(self.n_classes), missing_label=self._missing)
        check_is_fitted(self._clf)  # adopts the fitted estimator now, not inside the timed call

    def select(self, state: Any, cycle: CycleInputs, seed: int) -> np.ndarray:
        y = np.full(cycle.labeled.shape[0], np.nan)
        y[cycle.labeled] = cycle.labels[cycle.labeled]
        state.random_state = seed  # an int: skactiveml derives its RandomState from it on every query
        kwargs: dict[str, Any] = {"batch_size": cycle.batch}
        if self.needs_clf:
            kwargs.update(clf=self._clf, fit_clf=False)
        return np.asarray(state.query(cycle.x, y, **kwargs), dtype=np.int64)

    @staticmethod
    def memo_filled(state: Any) -> bool:
        return hasattr(state, "distances_")

    @staticmethod
    def memo_bytes(state: Any) -> int:
        held = getattr(state, "distances_", None)
        return int(held.nbytes) if isinstance(held, np.ndarray) else 0


# --------------------------------------------------------------------------------------------------
# small-text
# --------------------------------------------------------------------------------------------------


def _embedding_classifier_class() -> type:
    """small-text's ``SklearnClassifier`` plus the ``embed`` method its embedding strategies call.

    For a logistic regression the representation the last (only) linear layer sees is the input
    itself, so ``embed`` returns the dataset's features (and, when asked, the same fitted
    estimator's probabilities, which GreedyCoreset ignores and BADGE uses). Defined lazily because
    small-text is optional.
    """
    from small_text.classifiers import SklearnClassifier
    from small_text.classifiers.classification import EmbeddingMixin

    class FittedSklearnEmbeddingClassifier(SklearnClassifier, EmbeddingMixin):  # type: ignore[misc]
        def embed(self, data_set: Any, return_proba: bool = False, pbar: Any = None, **_: Any) -> Any:
            x = data_set.x
            if return_proba:
                return x, self.model.predict_proba(x)
            return x

    return FittedSklearnEmbeddingClassifier


class SmallTextAdapter:
    """small-text 1.4.1: ``query(clf, dataset, indices_unlabeled, indices_labeled, y, n=B)``.

    The classifier is small-text's ``SklearnClassifier`` around the already fitted estimator (its
    ``predict_proba(dataset)`` calls the estimator on ``dataset.x``), extended with ``embed`` for
    GreedyCoreset and BADGE. Unlabeled points carry small-text's ``LABEL_UNLABELED`` (-1) in the
    dataset; only ``y[indices_labeled]`` is passed as ``y``. small-text's random choices use numpy's
    global RNG, which is seeded before every call (BADGE's k-means++ seeding ignores it: small-text
    passes a fresh, unseeded ``RandomState``).
    """

    library = "small-text"

    def __init__(self, spec: PeerSpec, n_classes: int) -> None:
        from small_text.base import LABEL_UNLABELED
        from small_text.data import SklearnDataset

        self.spec = spec
        self.n_classes = n_classes
        self._dataset = SklearnDataset
        self._unlabeled = LABEL_UNLABELED
        self._clf_class = _embedding_classifier_class()
        self._clf: Any = None
        self._targets = np.arange(n_classes)

    def new_state(self, cycle: CycleInputs) -> Any:
        s = self.spec.strategy
        if s == "random":
            from small_text.query_strategies import RandomSampling

            return RandomSampling()
        if s == "least_confidence":
            from small_text.query_strategies import LeastConfidence

            return LeastConfidence()
        if s == "margin":
            from small_text.query_strategies import BreakingTies

            return BreakingTies()
        if s == "entropy":
            from small_text.query_strategies import PredictionEntropy

            return PredictionEntropy()
        if s == "coreset":
            from small_text.query_strategies import GreedyCoreset

            with warnings.catch_warnings():  # "default metric changed to euclidean" notice
                warnings.simplefilter("ignore")
                # normalize=False: both other sides use plain Euclidean distances on the same matrix.
                return GreedyCoreset(distance_metric="euclidean", normalize=False)
        if s == "badge":
            from small_text.integrations.pytorch.query_strategies import BADGE

            return BADGE(num_classes=self.n_classes)
        raise ValueError(f"no small-text counterpart for {s!r}")

    def bind(self, cycle: CycleInputs) -> None:
        self._clf = self._clf_class(cycle.clf, self.n_classes)

    def select(self, state: Any, cycle: CycleInputs, seed: int) -> np.ndarray:
        np.random.seed(seed % 2**32)  # noqa: NPY002 - small-text draws from numpy's global RNG
        y = np.where(cycle.labeled, cycle.labels, self._unlabeled)
        labeled = np.flatnonzero(cycle.labeled)
        unlabeled = np.flatnonzero(~cycle.labeled)
        # small-text 1.4.1 warns from its own code (a deprecated label helper inside SklearnDataset,
        # "kmeans_plusplus returned identical cluster centers"); neither concerns this comparison.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = self._dataset(cycle.x, y, target_labels=self._targets)
            picked = state.query(self._clf, dataset, unlabeled, labeled, y[labeled], n=cycle.batch)
        return np.asarray(picked, dtype=np.int64)

    @staticmethod
    def memo_filled(state: Any) -> bool:
        return False

    @staticmethod
    def memo_bytes(state: Any) -> int:
        return 0


def make_peer_adapter(spec: PeerSpec, n_classes: int) -> SkactivemlAdapter | SmallTextAdapter:
    """The adapter for ``spec``'s library (which must be installed)."""
    if spec.library == "skactiveml":
        return SkactivemlAdapter(spec, n_classes)
    if spec.library == "small-text":
        return SmallTextAdapter(spec, n_classes)
    raise ValueError(f"unknown peer library {spec.library!r}")
