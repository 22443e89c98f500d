"""Stored baselines: one JSON file per case, written atomically and checked when read.

A baseline stores what a later run must match (per-seed AULC and final accuracy, the mean curve) and
what it was made from: the configuration hash, the inputs (dataset fingerprint, pool rows, test size,
encoder identity) and the environment (versions, device, numerics). The verdict that compares a case
with its baseline is :mod:`pytest_albench.analysis.verdict`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AlbenchError
from ..record import CaseRecord, describe, is_score
from .atomic import write_json_atomic

BASELINE_FORMAT_VERSION = 1


class BaselineFileError(AlbenchError):
    """A baseline file that cannot be parsed or lacks required fields."""


def case_file_name(case_id: str) -> str:
    """A portable file name for a case id (hub ids contain '/'); a hash keeps mangled names unique."""
    safe = re.sub(r"[^A-Za-z0-9._\-\[\]]+", "_", case_id)
    if safe != case_id:
        safe = f"{safe}.{hashlib.sha256(case_id.encode()).hexdigest()[:8]}"
    return f"{safe}.json"


def baseline_from_case(case: CaseRecord) -> dict[str, Any]:
    """The stored form of a finished case: per-seed summaries, the mean curve and provenance."""
    runs = case["runs"]
    curves = np.array([r["curve"]["accuracy"] for r in runs], dtype=float)
    return {
        "format_version": BASELINE_FORMAT_VERSION,
        "case_id": case["case_id"],
        "nodeid": case["nodeid"],
        "profile": case["profile"],
        "config": case["config"],
        "config_hash": case["config_hash"],
        "per_seed": {str(r["seed"]): {"aulc": r["aulc"], "final_accuracy": r["final_accuracy"]} for r in runs},
        "mean_curve": {
            "n_labeled": runs[0]["curve"]["n_labeled"],
            "accuracy": [float(v) for v in curves.mean(axis=0)],
        },
        "inputs": baseline_inputs(case),
        "environment": case["environment"],
        "package_version": case["environment"].get("versions", {}).get("pytest-albench", "unknown"),
    }


def baseline_inputs(case: CaseRecord) -> dict[str, Any]:
    """What a case was computed from beyond its configuration: the dataset's content, the pool's rows,
    the test split's size and the encoder's identity. A rebuilt data folder or an updated encoder
    package keeps the configuration hash but changes these, and makes the baseline stale."""
    data: Any = case.get("data", {})
    rows = data.get("pool_source_rows")
    return {
        "dataset_fingerprint": data.get("dataset_fingerprint"),
        "pool_rows": None if rows is None else hashlib.sha256(",".join(map(str, rows)).encode()).hexdigest()[:16],
        "test_size": data.get("test_size"),
        "encoder": data.get("embedding_identity"),
    }


def read_baseline(path: Path) -> dict[str, Any] | None:
    """Load a baseline file; ``None`` when missing; a clear error when unreadable or malformed."""
    if not path.exists():
        return None
    fix = "fix the file by hand, or delete it and rerun with --albench-update=new to re-create it"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineFileError(f"baseline file {path} is not valid JSON ({exc}); {fix}") from exc
    if not isinstance(raw, dict):
        raise BaselineFileError(f"baseline file {path} must hold a JSON object; {fix}")
    version = raw.get("format_version")
    if version != BASELINE_FORMAT_VERSION:
        raise BaselineFileError(
            f"baseline file {path} has format version {version!r}, this pytest-albench reads "
            f"{BASELINE_FORMAT_VERSION}; rerun with --albench-update=all to rewrite it"
        )
    missing = [k for k in ("config_hash", "per_seed", "environment") if k not in raw]
    if missing:
        raise BaselineFileError(f"baseline file {path} lacks {missing}; {fix}")
    _check_per_seed(path, raw["per_seed"], fix)
    _check_objects(path, raw, fix)
    return raw


def _check_objects(path: Path, raw: dict[str, Any], fix: str) -> None:
    """The parts a verdict reads as objects must be objects: a string ``environment`` or a list
    ``numerics`` would fail in the verdict with an AttributeError, and a string ``inputs`` would skip
    the stale check and let a baseline of other data pass as ``ok``. (``inputs`` may be absent: older
    baselines did not record them; ``numerics`` may be absent or null: the verdict says so.)"""
    environment = raw["environment"]
    parts = [("environment", environment, False)]
    if isinstance(environment, dict):
        parts.append(("environment.numerics", environment.get("numerics"), True))
    if "inputs" in raw:
        parts.append(("inputs", raw["inputs"], False))
    for name, value, may_be_null in parts:
        if not isinstance(value, dict) and not (may_be_null and value is None):
            raise BaselineFileError(f"baseline file {path}: {name} is {describe(value)}, expected an object; {fix}")


def _check_per_seed(path: Path, per_seed: Any, fix: str) -> None:
    """Every stored value a verdict reads must be a finite number: ``NaN`` would make every comparison
    pass (``drift +nan``) and ``true`` would be read as 1.0. Both are scores, so within [0, 1]: an AULC
    of 5.0 is a hand edit or a foreign file, and comparing with it means nothing."""
    if not isinstance(per_seed, dict) or not per_seed:
        raise BaselineFileError(f"baseline file {path}: per_seed must be a non-empty object of seeds; {fix}")
    for seed, entry in per_seed.items():
        if not str(seed).lstrip("-").isdigit() or not isinstance(entry, dict):
            raise BaselineFileError(f"baseline file {path}: per_seed entry {seed!r} is malformed; {fix}")
        for key in ("aulc", "final_accuracy"):
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise BaselineFileError(
                    f"baseline file {path}: per_seed[{seed!r}].{key} is {json.dumps(value)}, expected a finite "
                    f"number; {fix}"
                )
            if not is_score(value):
                raise BaselineFileError(
                    f"baseline file {path}: per_seed[{seed!r}].{key} is {value!r}, expected a score in [0, 1]; {fix}"
                )


def write_baseline(path: Path, case: CaseRecord) -> None:
    write_json_atomic(path, baseline_from_case(case))
