"""One case against its stored baseline: the verdict, and what drop its seeds could have detected.

Verdicts:

- ``new``: no baseline; ``stale``: not comparable — the configuration hash, the dataset's content,
  the pool's rows or the encoder's identity changed (the message says which);
- ``regressed``: mean AULC drop over paired seeds > tolerance AND the one-sided paired test of
  "worse" is significant at the level the session's error control gives this case (see
  :mod:`pytest_albench.analysis.gate`); ``improved`` is the mirror image at ``alpha``;
- ``drift``: same inputs, same software and the same numerics (CPU, instruction set, BLAS), so
  deterministic code should have reproduced the baseline exactly, but some value differs;
- ``numeric``: same inputs and software, but the baseline was made on other numerics (or does not
  say on which): torch and the BLAS libraries round differently per CPU, one rounding can flip one
  AL selection, so a difference is not blamed on the code;
- ``ok``: anything else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..record import BaselineVerdict, CaseRecord
from ..stats.paired import paired_test
from ..storage.baselines import baseline_inputs

#: Values from the same environment that differ by less than this count as identical (JSON floats).
EXACT_ATOL = 1e-9
#: Power at which the minimum detectable drop is stated.
MDE_POWER = 0.8


@dataclass(frozen=True)
class CompareSettings:
    """How one case is judged. ``case_alpha`` is the level a single case must reach to fail on its own
    (``alpha`` divided by the session's number of cases under Holm or BH, ``alpha`` without correction);
    a case between ``case_alpha`` and ``alpha`` is a candidate that the session-wide step decides."""

    tolerance: float = 0.01
    alpha: float = 0.05
    test: str = "ttest"
    correction: str = "bh"
    family_size: int = 1

    @property
    def case_alpha(self) -> float:
        return self.alpha if self.correction == "none" else self.alpha / max(1, self.family_size)


@dataclass
class Verdict:
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> BaselineVerdict:
        """The verdict as the case record stores it; ``details`` holds its optional keys (see :func:`compare`)."""
        return cast(BaselineVerdict, {"status": self.status, "message": self.message, **self.details})


def compare(case: CaseRecord, baseline: Mapping[str, Any] | None, settings: CompareSettings) -> Verdict:
    """The verdict for a finished case against its stored baseline."""
    if baseline is None:
        return Verdict("new", "no stored baseline; run with --albench-update=new to store one")
    changed = _changed_inputs(case, baseline)
    if changed:
        return Verdict(
            "stale",
            f"not comparable with its baseline: {'; '.join(changed)}. Rerun with --albench-update=all to "
            "record a baseline for the new inputs",
            {"baseline_config": baseline.get("config"), "changed": changed},
        )
    current = {str(r["seed"]): r for r in case["runs"]}
    seeds = sorted(set(current) & set(baseline["per_seed"]), key=int)
    if not seeds:
        return Verdict("stale", "the baseline shares no seed with this run; rerun with --albench-update=all")
    cur = [float(current[s]["aulc"]) for s in seeds]
    base = [float(baseline["per_seed"][s]["aulc"]) for s in seeds]
    result = paired_test(cur, base, settings.test)
    mde = minimum_detectable_drop(base, settings.test, settings.case_alpha)
    details: dict[str, Any] = {
        "seeds": [int(s) for s in seeds],
        "baseline_aulc": base,
        "current_aulc": cur,
        "mean_delta": result.mean_delta,
        "p_worse": result.p_worse,
        "p_better": result.p_better,
        "tolerance": settings.tolerance,
        "alpha": settings.alpha,
        "case_alpha": settings.case_alpha,
        "correction": settings.correction,
        "test": result.test_name,
        # JSON has no infinity: 1.0, the whole AULC range, stands for "no drop can be detected"
        "mde": None if mde is None else min(mde, 1.0),
    }
    table = per_seed_table(seeds, base, cur)
    dropped = -result.mean_delta > settings.tolerance
    if dropped and result.p_worse < settings.case_alpha:
        return Verdict(
            "regressed",
            regression_message(result.mean_delta, settings, result.test_name, result.p_worse, None) + f"\n{table}",
            details,
        )
    if dropped and result.p_worse < settings.alpha:
        details["candidate"] = True  # decided with the whole session's p-values (analysis.gate)
    if result.mean_delta > settings.tolerance and result.p_better < settings.alpha:
        message = f"AULC improved by {result.mean_delta:.4f} (p = {result.p_better:.3g})\n{table}"
        return Verdict("improved", message, details)
    exact = all(
        abs(float(current[s]["aulc"]) - float(baseline["per_seed"][s]["aulc"])) <= EXACT_ATOL
        and abs(float(current[s]["final_accuracy"]) - float(baseline["per_seed"][s]["final_accuracy"])) <= EXACT_ATOL
        for s in seeds
    )
    if not exact and _same_software(baseline["environment"], case["environment"]):
        return _unexplained_difference(baseline["environment"], case["environment"], table, details)
    return Verdict("ok", f"within tolerance (mean delta {result.mean_delta:+.4f})", details)


def regression_message(
    mean_delta: float, settings: CompareSettings, test: str, p: float, p_adjusted: float | None
) -> str:
    """The one sentence that says why a case counts as regressed."""
    level = (
        f"{settings.correction.upper()}-adjusted p = {p_adjusted:.3g} < alpha {settings.alpha} "
        f"(per-case p = {p:.3g}, {settings.family_size} cases)"
        if p_adjusted is not None
        else f"{test} p = {p:.3g} < {settings.case_alpha:.3g}"
        + (f" (alpha {settings.alpha} / {settings.family_size} cases)" if settings.correction != "none" else "")
    )
    return f"AULC regressed: mean drop {-mean_delta:.4f} > tolerance {settings.tolerance:.4f} and {level}"


def _unexplained_difference(
    base_env: Mapping[str, Any], env: Mapping[str, Any], table: str, details: dict[str, Any]
) -> Verdict:
    base_numerics, numerics = base_env.get("numerics"), env.get("numerics")
    if base_numerics is not None and base_numerics == numerics:
        return Verdict(
            "drift",
            "same inputs, software and numerics (CPU, instruction set, BLAS), yet results differ from the "
            f"baseline: the code is not deterministic or changed behaviour without changing its configuration\n{table}",
            details,
        )
    if base_numerics is None:
        why = "the baseline does not record the CPU and BLAS it was made with"
    else:
        differing = sorted(
            k for k in set(base_numerics) | set(numerics or {}) if base_numerics.get(k) != (numerics or {}).get(k)
        )
        why = (
            "made with other numerics ("
            + ", ".join(f"{k}: {base_numerics.get(k)!r} -> {(numerics or {}).get(k)!r}" for k in differing)
            + ")"
        )
    details["numerics_changed"] = why
    return Verdict(
        "numeric",
        f"results differ from the baseline by floating-point rounding, not by code: {why}. Record baselines "
        f"on this machine with --albench-update=all to compare exactly\n{table}",
        details,
    )


def _changed_inputs(case: CaseRecord, baseline: Mapping[str, Any]) -> list[str]:
    """Which inputs differ between a case and its baseline (empty when comparable)."""
    changed = []
    if baseline["config_hash"] != case["config_hash"]:
        changed.append(f"the configuration changed (hash {baseline['config_hash']} -> {case['config_hash']})")
    stored = baseline.get("inputs")
    if isinstance(stored, Mapping):  # baselines written before the inputs were recorded cannot say
        now = baseline_inputs(case)
        labels = {
            "dataset_fingerprint": "the dataset's content changed (fingerprint {} -> {})",
            "pool_rows": "the pool's rows changed ({} -> {})",
            "test_size": "the test split's size changed ({} -> {})",
            "encoder": "the encoder changed ({} -> {})",
        }
        for key, text in labels.items():
            if key in stored and stored[key] != now.get(key):
                changed.append(text.format(_short(stored[key]), _short(now.get(key))))
    return changed


def _short(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_short(v)}" for k, v in sorted(value.items()) if k != "kind")
    text = str(value)
    return text[:16] if len(text) > 40 else text


def _same_software(base_env: Mapping[str, Any], env: Mapping[str, Any]) -> bool:
    return all(base_env.get(k) == env.get(k) for k in ("versions", "platform", "device"))


def minimum_detectable_drop(baseline_aulcs: Sequence[float], test: str, level: float) -> float | None:
    """The smallest mean AULC drop this case's seeds could flag at ``level`` with 80 % power.

    A change that moves selections re-draws each seed's AULC, so the paired differences spread about
    √2 × the seed-to-seed s.d. of the baseline. For the t-test that gives
    (t(1-level) + t(power)) · √2 · s / √n with n - 1 degrees of freedom; for the rank tests the smallest
    attainable one-sided p is 0.5^n, and ``inf`` says that no drop at all can reach ``level``.
    ``None`` when fewer than two seeds leave nothing to estimate.
    """
    values = np.asarray(baseline_aulcs, dtype=float)
    n = int(values.size)
    if test in ("sign", "wilcoxon") and 0.5**n >= level:
        return math.inf
    if n < 2:
        return None
    from scipy.stats import t as student_t

    spread = math.sqrt(2.0) * float(values.std(ddof=1))
    quantiles = float(student_t.ppf(1.0 - level, n - 1)) + float(student_t.ppf(MDE_POWER, n - 1))
    drop = quantiles * spread / math.sqrt(n)
    return drop if drop < 1.0 else math.inf  # AULC lies in [0, 1]: a larger drop cannot happen


def per_seed_table(seeds: Sequence[str], base: Sequence[float], cur: Sequence[float]) -> str:
    """Baseline and current AULC per seed, as plain aligned text for a failure message."""
    rows = [("seed", "baseline AULC", "current AULC", "difference")]
    rows += [(s, f"{b:.4f}", f"{c:.4f}", f"{c - b:+.4f}") for s, b, c in zip(seeds, base, cur, strict=True)]
    rows.append(("mean", f"{np.mean(base):.4f}", f"{np.mean(cur):.4f}", f"{np.mean(cur) - np.mean(base):+.4f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
