"""The one interface every query strategy implements, and the registry that names them.

A strategy is a stateless function ``(inputs, batch_size, rng) -> indices``. It declares what it needs
from the current head (class probabilities, the features the last layer sees, stochastic forward
passes, or the head itself) so the AL loop computes each of these at most once per cycle and a
benchmark can hand in precomputed values (e.g. a scikit-learn classifier's probabilities).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import BudgetError, StrategyError
from ..registry import Registry
from .params import Param, check_declarations, validate_params

if TYPE_CHECKING:
    import torch

#: What a strategy may declare in ``needs``.
NEEDS = frozenset({"proba", "hidden", "sampled_proba", "head"})


class ProbaHead(Protocol):
    """What a strategy may call on the fitted head it declared (``"head"``): probabilities for features.

    Declared here, not imported from the engine's heads, because strategies sit below the engine: any
    head (the engine's, a scikit-learn wrapper in a benchmark) that has ``predict_proba`` will do.
    """

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass
class QueryInputs:
    """Everything a strategy may read in one cycle; fields it did not declare may be ``None``.

    Attributes
    ----------
    embeddings : (N, d) float32 tensor of the whole pool, on the run's device.
    labeled : (N,) bool tensor, True where the label is known.
    labels : (N,) int64 tensor; class index where ``labeled``, -1 elsewhere. Strategies must not read
        labels of unlabeled points (they are -1 anyway).
    n_classes : number of classes of the task.
    proba : (N, C) class probabilities of the current head (declared need ``"proba"``). On CPU it
        may be a view whose rows are wider than C (the head computes 16-column blocks); read it with
        indexing and reductions, or ``.contiguous()`` before ``.view``.
    hidden : (N, h) the representation the head's last linear layer sees (``"hidden"``); the
        embeddings themselves for the logistic head.
    sampled_proba : (T, N, C) probabilities from T stochastic forward passes (``"sampled_proba"``):
        MC dropout for the MLP, Laplace-approximation draws for the logistic head.
    head : the fitted head (``"head"``), for strategies that run their own forward passes.
    memo : a dict that lives for one AL run, for work that depends only on the embeddings (e.g.
        ProbCover's ball graph); strategies key it by their own name.
    """

    embeddings: torch.Tensor
    labeled: torch.Tensor
    labels: torch.Tensor
    n_classes: int
    proba: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
    sampled_proba: torch.Tensor | None = None
    head: ProbaHead | None = None
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def n_pool(self) -> int:
        return int(self.embeddings.shape[0])

    def unlabeled_indices(self) -> torch.Tensor:
        import torch

        return torch.nonzero(~self.labeled).flatten()

    def labeled_indices(self) -> torch.Tensor:
        import torch

        return torch.nonzero(self.labeled).flatten()


class StrategyFunction(Protocol):
    """``(inputs, batch_size, rng, **params) -> indices``; ``params`` are the declared keywords."""

    def __call__(self, inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> Any: ...


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy: its function, what it needs and the parameters a case may set."""

    name: str
    func: StrategyFunction
    needs: frozenset[str] = frozenset()
    cold_start: bool = False
    description: str = ""
    params: tuple[Param, ...] = ()

    def __call__(
        self,
        inputs: QueryInputs,
        batch_size: int,
        rng: np.random.Generator,
        params: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        return query(self, inputs, batch_size, rng, params)

    def check_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` validated against the declarations (``ConfigError`` naming parameter and range)."""
        return validate_params(self.name, self.params, values)


def _spec_from(
    name: str,
    obj: Any,
    needs: Iterable[str] | None,
    cold_start: bool | None,
    params: Iterable[Param] | None = None,
) -> StrategySpec:
    if isinstance(obj, StrategySpec):
        return obj
    func = obj() if inspect.isclass(obj) else obj
    if not callable(func):
        raise StrategyError(f"strategy {name!r} must be a callable (inputs, batch_size, rng) -> indices")
    declared = frozenset(needs if needs is not None else getattr(func, "needs", ()))
    unknown = declared - NEEDS
    if unknown:
        raise StrategyError(f"strategy {name!r} declares unknown needs {sorted(unknown)}; valid needs: {sorted(NEEDS)}")
    cold = bool(cold_start if cold_start is not None else getattr(func, "cold_start", False))
    doc = inspect.getdoc(obj) or ""
    declared_params = check_declarations(name, func, params if params is not None else getattr(obj, "params", ()))
    return StrategySpec(name, func, declared, cold, doc.split("\n", 1)[0], declared_params)


STRATEGIES: Registry[StrategySpec] = Registry(
    "strategy",
    entry_point_group="pytest_albench.strategies",
    from_entry_point=lambda name, obj: _spec_from(name, obj, None, None),
)


def register_strategy(
    name: str,
    *,
    needs: Iterable[str] | None = None,
    cold_start: bool | None = None,
    params: Iterable[Param] | None = None,
    replace: bool = False,
) -> Callable[[Any], Any]:
    """Decorator registering a function or class as a strategy, making ``name`` a parameter value.

    A class is instantiated without arguments and its instance called; ``needs``, ``cold_start`` and
    ``params`` may also be given as class attributes. ``params`` declares every keyword the function
    takes after ``(inputs, batch_size, rng)``; a mismatch with the signature is a ``StrategyError`` here.
    """

    def decorate(obj: Any) -> Any:
        STRATEGIES.add(name, _spec_from(name, obj, needs, cold_start, params), replace=replace)
        return obj

    return decorate


def get_strategy(name: str) -> StrategySpec:
    _ensure_builtins()
    return STRATEGIES.get(name)


def strategy_names() -> list[str]:
    _ensure_builtins()
    return STRATEGIES.names()


def _ensure_builtins() -> None:
    from . import _builtin  # noqa: F401  (registers the built-in strategies on import)


def check_query_request(spec: StrategySpec, inputs: QueryInputs, batch_size: int) -> None:
    """Refuse requests no strategy can satisfy, before any work is done."""
    n_unlabeled = int((~inputs.labeled).sum())
    if batch_size < 1:
        raise BudgetError(f"query size must be at least 1, got {batch_size}")
    if batch_size > n_unlabeled:
        raise BudgetError(
            f"strategy {spec.name!r} was asked for {batch_size} points but only {n_unlabeled} of the "
            f"{inputs.n_pool} pool points are unlabeled; lower the query size or the number of cycles"
        )
    if not spec.cold_start and int(inputs.labeled.sum()) == 0:
        raise StrategyError(
            f"strategy {spec.name!r} needs a trained head and cannot run with nothing labeled "
            "(cold start); use an initial pool (k0 > 0) or a cold-start strategy "
            "(random, coreset, typiclust, probcover)"
        )
    missing = [need for need in sorted(spec.needs) if getattr(inputs, need) is None]
    if missing:
        raise StrategyError(f"strategy {spec.name!r} needs {missing} in its inputs, which were not given")


def validate_selection(spec: StrategySpec, selected: Any, inputs: QueryInputs, batch_size: int) -> np.ndarray:
    """Turn a strategy's output into an int64 array and reject anything the loop must not accept."""
    labeled = inputs.labeled.detach().cpu().numpy()
    return checked_indices(selected, batch_size, inputs.n_pool, f"strategy {spec.name!r}", labeled)


def checked_indices(selected: Any, size: int, n_pool: int, who: str, labeled: np.ndarray | None = None) -> np.ndarray:
    """The one selection validator: ``size`` distinct int64 indices into the pool, none of them ``labeled``.

    Strategies and initial-pool methods both hand back pool indices, and both must be refused for the
    same faults with the same words; ``who`` names the culprit (``"strategy 'badge'"``).
    """
    import torch

    if isinstance(selected, torch.Tensor):
        selected = selected.detach().cpu().numpy()
    arr = np.asarray(selected)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise StrategyError(f"{who} must return a 1-d array of integer indices, got {arr!r}")
    arr = arr.astype(np.int64)
    if arr.size != size:
        raise StrategyError(f"{who} returned {arr.size} indices, expected {size}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_pool):
        raise StrategyError(f"{who} returned indices outside the pool [0, {n_pool})")
    if np.unique(arr).size != arr.size:
        raise StrategyError(f"{who} returned duplicate indices: {_duplicates(arr)}")
    already = arr[labeled[arr]] if labeled is not None else arr[:0]
    if already.size:
        raise StrategyError(f"{who} returned already-labeled indices {already[:10].tolist()}")
    return arr


def _duplicates(arr: np.ndarray) -> list[int]:
    values, counts = np.unique(arr, return_counts=True)
    duplicated: list[int] = values[counts > 1][:10].tolist()
    return duplicated


def query(
    strategy: str | StrategySpec,
    inputs: QueryInputs,
    batch_size: int,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Run a strategy with the checks every caller needs; returns validated pool indices.

    ``params`` are the strategy's declared keywords (a case's ``strategy_params``); they are checked
    against the declarations before any work, so a direct call is refused exactly like a bad case.
    """
    spec = get_strategy(strategy) if isinstance(strategy, str) else strategy
    checked = spec.check_params(params or {})
    check_query_request(spec, inputs, batch_size)
    return validate_selection(spec, spec.func(inputs, batch_size, rng, **checked), inputs, batch_size)
