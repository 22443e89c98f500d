"""BALD: query where the stochastic forward passes disagree, not where each one is merely unsure.

Mutual information between the prediction and the model parameters, I = H[E_t p_t] − E_t H[p_t],
is high only when individual passes are confident but disagree: that separates reducible (epistemic)
from irreducible (aleatoric) uncertainty, which plain entropy mixes.

References
----------
Houlsby et al. (2011), "Bayesian active learning for classification and preference learning";
Gal, Islam & Ghahramani (2017), "Deep Bayesian active learning with image data".
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import require, select_top
from .base import QueryInputs, register_strategy
from .kernels import torch_generator
from .uncertainty import entropy_scores

#: Rows scored at once: the float64 copy and the p·log p block of a chunk are (T, chunk, C), so the
#: peak stays a fixed amount above the (T, N, C) input instead of five times it at a million rows.
SCORE_CHUNK = 32768


def bald_scores(sampled_proba: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Mutual information per point from (T, N, C) sampled probabilities; returns (M,), >= 0.

    ``rows`` (M,) selects the points to score (default: all N), gathered chunk by chunk so that no
    (T, M, C) copy is made. Computed in float64 so that small differences between near-identical
    passes are not lost to cancellation between the two entropy terms. Every point's score depends
    only on its own (T, C) block; torch's reductions may still round differently for another block
    shape, so a pool of more than ``SCORE_CHUNK`` rows gets the one-pass scores up to the last bits,
    and a smaller one gets them exactly (both tested).
    """
    n = sampled_proba.shape[1] if rows is None else rows.shape[0]
    out = torch.empty(n, dtype=torch.float64, device=sampled_proba.device)
    for start in range(0, n, SCORE_CHUNK):
        stop = min(n, start + SCORE_CHUNK)
        block = sampled_proba[:, start:stop] if rows is None else sampled_proba[:, rows[start:stop]]
        sp = block.double()
        plogp: torch.Tensor = torch.special.xlogy(sp, sp)
        mean_entropy = -plogp.sum(dim=2).mean(dim=0)
        out[start:stop] = (entropy_scores(sp.mean(dim=0)) - mean_entropy).clamp_min(0.0)
    return out


@register_strategy("bald", needs={"sampled_proba"})
def bald(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query the unlabeled points with the largest mutual information (BALD).

    Parameters
    ----------
    inputs : needs ``sampled_proba`` (T, N, C): MC-dropout passes or posterior draws of a linear head.
    batch_size : number of points to return.
    rng : source of the seeded tie-break.

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    sampled = require(inputs, "sampled_proba", "bald")
    scores = bald_scores(sampled, inputs.unlabeled_indices())
    return select_top(scores, inputs, batch_size, torch_generator(rng), largest=True)
