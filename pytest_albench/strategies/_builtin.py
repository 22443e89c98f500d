"""Imports the modules whose decorators register the built-in strategies.

One explicit list instead of importing every file in the folder: adding a strategy is one line here,
and a stray module cannot register itself by accident.
"""

from __future__ import annotations

from . import (  # noqa: F401  (imported for their registrations)
    alfamix,
    badge,
    bald,
    coreset,
    dropquery,
    probcover,
    random_sampling,
    typiclust,
    uncertainty,
)
