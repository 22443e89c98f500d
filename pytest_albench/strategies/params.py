"""Declared strategy parameters: what a case may set, with types and valid ranges, checked in one place.

A strategy's keyword arguments (DropQuery's ``rate``, TypiClust's ``k_neighbors``, ...) are settings of
a case like the head or the budget: they must reach the query function, enter the configuration hash
and be refused with a message naming the parameter, the strategy and the valid range before any work
is done. Each strategy therefore declares its keywords as :class:`Param` entries where it is
registered (the idea of scikit-learn's ``_parameter_constraints``, kept small), and registration
checks the declarations against the function's signature so the two cannot drift apart.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, StrategyError

#: ``floats`` is a non-empty sequence of floats (e.g. Alfa-Mix's grid of α), each within the range.
ParamKind = Literal["int", "float", "floats", "bool", "str"]
PARAM_KINDS: tuple[str, ...] = ("int", "float", "floats", "bool", "str")
#: A query function's leading positional parameters; every later keyword is a declared parameter.
QUERY_POSITIONALS = 3
_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a strategy: its type, valid range or choices, and whether ``None`` is allowed.

    Bounds apply to ``int`` and ``float`` values and to every element of a ``floats`` sequence;
    ``choices`` to ``str`` values. ``doc`` says what the parameter does, for error messages and docs.
    """

    name: str
    kind: ParamKind
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    choices: tuple[str, ...] = ()
    optional: bool = False
    doc: str = ""

    def describe(self) -> str:
        """The valid values in words: ``"a float in [0, 1)"``, ``"an int >= 1 or None"``."""
        what = {
            "int": "an int",
            "float": "a float",
            "floats": "a non-empty sequence of floats",
            "bool": "a bool",
            "str": "a str",
        }[self.kind]
        limits = self._range_text()
        if limits:
            what += f" {limits}"
        if self.choices:
            what = "one of " + ", ".join(repr(c) for c in self.choices)
        return what + (" or None" if self.optional else "")

    def _range_text(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "[" if self.low_inclusive else "(", "]" if self.high_inclusive else ")"
            return f"in {left}{_fmt(self.low)}, {_fmt(self.high)}{right}"
        if self.low is not None:
            return f"{'>=' if self.low_inclusive else '>'} {_fmt(self.low)}"
        if self.high is not None:
            return f"{'<=' if self.high_inclusive else '<'} {_fmt(self.high)}"
        return ""

    def coerce(self, value: Any) -> Any:
        """``value`` as the builtin the strategy receives (tuples for sequences).

        Raises ``TypeError`` for a value of the wrong type and ``ValueError`` for one out of range.

        Ints are accepted for floats and stored as floats, so ``rate=0`` and ``rate=0.0`` hash alike;
        bools are never accepted as numbers.
        """
        if value is None and self.optional:
            return None
        if self.kind == "floats":
            if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
                raise TypeError(value)
            if not len(value):
                raise ValueError("empty")
            return tuple(self._number(v, float) for v in value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise TypeError(value)
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise TypeError(value)
            if self.choices and value not in self.choices:
                raise ValueError("not a valid choice")
            return value
        return self._number(value, int if self.kind == "int" else float)

    def _number(self, value: Any, cast: Callable[[Any], Any]) -> Any:
        wanted = numbers.Integral if cast is int else numbers.Real
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise TypeError(value)
        number = cast(value)
        if not self._within(number):
            raise ValueError("out of range")
        return number

    def _within(self, x: float) -> bool:
        if math.isnan(x):
            return False
        above = self.low is None or (x >= self.low if self.low_inclusive else x > self.low)
        below = self.high is None or (x <= self.high if self.high_inclusive else x < self.high)
        return above and below


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def check_declarations(strategy: str, func: Callable[..., Any], params: Iterable[Param]) -> tuple[Param, ...]:
    """The declarations, refused unless they match the keywords of ``func`` one to one.

    A declared name the function does not take would never reach it, and an undeclared keyword could
    be neither set from a case nor hashed; both are errors at registration, as is a default value
    that its own declaration rejects.
    """
    declared = tuple(params)
    names = [p.name for p in declared]
    if len(set(names)) != len(names):
        raise StrategyError(f"strategy {strategy!r} declares a parameter twice: {sorted(names)}")
    for param in declared:
        if not isinstance(param, Param) or param.kind not in PARAM_KINDS:
            raise StrategyError(f"strategy {strategy!r}: {param!r} is not a Param of a kind in {PARAM_KINDS}")
    keywords, open_ended = _keywords_of(strategy, func, bool(declared))
    undeclared = sorted(set(keywords) - set(names))
    if undeclared:
        raise StrategyError(
            f"strategy {strategy!r} takes keyword(s) {undeclared} that it does not declare; "
            "declare each with params=(Param(...), ...) where it is registered"
        )
    for param in declared:
        if param.name not in keywords:
            if not open_ended:
                raise StrategyError(
                    f"strategy {strategy!r} declares parameter {param.name!r} that its function does not take"
                )
            continue
        _check_default(strategy, param, keywords[param.name])
    return declared


def _keywords_of(strategy: str, func: Callable[..., Any], needed: bool) -> tuple[dict[str, Any], bool]:
    """The function's keywords after (inputs, batch_size, rng) with their defaults; and whether it has ``**``."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        if needed:
            raise StrategyError(f"strategy {strategy!r} declares parameters but has no readable signature") from None
        return {}, False
    values = list(signature.parameters.values())
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in values)
    keywords = {p.name: p.default for p in values[QUERY_POSITIONALS:] if p.kind in _KEYWORD_KINDS}
    return keywords, open_ended


def _check_default(strategy: str, param: Param, default: Any) -> None:
    if default is inspect.Parameter.empty:
        raise StrategyError(f"strategy {strategy!r}: parameter {param.name!r} needs a default value")
    try:
        param.coerce(default)
    except (TypeError, ValueError):
        raise StrategyError(
            f"strategy {strategy!r}: the default {default!r} of {param.name!r} is not {param.describe()}"
        ) from None


def validate_params(strategy: str, declared: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` checked against the declarations and coerced to builtins; ``ConfigError`` otherwise.

    The message names the parameter, the strategy and the valid range, or the valid names.
    """
    by_name = {p.name: p for p in declared}
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in by_name:
            valid = ", ".join(sorted(by_name)) if by_name else "none (it takes no parameters)"
            raise ConfigError(f"strategy {strategy!r} has no parameter {name!r}; valid parameters: {valid}")
        param = by_name[name]
        try:
            checked[name] = param.coerce(value)
        except TypeError:
            raise ConfigError(
                f"strategy {strategy!r} parameter {name!r} must be {param.describe()}, "
                f"got {value!r} of type {type(value).__name__}"
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"strategy {strategy!r} parameter {name!r} must be {param.describe()}, got {value!r} ({exc})"
            ) from None
    return checked
