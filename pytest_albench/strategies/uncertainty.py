"""Uncertainty sampling: least confidence, margin and entropy of the head's class probabilities.

Each strategy is a vectorised score over the unlabeled rows plus the shared seeded top-k, so the three
differ only in one line of arithmetic (the scoring/selection split of small-text and
scikit-activeml). Scores are public so tests and users can inspect what was ranked.

References
----------
Lewis & Gale (1994), "A sequential algorithm for training text classifiers" (least confidence);
Scheffer et al. (2001), "Active hidden Markov models for information extraction" (margin);
Settles (2009), "Active learning literature survey" (entropy).
"""

from __future__ import annotations

import numpy as np
import torch

from .._torch_ops import torch_generator
from ._common import margins, require, select_top
from .base import QueryInputs, register_strategy


def least_confidence_scores(proba: torch.Tensor) -> torch.Tensor:
    """Max-probability per row of (M, C) probabilities; the *lowest* is the least confident."""
    return proba.max(dim=1).values


def margin_scores(proba: torch.Tensor) -> torch.Tensor:
    """p(top1) − p(top2) per row of (M, C) probabilities; the *smallest* is the most ambiguous."""
    return margins(proba)


def entropy_scores(proba: torch.Tensor) -> torch.Tensor:
    """−Σ_c p_c log p_c per row of (M, C) probabilities; ``xlogy`` makes 0 · log 0 = 0, not NaN."""
    plogp: torch.Tensor = torch.special.xlogy(proba, proba)
    return -plogp.sum(dim=1)


def _unlabeled_proba(inputs: QueryInputs, strategy: str) -> torch.Tensor:
    return require(inputs, "proba", strategy)[inputs.unlabeled_indices()]


@register_strategy("least_confidence", needs={"proba"})
def least_confidence(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query the unlabeled points whose most likely class has the lowest probability.

    Parameters
    ----------
    inputs : needs ``proba`` (N, C).
    batch_size : number of points to return.
    rng : source of the seeded tie-break.

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    scores = least_confidence_scores(_unlabeled_proba(inputs, "least_confidence"))
    return select_top(scores, inputs, batch_size, torch_generator(rng), largest=False)


@register_strategy("margin", needs={"proba"})
def margin(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query the unlabeled points with the smallest gap between the two most likely classes.

    Parameters
    ----------
    inputs : needs ``proba`` (N, C).
    batch_size : number of points to return.
    rng : source of the seeded tie-break.

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    scores = margin_scores(_unlabeled_proba(inputs, "margin"))
    return select_top(scores, inputs, batch_size, torch_generator(rng), largest=False)


@register_strategy("entropy", needs={"proba"})
def entropy(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query the unlabeled points whose predicted class distribution has the largest entropy.

    Parameters
    ----------
    inputs : needs ``proba`` (N, C).
    batch_size : number of points to return.
    rng : source of the seeded tie-break.

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    scores = entropy_scores(_unlabeled_proba(inputs, "entropy"))
    return select_top(scores, inputs, batch_size, torch_generator(rng), largest=True)
