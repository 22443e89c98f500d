"""BADGE: k-means++ seeding on last-layer gradient embeddings, without ever building them.

The gradient of the cross-entropy at the predicted label ŷ with respect to the last linear layer is
g_i = (p_i − e_ŷi) ⊗ h_i, a C·h vector per point: 50,000 points × 77 classes × 1,024 features would
be 15 GiB. The Kronecker structure factorises inner products, ⟨g_i, g_j⟩ = ⟨a_i, a_j⟩ · ⟨h_i, h_j⟩
with a_i = p_i − e_ŷi, so every distance the seeding needs is
||g_i − g_j||² = ||a_i||²||h_i||² + ||a_j||²||h_j||² − 2⟨a_i, a_j⟩⟨h_i, h_j⟩; memory stays
O(N·(C + h)) and each new centre costs one pass over the pool (two matrix-vector products) to update
the running minimum distances.

First centre: the unlabeled point with the largest gradient norm, as in the BADGE paper (it is the
point whose label would change the head most); exact ties are broken by the seeded generator. The
following centres are drawn by D² sampling from the seeded generator and never repeat a point.

References
----------
Ash et al. (2020), "Deep batch active learning by diverse, uncertain gradient lower bounds", ICLR.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from . import blas
from ._common import as_indices, require
from .base import QueryInputs, register_strategy
from .kernels import d2_seeding, sq_norms, top_k, torch_generator


def gradient_factors(proba: torch.Tensor) -> torch.Tensor:
    """a_i = p_i − onehot(argmax p_i), the class factor of the gradient embedding; (N, C) → (N, C)."""
    factors = proba.clone()
    rows = torch.arange(proba.shape[0], device=proba.device)
    factors[rows, proba.argmax(dim=1)] -= 1.0
    return factors


def gradient_sqdist_fn(proba: torch.Tensor, hidden: torch.Tensor) -> Callable[[int], torch.Tensor]:
    """A function j ↦ (N,) squared distances ||g_i − g_j||² from the closed form, in float64.

    Parameters
    ----------
    proba : (N, C) class probabilities of the head.
    hidden : (N, h) features the head's last linear layer sees.

    Returns
    -------
    Callable taking a pool index j and returning the (N,) float64 distances of every point to g_j,
    clamped at 0 against rounding.
    """
    factors = gradient_factors(proba)
    g_sq = sq_norms(factors).double() * sq_norms(hidden).double()

    def sqdist_to(j: int) -> torch.Tensor:
        cross = blas.matmul(factors, factors[j]).double() * blas.matmul(hidden, hidden[j]).double()
        return (g_sq + g_sq[j] - 2.0 * cross).clamp_min_(0.0)

    return sqdist_to


def gradient_sqnorms(proba: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """||g_i||² = ||a_i||² · ||h_i||² per point, (N,) float64."""
    return sq_norms(gradient_factors(proba)).double() * sq_norms(hidden).double()


@register_strategy("badge", needs={"proba", "hidden"})
def badge(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query a batch that is both uncertain (large gradients) and diverse (spread in gradient space).

    Parameters
    ----------
    inputs : needs ``proba`` (N, C) and ``hidden`` (N, h).
    batch_size : number of points to return.
    rng : drives the tie-break of the first centre and the D² draws.

    Returns
    -------
    (batch_size,) int64 pool indices, in the order they were seeded.
    """
    proba = require(inputs, "proba", "badge")
    hidden = require(inputs, "hidden", "badge")
    gen = torch_generator(rng)
    unlabeled = inputs.unlabeled_indices()
    norms = gradient_sqnorms(proba, hidden)
    first = int(unlabeled[top_k(norms[unlabeled], 1, gen)].item())
    chosen = d2_seeding(first, batch_size, gradient_sqdist_fn(proba, hidden), ~inputs.labeled, gen)
    return as_indices(torch.tensor(chosen, dtype=torch.long))
