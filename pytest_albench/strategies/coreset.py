"""CoreSet: k-center greedy, so that every pool point lies close to some labeled point.

Each pick is the available point farthest from everything labeled or already picked. A running
minimum distance per point makes each pick one matrix-vector pass over the pool (O(N·d)), instead of
recomputing all distances (small-text) or holding an N × N matrix.

Cold start (nothing labeled): the first point is drawn uniformly at random with the seeded
generator, as in the paper's setting where the greedy starts from a random labeled set. A
data-dependent start (e.g. the point nearest the mean) would give every seed the same initial pool,
removing the seed-to-seed variation that paired comparisons of initial pools need.

References
----------
Sener & Savarese (2018), "Active learning for convolutional neural networks: a core-set approach".
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import as_indices
from .base import QueryInputs, register_strategy
from .kernels import min_sqdist, sq_norms, sqdist_to_point, torch_generator


def k_center_greedy(x: torch.Tensor, labeled: torch.Tensor, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """Greedy k-center selection over the rows of ``x``.

    Parameters
    ----------
    x : (N, d) features.
    labeled : (N,) bool; these are centres already and are never picked.
    batch_size : number of picks.
    gen : seeded generator: one permutation that breaks exact distance ties (and picks the first
        point when nothing is labeled, since then every distance is +inf).

    Returns
    -------
    (batch_size,) int64 indices in pick order.
    """
    order = torch.randperm(x.shape[0], generator=gen).to(x.device)
    # The greedy runs on the rows in ``order``: the first maximum of torch.argmax is then the tie
    # the permutation breaks, with no gather per pick. A point that is a centre (labeled, or
    # picked) scores -1, below every distance, so no availability mask is applied per pick either;
    # a pick's update cannot raise it again (distances are clamped at 0). Each pick is one
    # matrix-vector pass over the pool plus three in-place vector ops.
    xp = x[order]
    xp_sq = sq_norms(xp)
    centre = labeled[order]
    closest = min_sqdist(xp, xp[centre])
    closest[centre] = -1.0
    picks: list[int] = []
    for _ in range(batch_size):
        local = int(torch.argmax(closest).item())
        picks.append(int(order[local].item()))
        closest = torch.minimum(closest, sqdist_to_point(xp, xp_sq, local), out=closest)
        closest[local] = -1.0
    return torch.tensor(picks, dtype=torch.long)


@register_strategy("coreset", cold_start=True)
def coreset(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query points by k-center greedy on the embeddings (CoreSet).

    Parameters
    ----------
    inputs : reads ``embeddings`` (N, d) and ``labeled`` (N,).
    batch_size : number of points to return.
    rng : breaks ties, and chooses the first point when nothing is labeled.

    Returns
    -------
    (batch_size,) int64 pool indices, in pick order.
    """
    gen = torch_generator(rng)
    return as_indices(k_center_greedy(inputs.embeddings, inputs.labeled, batch_size, gen))
