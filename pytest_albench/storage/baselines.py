"""Stored baselines: one JSON file per case, and the paired comparison that gives a verdict.

Verdicts:
- ``new``: no baseline file; ``stale``: the case's configuration hash changed (not comparable);
- ``regressed``: mean AULC drop over paired seeds > tolerance AND the one-sided paired test of
  "worse" is significant at ``alpha``; ``improved`` is the mirror image;
- ``drift``: same configuration and same environment fingerprint, so deterministic code should have
  reproduced the baseline exactly, but some value differs;
- ``ok``: anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import AlbenchError
from ..record import BaselineVerdict, CaseRecord
from ..stats.paired import paired_test
from .atomic import write_json_atomic

BASELINE_FORMAT_VERSION = 1
#: Values from the same environment that differ by less than this count as identical (JSON floats).
EXACT_ATOL = 1e-9


class BaselineFileError(AlbenchError):
    """A baseline file that cannot be parsed or lacks required fields."""


@dataclass(frozen=True)
class CompareSettings:
    tolerance: float = 0.01
    alpha: float = 0.05
    test: str = "ttest"


@dataclass
class Verdict:
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> BaselineVerdict:
        """The verdict as the case record stores it; ``details`` holds its optional keys (see :func:`compare`)."""
        return cast(BaselineVerdict, {"status": self.status, "message": self.message, **self.details})


def case_file_name(case_id: str) -> str:
    """A portable file name for a case id (hub ids contain '/'); a hash keeps mangled names unique."""
    safe = re.sub(r"[^A-Za-z0-9._\-\[\]]+", "_", case_id)
    if safe != case_id:
        import hashlib

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
        "per_seed": {
            str(r["seed"]): {"aulc": r["aulc"], "final_accuracy": r["final_accuracy"]} for r in runs
        },
        "mean_curve": {
            "n_labeled": runs[0]["curve"]["n_labeled"],
            "accuracy": [float(v) for v in curves.mean(axis=0)],
        },
        "environment": case["environment"],
        "package_version": case["environment"].get("versions", {}).get("pytest-albench", "unknown"),
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
    try:
        for seed, entry in raw["per_seed"].items():
            int(seed)
            float(entry["aulc"]), float(entry["final_accuracy"])
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BaselineFileError(f"baseline file {path} has a malformed per_seed entry ({exc!r}); {fix}") from exc
    return raw


def write_baseline(path: Path, case: CaseRecord) -> None:
    write_json_atomic(path, baseline_from_case(case))


def compare(case: CaseRecord, baseline: dict[str, Any] | None, settings: CompareSettings) -> Verdict:
    """The verdict for a finished case against its stored baseline."""
    if baseline is None:
        return Verdict("new", "no stored baseline; run with --albench-update=new to store one")
    if baseline["config_hash"] != case["config_hash"]:
        return Verdict(
            "stale",
            f"the case's configuration changed (baseline {baseline['config_hash']}, now "
            f"{case['config_hash']}); results are not comparable: rerun with --albench-update=all",
            {"baseline_config": baseline.get("config")},
        )
    current = {str(r["seed"]): r for r in case["runs"]}
    seeds = sorted(set(current) & set(baseline["per_seed"]), key=int)
    if not seeds:
        return Verdict("stale", "the baseline shares no seed with this run; rerun with --albench-update=all")
    cur = [float(current[s]["aulc"]) for s in seeds]
    base = [float(baseline["per_seed"][s]["aulc"]) for s in seeds]
    result = paired_test(cur, base, settings.test)
    details = {
        "seeds": [int(s) for s in seeds],
        "baseline_aulc": base,
        "current_aulc": cur,
        "mean_delta": result.mean_delta,
        "p_worse": result.p_worse,
        "p_better": result.p_better,
        "tolerance": settings.tolerance,
        "alpha": settings.alpha,
        "test": result.test_name,
    }
    table = _per_seed_table(seeds, base, cur)
    if -result.mean_delta > settings.tolerance and result.p_worse < settings.alpha:
        return Verdict(
            "regressed",
            f"AULC regressed: mean drop {-result.mean_delta:.4f} > tolerance {settings.tolerance:.4f} and "
            f"{result.test_name} p = {result.p_worse:.3g} < alpha {settings.alpha}\n{table}",
            details,
        )
    if result.mean_delta > settings.tolerance and result.p_better < settings.alpha:
        message = f"AULC improved by {result.mean_delta:.4f} (p = {result.p_better:.3g})\n{table}"
        return Verdict("improved", message, details)
    same_env = _comparable_environment(baseline["environment"]) == _comparable_environment(case["environment"])
    exact = all(
        abs(float(current[s]["aulc"]) - float(baseline["per_seed"][s]["aulc"])) <= EXACT_ATOL
        and abs(float(current[s]["final_accuracy"]) - float(baseline["per_seed"][s]["final_accuracy"])) <= EXACT_ATOL
        for s in seeds
    )
    if same_env and not exact:
        return Verdict(
            "drift",
            "same configuration and environment, yet results differ from the baseline: the code is not "
            f"deterministic or changed behaviour without changing its configuration\n{table}",
            details,
        )
    return Verdict("ok", f"within tolerance (mean delta {result.mean_delta:+.4f})", details)


def _comparable_environment(env: Mapping[str, Any]) -> dict[str, Any]:
    return {k: env.get(k) for k in ("versions", "platform", "device")}


def _per_seed_table(seeds: list[str], base: list[float], cur: list[float]) -> str:
    from tabulate import tabulate

    rows = [[s, f"{b:.4f}", f"{c:.4f}", f"{c - b:+.4f}"] for s, b, c in zip(seeds, base, cur, strict=True)]
    rows.append(["mean", f"{np.mean(base):.4f}", f"{np.mean(cur):.4f}", f"{np.mean(cur) - np.mean(base):+.4f}"])
    table: str = tabulate(rows, headers=["seed", "baseline AULC", "current AULC", "difference"], tablefmt="simple",
                          disable_numparse=True)
    return table
