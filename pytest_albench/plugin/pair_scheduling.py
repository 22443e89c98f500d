"""The xdist scheduler of ``pytest -n N``: xdist's load scheduling, aware of (encoder, dataset) pairs.

Imported only on an xdist controller (it imports xdist); the rule is described in :mod:`.workers`.
It changes which pending cases a worker is sent, never how many: the batch sizes, the collection check,
crash handling and shutdown are xdist's :class:`~xdist.scheduler.LoadScheduling`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from xdist.scheduler import LoadScheduling  # type: ignore[import-untyped]


class PairScheduling(LoadScheduling):  # type: ignore[misc]  # xdist ships no type information
    """Embed first: each cold pair's first case goes to a worker of its own; its other cases wait for it."""

    def __init__(self, config: Any, log: Any, units: Callable[[], Mapping[str, str | None]]) -> None:
        super().__init__(config, log)
        self._units_source = units
        self._units: list[str | None] = []
        self._owner: dict[str, Any] = {}  # pair -> the worker that embeds it (was sent its first case)
        self._warm: set[str] = set()  # pairs whose first case finished: their embedding is cached

    def schedule(self) -> None:
        if self.collection is None and self.collection_is_completed and self.node2collection:
            collection = next(iter(self.node2collection.values()))
            units = self._units_source()
            self._units = [units.get(nodeid) for nodeid in collection]
        super().schedule()

    def _unit(self, index: int) -> str | None:
        return self._units[index] if index < len(self._units) else None

    def pick(self, node: Any, num: int) -> list[int]:
        """Up to ``num`` pending indices for ``node`` (at least enough that it holds two, when there are)."""
        chosen: list[int] = []
        taken: set[int] = set()

        def cold(unit: str | None) -> bool:
            return unit is not None and unit not in self._warm

        def ready(index: int) -> bool:
            unit = self._unit(index)
            return not cold(unit) or self._owner.get(unit) is node  # type: ignore[arg-type]

        def first(test: Callable[[int], bool]) -> int | None:
            return next((i for i in self.pending if i not in taken and test(i)), None)

        embedding = any(owner is node and unit not in self._warm for unit, owner in self._owner.items())
        while len(chosen) < num:
            index = None
            if not embedding:  # start an embedding nobody has started: they then run in parallel
                index = first(lambda i: cold(self._unit(i)) and self._unit(i) not in self._owner)
                if index is not None:
                    self._owner[self._unit(index)] = node  # type: ignore[index]
                    embedding = True
            if index is None:
                index = first(ready)
            if index is None:
                break
            chosen.append(index)
            taken.add(index)
        # xdist runs a worker's case only once the worker holds the next one (or is shut down): never
        # leave it holding one, even if the only work left waits on an embedding another worker computes
        while len(self.node2pending[node]) + len(chosen) < 2 and (index := first(lambda i: True)) is not None:
            chosen.append(index)
            taken.add(index)
        return chosen

    def _send_tests(self, node: Any, num: int) -> None:
        picks = self.pick(node, num)
        if picks:
            chosen = set(picks)
            self.pending[:] = [i for i in self.pending if i not in chosen]
            self.node2pending[node].extend(picks)
            node.send_runtest_some(picks)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        unit = self._unit(item_index)
        warmed = unit is not None and unit not in self._warm
        if warmed:
            self._warm.add(unit)  # type: ignore[arg-type]
        super().mark_test_complete(node, item_index, duration)
        if warmed and self.pending:  # its cases are free for every worker now
            for other in self.nodes:
                if other is not node:
                    self.check_schedule(other)

    def remove_node(self, node: Any) -> str | None:
        for unit in [u for u, owner in self._owner.items() if owner is node and u not in self._warm]:
            del self._owner[unit]  # a crashed worker's embedding is anyone's to start again
        crashed: str | None = super().remove_node(node)
        return crashed
