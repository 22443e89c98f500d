"""Shared pieces of the three benchmark suites: the embedding ladder, the strategy list, skip rules.

The ladder and the strategy list are read from the package's registries, not copied here, so the
suites, the figures' column order and the registry cannot disagree.

``pytest benchmarks -n 8`` runs the default suite (packaged data and encoders, offline); the local
suite needs ``--albench-data-dir`` and the paper suite needs the Hugging Face Hub and a GPU. Cases
whose requirement is missing are skipped with a reason that says what to install or pass.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from pytest_albench.embeddings import LADDER, missing_requirement
from pytest_albench.strategies import strategy_names

#: Every registered strategy (the built-ins and any installed through the entry-point group): the
#: suites derive it from the registry, so a new strategy joins the grid without editing a list here.
STRATEGIES: list[str] = strategy_names()


def ladder_params() -> list[object]:
    """Every rung of the embeddings' ladder (weakest first) as a parameter; a rung whose packages are
    missing is a skip that names the install, decided by the registry without importing the model."""
    params = []
    for name in LADDER:
        reason = missing_requirement(name)
        marks = () if reason is None else (pytest.mark.skip(reason=reason),)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def hub_and_gpu_missing() -> str | None:
    """Why the paper suite cannot run here, or None when it can: only what is really missing is named
    (Hub access is missing only when the user switched it off; nothing in this repository does)."""
    reasons = []
    if importlib.util.find_spec("datasets") is None:
        reasons.append("the 'datasets' package (pip install 'pytest-albench[hub]')")
    offline = [
        var
        for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
        if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
    ]
    if offline:
        reasons.append(f"Hugging Face Hub access ({' and '.join(offline)} set in your environment: unset it)")
    import torch

    if not torch.cuda.is_available():
        reasons.append("a CUDA GPU (7B-parameter encoders)")
    return "paper suite needs " + ", ".join(reasons) if reasons else None
