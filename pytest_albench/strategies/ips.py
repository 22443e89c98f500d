"""Initial-pool selection (IPS): which k0 points to label before the first query.

The study found the initial pool matters as much as the strategy in early cycles, so IPS methods are
named and registered like strategies: ``random``, ``stratified`` (class-balanced random from the
*true* labels — an oracle baseline no real user has), and the cold-start diversity strategies
``coreset``, ``typiclust`` and ``probcover`` run with nothing labeled. Third-party methods register
with :func:`register_ips` or the ``pytest_albench.ips`` entry-point group.

An IPS method is a callable ``(embeddings, k0, rng, labels, n_classes) -> indices`` where
``embeddings`` is an (N, d) float tensor, ``labels`` the (N,) true labels or ``None`` and
``n_classes`` the number of classes or ``None``; only the oracle may read ``labels``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import BudgetError, ConfigError
from ..registry import Registry
from .base import QueryInputs, checked_indices
from .coreset import coreset
from .kernels import torch_generator
from .probcover import probcover
from .typiclust import typiclust


class InitialPoolMethod(Protocol):
    def __call__(
        self,
        embeddings: torch.Tensor,
        k0: int,
        rng: np.random.Generator,
        labels: np.ndarray | None,
        n_classes: int | None,
    ) -> Any: ...


IPS_METHODS: Registry[InitialPoolMethod] = Registry("initial pool method", entry_point_group="pytest_albench.ips")


def register_ips(name: str, *, replace: bool = False) -> Callable[[InitialPoolMethod], InitialPoolMethod]:
    """Decorator registering an initial-pool method under ``name``."""

    def decorate(func: InitialPoolMethod) -> InitialPoolMethod:
        IPS_METHODS.add(name, func, replace=replace)
        return func

    return decorate


#: The name the registry's "unknown name" message points users to.
register_initial_pool_method = register_ips


def ips_names() -> list[str]:
    """Sorted names of every registered initial-pool method."""
    return IPS_METHODS.names()


def get_ips(name: str) -> InitialPoolMethod:
    """The initial-pool method ``name``; unknown names raise ``UnknownNameError`` listing valid ones."""
    return IPS_METHODS.get(name)


def select_initial_pool(
    method: str,
    embeddings: torch.Tensor | np.ndarray,
    k0: int,
    rng: np.random.Generator,
    labels: np.ndarray | None = None,
    *,
    n_classes: int | None = None,
) -> np.ndarray:
    """Choose the ``k0`` pool points labeled before the first AL cycle.

    Parameters
    ----------
    method : a name from :func:`ips_names`.
    embeddings : (N, d) pool embeddings; a numpy array is used as float32 on CPU.
    k0 : initial pool size, 0 <= k0 <= N; 0 returns an empty pool (a pure cold start).
    rng : the only source of randomness.
    labels : (N,) true labels; required by ``stratified`` only.
    n_classes : number of classes (ProbCover's pseudo-label count); defaults to the number of
        distinct ``labels`` when those are given.

    Returns
    -------
    (k0,) int64 distinct pool indices.
    """
    func = get_ips(method)
    x = _as_tensor(embeddings)
    _check_request(x.shape[0], k0, labels)
    if k0 == 0:
        return np.empty(0, dtype=np.int64)
    if n_classes is None and labels is not None:
        n_classes = int(np.unique(labels).size)
    return checked_indices(func(x, k0, rng, labels, n_classes), k0, x.shape[0], f"initial pool method {method!r}")


def _as_tensor(embeddings: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(embeddings, torch.Tensor):
        return embeddings
    return torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))


def _check_request(n_pool: int, k0: int, labels: np.ndarray | None) -> None:
    if k0 < 0 or k0 > n_pool:
        raise BudgetError(
            f"initial pool size k0={k0} does not fit a pool of {n_pool} points; choose 0 <= k0 <= {n_pool}"
        )
    if labels is not None and np.shape(labels) != (n_pool,):
        raise ConfigError(f"labels have shape {np.shape(labels)}, expected ({n_pool},) for the pool")


def cold_start_inputs(embeddings: torch.Tensor, n_classes: int | None) -> QueryInputs:
    """Strategy inputs with nothing labeled, for running a cold-start strategy as an IPS method."""
    n = embeddings.shape[0]
    return QueryInputs(
        embeddings=embeddings,
        labeled=torch.zeros(n, dtype=torch.bool, device=embeddings.device),
        labels=torch.full((n,), -1, dtype=torch.long, device=embeddings.device),
        n_classes=n_classes or 0,
    )


@register_ips("random")
def random_pool(
    embeddings: torch.Tensor,
    k0: int,
    rng: np.random.Generator,
    labels: np.ndarray | None,
    n_classes: int | None,
) -> np.ndarray:
    """k0 points uniformly at random: the default and the reference every other method is compared to."""
    return torch.randperm(embeddings.shape[0], generator=torch_generator(rng))[:k0].numpy()


@register_ips("stratified")
def stratified_pool(
    embeddings: torch.Tensor,
    k0: int,
    rng: np.random.Generator,
    labels: np.ndarray | None,
    n_classes: int | None,
) -> np.ndarray:
    """Class-balanced random points chosen with the *true* labels: an oracle upper reference.

    Each class gets ⌊k0 / C⌋ points and the remainder goes to randomly chosen classes; a class
    with too few points gives its unused share to the others (water-filling), so exactly k0 come out.
    """
    if labels is None:
        raise ConfigError("initial pool method 'stratified' needs the true labels of the pool (labels=...)")
    classes, inverse = np.unique(np.asarray(labels), return_inverse=True)
    quota = _balanced_quota(np.bincount(inverse, minlength=classes.size), k0, rng)
    picks = [rng.choice(np.flatnonzero(inverse == c), size=q, replace=False) for c, q in enumerate(quota)]
    return rng.permutation(np.concatenate(picks))


def _balanced_quota(available: np.ndarray, k0: int, rng: np.random.Generator) -> np.ndarray:
    """Points per class: as equal as possible, never more than a class has, summing to ``k0``."""
    quota = np.zeros_like(available)
    remaining = k0
    while remaining > 0:
        open_classes = np.flatnonzero(quota < available)
        share, extra = divmod(remaining, open_classes.size)
        add = np.full(open_classes.size, share)
        add[rng.permutation(open_classes.size)[:extra]] += 1
        add = np.minimum(add, available[open_classes] - quota[open_classes])
        quota[open_classes] += add
        remaining -= int(add.sum())
    return quota


def _strategy_pool(strategy: Callable[..., np.ndarray]) -> InitialPoolMethod:
    """An IPS method that runs a cold-start strategy with nothing labeled."""

    def pool(
        embeddings: torch.Tensor,
        k0: int,
        rng: np.random.Generator,
        labels: np.ndarray | None,
        n_classes: int | None,
    ) -> np.ndarray:
        return np.asarray(strategy(cold_start_inputs(embeddings, n_classes), k0, rng))

    pool.__doc__ = f"The cold-start strategy {strategy.__name__!r} with nothing labeled."
    return pool


for _name, _strategy in (("coreset", coreset), ("typiclust", typiclust), ("probcover", probcover)):
    register_ips(_name)(_strategy_pool(_strategy))
