"""Helpers that turn a grid of names into pytest parameters (they need pytest, so they live here)."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest


def cases(datasets: list[str], embeddings: list[str], strategies: list[str], **marks: Any) -> list[Any]:
    """The full grid as ``pytest.param`` values with ids ``dataset-embedding-strategy``.

    Use with ``@pytest.mark.parametrize("dataset,embedding,strategy", cases(...))``. ``marks`` are
    ``pytest.param``'s (``marks=...``); each list is a list of names, so a lone string (which would be
    split into its characters) is refused, and so is a run setting, which belongs in the case's call.
    """
    for what, names in (("datasets", datasets), ("embeddings", embeddings), ("strategies", strategies)):
        if isinstance(names, str):
            raise TypeError(f"cases(): {what} is the string {names!r}; give a list of names, e.g. [{names!r}]")
    unknown = sorted(set(marks) - {"marks"})
    if unknown:
        raise TypeError(
            f"cases(): unknown keyword(s) {', '.join(unknown)}; cases() takes marks=...; run settings such as "
            "cycles go in albench(...) or @pytest.mark.albench(...)"
        )
    return [pytest.param(d, e, s, id=f"{d}-{e}-{s}", **marks) for d, e, s in product(datasets, embeddings, strategies)]
