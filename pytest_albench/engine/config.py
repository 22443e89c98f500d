"""What one AL case is: the settings that, with a run seed, define a run (and its configuration hash)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from ..choices import DEFAULT_PROTOCOL, DEFAULT_VALIDATION, VALIDATIONS
from ..errors import ConfigError

#: Pool and test subsampling are seeded separately from the run seed, so the (expensive) embedded
#: pool is shared by all seeds; seeds vary the initial pool, the heads and the strategies.
DEFAULT_SUBSAMPLE_SEED = 0


@dataclass(frozen=True)
class ALConfig:
    """Everything that defines one AL case apart from the run seed."""

    dataset: str = "bbc_news"
    embedding: str = "minilm-l6"
    strategy: str = "random"
    #: k0, or ``"classes"`` for one point per class on average (k0 = the dataset's number of classes).
    initial_pool_size: int | str = 10
    query_size: int = 10
    cycles: int = 10
    budget_schedule: tuple[int, ...] | None = None
    initial_pool_method: str = "random"
    head: str = "logistic"
    head_params: tuple[tuple[str, Any], ...] = ()
    max_pool: int | None = None
    max_test: int | None = None
    subsample_seed: int = DEFAULT_SUBSAMPLE_SEED
    n_samples: int = 8
    #: The strategy's declared keywords (``dropquery``'s ``rate``, ...), checked here against its
    #: declarations; given as a dict, stored sorted like ``head_params``.
    strategy_params: tuple[tuple[str, Any], ...] = ()
    #: ``"carve"``: the dataset's validation split, else 10 % of train; ``"none"``: the whole train
    #: split is the pool and nothing is held out (the study's and scikit-activeml's setting).
    validation: str = DEFAULT_VALIDATION
    #: The named protocol the case's settings were completed from (:mod:`.protocols`); recorded and
    #: hashed (when not the default) so that results say which protocol produced them.
    protocol: str = DEFAULT_PROTOCOL

    #: Fields left out of ``to_dict`` (and so of the hash) at their default: they were added after
    #: baselines were stored, and a case that does not use them keeps the hash it had.
    _OMITTED_AT_DEFAULT: ClassVar[dict[str, str]] = {"validation": DEFAULT_VALIDATION, "protocol": DEFAULT_PROTOCOL}

    @classmethod
    def for_case(cls, dataset: str, embedding: str, strategy: str, **settings: Any) -> ALConfig:
        """The case's config: its explicit ``settings`` (None values dropped) completed from its protocol.

        ``settings`` may name a ``protocol`` (default: ``"default"``); the protocol's head, validation,
        strategy and k0 settings fill in what the case does not set itself (see
        :meth:`~pytest_albench.engine.protocols.Protocol.settings_for`).
        """
        from .protocols import get_protocol

        explicit = {k: v for k, v in settings.items() if v is not None}
        name = explicit.pop("protocol", DEFAULT_PROTOCOL)
        protocol = get_protocol(name)
        explicit.update(protocol.settings_for(strategy, explicit))
        return cls(dataset=dataset, embedding=embedding, strategy=strategy, protocol=name, **explicit)

    def __post_init__(self) -> None:
        if isinstance(self.head_params, dict):
            object.__setattr__(self, "head_params", tuple(sorted(self.head_params.items())))
        object.__setattr__(self, "strategy_params", self._checked_strategy_params())
        if self.budget_schedule is not None:
            object.__setattr__(self, "budget_schedule", tuple(int(b) for b in self.budget_schedule))
        for name in ("initial_pool_size", "query_size", "cycles"):
            value = getattr(self, name)
            if name == "initial_pool_size" and value == "classes":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                extra = " or 'classes' (k0 = number of classes)" if name == "initial_pool_size" else ""
                raise ConfigError(f"{name} must be a non-negative integer{extra}, got {value!r}")
        if self.validation not in VALIDATIONS:
            valid = "; ".join(f"{k!r}: {v}" for k, v in VALIDATIONS.items())
            raise ConfigError(f"unknown validation setting {self.validation!r}; valid settings: {valid}")
        from .protocols import get_protocol

        get_protocol(self.protocol)
        if "|" in self.embedding:  # a transformed embedding: its chain fails here, before any encoding
            from ..embeddings import parse_embedding_name

            parse_embedding_name(self.embedding)
        for name in ("max_pool", "max_test"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer or None, got {value!r}")

    def _checked_strategy_params(self) -> tuple[tuple[str, Any], ...]:
        """The parameters validated against the strategy's declarations, as a sorted tuple.

        Validated when the case is built, so a bad value fails before any embedding or training with
        a message naming the parameter, the strategy and the valid range (or the valid names).
        """
        raw = self.strategy_params
        if not isinstance(raw, (dict, tuple, list)):
            raise ConfigError(f"strategy_params must be a dict of parameter names to values, got {raw!r}")
        try:
            values = dict(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"strategy_params must be a dict of parameter names to values, got {raw!r}") from None
        if not values:
            return ()
        if not all(isinstance(name, str) for name in values):
            raise ConfigError(f"strategy_params must have str names, got {sorted(map(repr, values))}")
        from ..strategies import get_strategy

        return tuple(sorted(get_strategy(self.strategy).check_params(values).items()))

    def k0_for(self, n_classes: int) -> int:
        """The initial pool size for a dataset of ``n_classes`` classes (resolves ``"classes"``)."""
        return n_classes if self.initial_pool_size == "classes" else int(self.initial_pool_size)

    @property
    def schedule(self) -> list[int]:
        """Query sizes per cycle: the explicit schedule, else ``cycles`` × ``query_size``."""
        if self.budget_schedule is not None:
            return list(self.budget_schedule)
        return [self.query_size] * self.cycles

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["head_params"] = dict(self.head_params)
        if self.strategy_params:
            out["strategy_params"] = dict(self.strategy_params)
        else:  # absent, not {}: a case without parameters keeps the configuration (and hash) it had
            del out["strategy_params"]
        out["budget_schedule"] = list(self.budget_schedule) if self.budget_schedule is not None else None
        for name, default in self._OMITTED_AT_DEFAULT.items():
            if out[name] == default:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ALConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown AL settings {unknown}; valid settings: {sorted(known)}")
        return cls(**raw)

    def with_overrides(self, **overrides: Any) -> ALConfig:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})
