"""The regression gate over a whole session: error control across cases, not per case.

Each case's verdict tests "worse than the baseline" on its own. On a grid of hundreds of cases, a
change that moves selections without making any strategy worse (a refactor that reorders float sums)
would fail several cases by chance at α = 0.05 each. So the session's one-sided p-values are adjusted
together — Benjamini–Hochberg (the expected share of false alarms among flagged cases stays ≤ α; the
default, because a real break usually hits several cases of one strategy and BH keeps the power to see
them) or Holm (the chance of any false alarm stays ≤ α) — and a case regressed when its mean drop
exceeds the tolerance and its *adjusted* p is below α.

A worker cannot wait for the session: it fails a case at once when its p is below α / m (m = the
session's number of cases), which both procedures reject whatever the other p-values are; a case
between α / m and α is a candidate, and :func:`session_gate` decides it here, on the controller, once
every p-value is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..choices import CORRECTIONS
from ..errors import ConfigError
from ..record import CaseRecord
from ..stats import holm


@dataclass(frozen=True)
class GateResult:
    """The session's decision: which cases regressed after the correction, and which ones only the
    session-wide step flagged (their tests passed when they ran)."""

    correction: str
    alpha: float
    family_size: int
    adjusted: dict[str, float] = field(default_factory=dict)
    regressed: tuple[str, ...] = ()
    flagged_late: tuple[str, ...] = ()
    cleared: tuple[str, ...] = ()
    underpowered: tuple[tuple[str, float, float], ...] = ()


def adjust_p_values(p_values: Sequence[float], correction: str) -> list[float]:
    """Adjusted p-values in the input order (reject where adjusted p < α)."""
    if correction not in CORRECTIONS:
        raise ConfigError(f"unknown correction {correction!r}; choose one of {', '.join(CORRECTIONS)}")
    if correction == "none" or not p_values:
        return [float(p) for p in p_values]
    if correction == "holm":
        return holm(p_values)
    from scipy.stats import false_discovery_control

    return [float(p) for p in false_discovery_control(list(p_values), method="bh")]


def session_gate(cases: Sequence[CaseRecord], alpha: float, correction: str) -> GateResult:
    """Adjust the p-values of every compared case together and mark the regressed ones.

    Updates each compared case's ``baseline`` verdict in place: ``p_adjusted``, and for a candidate the
    session flags, status ``regressed`` with the adjusted p in its message (so the tables, the results
    file and the report say what the gate decided).
    """
    compared = [
        c
        for c in cases
        if isinstance(c.get("baseline", {}).get("p_worse"), float | int)
        and c["baseline"].get("status") not in ("stale", "new")
    ]
    adjusted = adjust_p_values([float(c["baseline"]["p_worse"]) for c in compared], correction)
    regressed, late, cleared, underpowered = [], [], [], []
    for case, p_adj in zip(compared, adjusted, strict=True):
        verdict = case["baseline"]
        verdict["p_adjusted"] = p_adj
        verdict["family_size"] = len(compared)
        tolerance = float(verdict.get("tolerance", 0.0))
        dropped = -float(verdict.get("mean_delta", 0.0)) > tolerance
        mde = verdict.get("mde")
        if isinstance(mde, float | int) and mde > tolerance:
            underpowered.append((case["case_id"], float(mde), tolerance))
        if verdict.get("status") == "regressed":
            regressed.append(case["case_id"])
        elif dropped and p_adj < alpha:
            _flag(case, p_adj, correction, alpha, len(compared))
            regressed.append(case["case_id"])
            late.append(case["case_id"])
        elif verdict.pop("candidate", False):
            cleared.append(case["case_id"])
    return GateResult(
        correction,
        alpha,
        len(compared),
        {c["case_id"]: p for c, p in zip(compared, adjusted, strict=True)},
        tuple(regressed),
        tuple(late),
        tuple(cleared),
        tuple(underpowered),
    )


def _flag(case: CaseRecord, p_adj: float, correction: str, alpha: float, m: int) -> None:
    verdict = case["baseline"]
    verdict["status"] = "regressed"
    verdict["message"] = (
        f"AULC regressed: mean drop {-float(verdict['mean_delta']):.4f} > tolerance {float(verdict['tolerance']):.4f} "
        f"and {correction.upper()}-adjusted p = {p_adj:.3g} < alpha {alpha} (per-case p = "
        f"{float(verdict['p_worse']):.3g}, {m} cases compared); flagged by the session-wide gate"
    )
    verdict.pop("candidate", None)


def gate_lines(result: GateResult) -> list[str]:
    """What the terminal summary says about the gate (empty when nothing was compared)."""
    if not result.family_size:
        return []
    what = CORRECTIONS[result.correction].split(":")[0]
    lines = [
        f"albench: regression gate over {result.family_size} compared case(s), {what}, alpha {result.alpha}: "
        f"{len(result.regressed)} regressed"
    ]
    lines += [
        f"albench: REGRESSED (session-wide gate, its test had passed): {case_id}" for case_id in result.flagged_late
    ]
    if result.cleared:
        lines.append(
            f"albench: {len(result.cleared)} case(s) below alpha on their own are not regressions once the "
            f"session's {result.family_size} tests are taken together"
        )
    if result.underpowered:
        worst = max(result.underpowered, key=lambda row: row[1])
        lines.append(
            f"albench: WARNING: {len(result.underpowered)} case(s) cannot detect a drop of their tolerance with their "
            f"seeds at alpha / {result.family_size} (e.g. {worst[0]}: detectable drop {_drop(worst[1])} > tolerance "
            f"{worst[2]:.4f}, assuming a change re-draws each seed's AULC); add seeds or raise the tolerance for the "
            "gate to mean something there"
        )
    return lines


def _drop(value: float) -> str:
    return "none" if value >= 1.0 else f"{value:.4f}"
