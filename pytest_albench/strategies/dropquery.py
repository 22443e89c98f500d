"""DropQuery: query points whose prediction is unstable under heavy dropout on the input features.

The head classifies each unlabeled embedding M times with dropout applied to the features it reads;
points whose predicted label changes in more than half of the passes are candidates (they depend on
few features, i.e. lie near a boundary). Candidates are spread out by k-means into ``batch_size``
clusters, taking the candidate closest to each centre; if there are too few, the batch is filled
uniformly at random from the other unlabeled points, as in the paper.

Defaults follow the paper: M = 3 passes, dropout rate 0.75 with the usual inverted-dropout scaling
1 / (1 − p) (what ``torch.nn.functional.dropout`` does in training mode), so the expected input is
unchanged. Masks are drawn on the embeddings' device from a generator seeded by ``rng``.

References
----------
Gupte et al. (2024), "Revisiting active learning in the era of vision foundation models", TMLR.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from ._common import as_indices, diverse_subset, random_fill, require, require_head
from .base import ProbaHead, QueryInputs, register_strategy
from .kernels import DEFAULT_CHUNK, device_generator, torch_generator
from .params import Param

#: What a case may set (``strategy_params``); a rate of 1 would drop every feature and divide by zero.
PARAMS = (
    Param("n_passes", "int", low=1, doc="dropout passes per point (paper: 3)"),
    Param("rate", "float", low=0.0, high=1.0, high_inclusive=False, doc="dropout probability (paper: 0.75)"),
)


@torch.no_grad()
def dropout_flips(
    head: ProbaHead,
    x: torch.Tensor,
    rows: torch.Tensor,
    predicted: torch.Tensor,
    n_passes: int,
    rate: float,
    gen: torch.Generator,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """How many of ``n_passes`` dropout passes change each point's predicted label.

    Parameters
    ----------
    head : fitted head; only ``predict_proba`` is called.
    x : (N, d) pool embeddings.
    rows : (M,) indices of the points to test; gathered one chunk at a time, never copied whole.
    predicted : (M,) labels predicted without dropout.
    n_passes : number of dropout passes.
    rate : probability of zeroing each feature, in [0, 1).
    gen : seeded generator (CPU); masks are drawn from a device generator derived from it.
    chunk : rows per forward pass.

    Returns
    -------
    (M,) int64 counts in [0, n_passes].
    """
    if not 0.0 <= rate < 1.0:  # 1 − rate scales the kept features: 0 divides by zero, < 0 flips signs
        raise ConfigError(f"dropquery: the dropout rate must be in [0, 1), got {rate!r}")
    dev_gen = device_generator(gen, x.device)
    flips = torch.zeros(rows.shape[0], dtype=torch.long, device=x.device)
    for _ in range(n_passes):
        for start in range(0, rows.shape[0], chunk):
            z = x[rows[start : start + chunk]]
            keep = torch.rand(z.shape, generator=dev_gen, device=x.device) >= rate
            dropped = z * keep / (1.0 - rate)
            label = head.predict_proba(dropped).argmax(dim=1).to(x.device)
            flips[start : start + chunk] += label != predicted[start : start + chunk]
    return flips


@register_strategy("dropquery", needs={"head", "proba"}, params=PARAMS)
def dropquery(
    inputs: QueryInputs,
    batch_size: int,
    rng: np.random.Generator,
    *,
    n_passes: int = 3,
    rate: float = 0.75,
) -> np.ndarray:
    """Query diverse points whose label flips in most dropout passes (DropQuery).

    Parameters
    ----------
    inputs : needs ``head`` and ``proba`` (N, C); reads ``embeddings`` (N, d).
    batch_size : number of points to return.
    rng : seeds the dropout masks, the k-means and the random fill.
    n_passes : dropout passes (paper: 3).
    rate : dropout probability (paper: 0.75).

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    head = require_head(inputs, "dropquery")
    unlabeled = inputs.unlabeled_indices()
    predicted = require(inputs, "proba", "dropquery")[unlabeled].argmax(dim=1).to(unlabeled.device)
    gen = torch_generator(rng)
    x = inputs.embeddings
    candidate = dropout_flips(head, x, unlabeled, predicted, n_passes, rate, gen) > n_passes / 2
    cand = torch.nonzero(candidate).flatten()
    if cand.shape[0] >= batch_size:
        local = cand[diverse_subset(x[unlabeled[cand]], batch_size, gen)]
    else:
        local = torch.cat([cand, random_fill(~candidate, batch_size - cand.shape[0], gen)])
    return as_indices(unlabeled[local])
