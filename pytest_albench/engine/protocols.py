"""Named protocols: the settings that make "the same experiment" as the study or as scikit-activeml.

A protocol fixes what a reader needs to compare our numbers with someone else's: the head and its
regularisation in scikit-learn's terms, how features are scaled, whether a validation split is carved
from train, the strategy settings where implementations differ, and the initial pool size. A case (the
``albench`` marker or call, ``protocol=``) or a whole run (``--albench-protocol``, ini key
``albench_protocol``) selects one by name; the case's own explicit settings still win over it, so a
protocol is a set of defaults, never a hidden override.

The protocol's name enters the configuration hash whenever it is not ``default`` (and the settings it
resolves to enter it in any case, as every setting does); every case record names its protocol, and
the rank tables and the report say which protocols produced them. The ``default`` protocol is what
every case ran with before protocols existed, so its hashes, and the stored baselines, are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..choices import DEFAULT_PROTOCOL, PROTOCOL_SUMMARIES
from ..errors import ConfigError
from ..strategies.probcover import SKACTIVEML_DELTA_GRID

#: The initial pool size that means "one labeled point per class on average" (k0 = C).
K0_CLASSES = "classes"

#: The settings of scikit-activeml 1.0.1 with scikit-learn's LogisticRegression(C=1, max_iter=1000)
#: refit from scratch on the raw rows each cycle (a warm start reaches the same optimum only within
#: the stopping tolerance, which can flip a test point near a boundary).
_SKACTIVEML_HEAD = {"C": 1.0, "feature_scaling": "none", "max_iter": 1000, "tol": 1e-4, "warm_start": False}
_SKACTIVEML_STRATEGIES: dict[str, dict[str, Any]] = {
    # |L| + B k-means clusters without a cap, every cluster eligible, typicality from 5 neighbours
    "typiclust": {"max_clusters": None, "min_cluster_size": 1, "k_neighbors": 5},
    # δ: the largest of 0.2, 0.4, ..., 2.0 with purity >= 0.95 on k-means(C) pseudo-labels, no degree cap
    "probcover": {"delta_grid": SKACTIVEML_DELTA_GRID, "max_degree": None, "purity": 0.95},
}


@dataclass(frozen=True)
class Protocol:
    """One named protocol: defaults a case gets unless it sets them itself.

    Attributes
    ----------
    name : the name cases and ``--albench-protocol`` use.
    summary : one line for tables and ``--help``.
    why : the reason for its choices, and which of them are inferred rather than documented.
    head : the head it assumes; ``head_params`` apply to that head only (``feature_scaling`` to any).
    head_params : the head's settings in scikit-learn's terms.
    validation : ``"carve"`` (the dataset's validation split, else 10 % of train) or ``"none"``.
    strategy_params : per strategy, its declared parameters.
    initial_pool_size : k0 when the case does not set one; ``"classes"`` means k0 = number of classes.
    """

    name: str
    summary: str
    why: str
    head: str = "logistic"
    head_params: Mapping[str, Any] = field(default_factory=dict)
    validation: str = "carve"
    strategy_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    initial_pool_size: int | str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "head_params", MappingProxyType(dict(self.head_params)))
        object.__setattr__(
            self,
            "strategy_params",
            MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self.strategy_params.items()}),
        )

    def settings_for(self, strategy: str, explicit: Mapping[str, Any]) -> dict[str, Any]:
        """The run settings this protocol adds to a case's ``explicit`` ones (which win, key by key).

        ``head_params`` and ``strategy_params`` merge parameter by parameter: a case that sets only
        ``C`` keeps the protocol's feature scaling and iteration cap. The protocol's head parameters
        other than ``feature_scaling`` are given only when the case runs the protocol's head.
        """
        out: dict[str, Any] = {}
        head = explicit.get("head", self.head)
        own_head = {k: v for k, v in self.head_params.items() if head == self.head or k == "feature_scaling"}
        if own_head or "head_params" in explicit:
            out["head_params"] = {**own_head, **dict(explicit.get("head_params") or {})}
        own_strategy = dict(self.strategy_params.get(strategy, {}))
        if own_strategy or "strategy_params" in explicit:
            out["strategy_params"] = {**own_strategy, **dict(explicit.get("strategy_params") or {})}
        if "validation" not in explicit and self.validation != "carve":
            out["validation"] = self.validation
        if "initial_pool_size" not in explicit and self.initial_pool_size is not None:
            out["initial_pool_size"] = self.initial_pool_size
        return out

    def describe(self) -> dict[str, Any]:
        """The protocol as plain data: for the results file, the report and ``albench-report``."""
        return {
            "name": self.name,
            "summary": self.summary,
            "head": self.head,
            "head_params": dict(self.head_params),
            "validation": self.validation,
            "strategy_params": {k: dict(v) for k, v in self.strategy_params.items()},
            "initial_pool_size": self.initial_pool_size,
        }


PROTOCOLS: dict[str, Protocol] = {
    "default": Protocol(
        name="default",
        summary=PROTOCOL_SUMMARIES["default"],
        why=(
            "Rows are rescaled to unit scale per feature (one scalar from the pool) so that one C suits "
            "encoders whose outputs differ by orders of magnitude; a validation split is carved so that "
            "model selection never needs the test split; L-BFGS warm-started from the previous cycle with "
            "at most 200 iterations (enough from a warm start); TypiClust capped at 500 clusters with 20 "
            "neighbours and clusters below 5 points skipped (the TypiClust paper); ProbCover's exact purity "
            "radius (the limit of a fine grid) with the median ball capped at 256 points."
        ),
    ),
    "scikit-activeml": Protocol(
        name="scikit-activeml",
        summary=PROTOCOL_SUMMARIES["scikit-activeml"],
        why=(
            "What scikit-activeml 1.0.1 does with scikit-learn's LogisticRegression(C=1, max_iter=1000): the "
            "raw rows, no validation carve, TypiClust with |L| + B clusters and 5 neighbours, ProbCover with "
            "δ from the grid 0.2, 0.4, ..., 2.0 at purity 0.95 on k-means(C) pseudo-labels, and an initial "
            "pool of one point per class on average (k0 = C). Read from its source, not inferred."
        ),
        head_params=_SKACTIVEML_HEAD,
        validation="none",
        strategy_params=_SKACTIVEML_STRATEGIES,
        initial_pool_size=K0_CLASSES,
    ),
    "study": Protocol(
        name="study",
        summary=PROTOCOL_SUMMARIES["study"],
        why=(
            "The study (arXiv 2506.01992) states a logistic-regression head on frozen embeddings, no "
            "validation split, and random, CoreSet and TypiClust initial pools. Inferred, not stated: the "
            "head's settings and the TypiClust/ProbCover settings, taken from the co-first author's "
            "frozen-embedding AL code, which uses scikit-activeml's strategies and scikit-learn's "
            "LogisticRegression(max_iter=1000) (C=1, raw rows) refit every cycle; k0 is left to the case "
            "(the study varied it; that code starts from one batch)."
        ),
        head_params=_SKACTIVEML_HEAD,
        validation="none",
        strategy_params=_SKACTIVEML_STRATEGIES,
    ),
}
if set(PROTOCOLS) != set(PROTOCOL_SUMMARIES):  # pragma: no cover - a definition without its name
    raise RuntimeError("pytest_albench.choices.PROTOCOL_SUMMARIES and PROTOCOLS name different protocols")


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name``, or a ConfigError listing the known ones."""
    try:
        return PROTOCOLS[name]
    except (KeyError, TypeError):
        known = "; ".join(f"{k}: {v.summary}" for k, v in PROTOCOLS.items())
        raise ConfigError(f"unknown protocol {name!r}; known protocols: {known}") from None


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


__all__ = ["DEFAULT_PROTOCOL", "K0_CLASSES", "PROTOCOLS", "SKACTIVEML_DELTA_GRID", "Protocol", "get_protocol"]
