"""Label-free measures for results files that predate them: rebuild each cell's pool and measure it.

The pool is rebuilt from the case's stored configuration (dataset, embedding, caps, subsample seed,
validation setting) through the same engine, data folder and embedding cache as the run, so the
measures describe the very rows that were run.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..analysis.cells import Case
from .training import MeasureFn

__all__ = ["measure_from_config", "source_digests"]


def measure_from_config(data_dir: str | None, cache_dir: str | None = None) -> MeasureFn:
    """A :data:`MeasureFn` that rebuilds a case's pool from ``case["config"]`` (one engine for all)."""
    from ..engine.config import ALConfig
    from ..engine.engine import Engine
    from ..engine.label_free import label_free_measures

    engine = Engine(data_dir=data_dir, cache_dir=cache_dir, progress=False)

    def measure(case: Case) -> Mapping[str, float]:
        print(f"albench-advise: measuring the pool of {case['dataset']} × {case['embedding']}", file=sys.stderr)
        config = ALConfig.from_dict(dict(case["config"]))
        problem = engine.problem_for(config)
        values: dict[str, Any] = dict(label_free_measures(problem.x_pool))
        values.update(n_classes=problem.n_classes, dim=int(problem.x_pool.shape[1]))
        return values

    return measure


def source_digests(paths: Sequence[str]) -> list[dict[str, str]]:
    """Path (as given) and sha256 of each results file a model was built from (the model records them)."""
    return [{"file": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()} for path in paths]
