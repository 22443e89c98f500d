"""Shared pieces of the three benchmark suites: the embedding ladder, the strategy list, skip rules.

The ladder and the strategy list are read from the package's registries, not copied here, so the
suites, the figures' column order and the registry cannot disagree.

``pytest benchmarks -n 8`` runs the default suite (packaged data and encoders, offline); the local
suite needs ``--albench-data-dir`` and the paper suite needs the Hugging Face Hub and a GPU. The suites
declare that with ``@pytest.mark.albench_requires``: cases whose requirement is missing are deselected
at collection, with one line per requirement that says what to install or pass (a case named by node
id is skipped with that reason instead; see ``pytest_albench/plugin/requirements.py``).
"""

from __future__ import annotations

import pytest

from pytest_albench.embeddings import LADDER
from pytest_albench.strategies import strategy_names

#: Every registered strategy (the built-ins and any installed through the entry-point group): the
#: suites derive it from the registry, so a new strategy joins the grid without editing a list here.
STRATEGIES: list[str] = strategy_names()


def ladder_params() -> list[object]:
    """Every rung of the embeddings' ladder (weakest first) as a parameter; a rung whose packages are
    missing is deselected with the install command, decided by the registry without importing the model."""
    return [pytest.param(name, id=name, marks=pytest.mark.albench_requires(encoder=name)) for name in LADDER]
