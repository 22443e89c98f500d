"""Random sampling: the baseline every other strategy must beat, and the only one needing nothing."""

from __future__ import annotations

import numpy as np

from ._common import as_indices, random_fill
from .base import QueryInputs, register_strategy
from .kernels import torch_generator


@register_strategy("random", cold_start=True)
def random(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Query ``batch_size`` unlabeled points uniformly at random, without replacement.

    Parameters
    ----------
    inputs : only ``labeled`` (N,) is read.
    batch_size : number of points to return.
    rng : the only source of randomness; a seed fixes the selection.

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    return as_indices(random_fill(~inputs.labeled, batch_size, torch_generator(rng)))
