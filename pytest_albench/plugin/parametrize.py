"""Helpers that turn a grid of names into pytest parameters (they need pytest, so they live here)."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest


def cases(datasets: list[str], embeddings: list[str], strategies: list[str], **marks: Any) -> list[Any]:
    """The full grid as ``pytest.param`` values with ids ``dataset-embedding-strategy``.

    Use with ``@pytest.mark.parametrize("dataset,embedding,strategy", cases(...))``.
    """
    return [pytest.param(d, e, s, id=f"{d}-{e}-{s}", **marks) for d, e, s in product(datasets, embeddings, strategies)]
