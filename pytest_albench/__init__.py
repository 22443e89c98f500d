"""pytest-albench: active-learning query strategies benchmarked on frozen text embeddings.

The package is imported by every pytest run where the plugin is installed, so this module stays
cheap: the public API is resolved lazily on first attribute access, and torch, sentence-transformers
and scikit-learn load only when something runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    # engine
    "ALConfig": "engine.config",
    "Engine": "engine.engine",
    "EngineSettings": "engine.engine",
    "run_experiment": "engine.engine",
    "run_seeds": "engine.engine",
    "run_active_learning": "engine.loop",
    "PoolProblem": "engine.loop",
    "RunResult": "engine.result",
    # datasets and embeddings
    "load_dataset": "data",
    "register_dataset": "data",
    "dataset_names": "data",
    "TextDataset": "data",
    "embed_dataset": "embeddings",
    "register_embedding": "embeddings",
    "embedding_names": "embeddings",
    # heads and strategies
    "make_head": "engine.heads",
    "register_head": "engine.heads",
    "head_names": "engine.heads",
    "QueryInputs": "strategies",
    "Param": "strategies",
    "register_strategy": "strategies",
    "get_strategy": "strategies",
    "strategy_names": "strategies",
    "query": "strategies",
    "select_initial_pool": "strategies",
    "register_ips": "strategies",
    "register_initial_pool_method": "strategies",
    "ips_names": "strategies",
    # parametrizing a suite (the only public name that needs pytest)
    "cases": "plugin.parametrize",
}

__all__ = sorted([*_LAZY, "__version__"])  # noqa: PLE0605 - _LAZY is the one list of public names

if TYPE_CHECKING:  # pragma: no cover
    from .engine.config import ALConfig  # noqa: F401
    from .engine.engine import Engine, EngineSettings, run_experiment, run_seeds  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_albench' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
