"""Name → object registries with helpful errors and entry-point discovery.

Datasets, encoders, heads and strategies are all looked up by a plain string so that a pytest
parametrization id is also the thing that runs. One small class keeps the three behaviours users rely
on in one place: a clear error listing the valid names (with a "did you mean"), registration by
decorator, and third-party registration through an entry-point group.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from .errors import ConfigError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping of names to entries of one kind (``"strategy"``, ``"encoder"``, ...)."""

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        from_entry_point: Callable[[str, Any], T] | None = None,
    ) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._from_entry_point = from_entry_point
        self._entries: dict[str, T] = {}
        self._entry_points_loaded = False

    def add(self, name: str, entry: T, *, replace: bool = False) -> T:
        """Register ``entry`` under ``name``; re-registering needs ``replace=True`` to catch typos."""
        if not name or name != name.strip():
            raise ConfigError(f"invalid {self.kind} name {name!r}: use a non-empty name without spaces")
        if name in self._entries and not replace and self._entries[name] is not entry:
            raise ConfigError(f"{self.kind} {name!r} is already registered; pass replace=True to override it")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._entries:
            self._load_entry_points()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str, extra_names: list[str] | None = None) -> str:
        valid = sorted(set(self.names()) | set(extra_names or []))
        close = difflib.get_close_matches(name, valid, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"unknown {self.kind} {name!r}.{hint} Valid {self.kind} names: {', '.join(valid)}. "
            f"Register a new one with pytest_albench.register_{self.kind.replace(' ', '_')}()."
        )

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def decorator(self, name: str, **kwargs: object) -> Callable[[T], T]:
        def register(entry: T) -> T:
            return self.add(name, entry, **kwargs)  # type: ignore[arg-type]

        return register

    def _load_entry_points(self) -> None:
        """Import third-party plugins once; an entry point may register itself when loaded."""
        if self._entry_points_loaded or self.entry_point_group is None:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            loaded = ep.load()
            if ep.name in self._entries:
                continue  # the module registered itself by decorator on import
            entry = self._from_entry_point(ep.name, loaded) if self._from_entry_point else loaded
            self._entries[ep.name] = entry
