"""Exceptions that name the problem and the fix.

Every error a user can trigger with a bad name, a bad file or a bad setting derives from
:class:`AlbenchError`, so the plugin can turn it into one readable line instead of a deep traceback.
"""

from __future__ import annotations


class AlbenchError(Exception):
    """Base class: a problem the user can fix; the message says how."""


class UnknownNameError(AlbenchError, KeyError):
    """A dataset, embedding, strategy or head name that no registry knows."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class DatasetError(AlbenchError):
    """A dataset that cannot be read or is unusable (missing column, empty or single-class split)."""


class DatasetUnavailableError(DatasetError):
    """A dataset whose source (hub, optional package) is not reachable or not installed here."""


class EmbeddingError(AlbenchError):
    """An encoder that cannot be loaded, or embeddings that are unusable (NaN/inf, wrong shape)."""


class CacheError(AlbenchError):
    """A cache entry that cannot be written or read back."""


class BudgetError(AlbenchError):
    """A budget, initial pool or query size that the pool cannot supply."""


class StrategyError(AlbenchError):
    """A strategy that returned an invalid selection or cannot run in the current state."""


class ConfigError(AlbenchError):
    """An invalid run configuration or option value."""
