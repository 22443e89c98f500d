"""The session-wide regression gate: no false alarms on a large null grid, a real break still fails.

The null grid is what a refactor that moves selections without making anything worse looks like:
every case's seeds are re-drawn from the same distribution as its baseline. Testing each case at
α = 0.05 then flags several cases by chance; adjusting the session's p-values together flags none.
The break is real: margin sampling made to pick the *largest* margins (the most certain points), run
through the engine and compared with baselines of the correct margin.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from pytest_albench.analysis.gate import adjust_p_values, gate_lines, session_gate
from pytest_albench.analysis.verdict import CompareSettings, compare, minimum_detectable_drop
from pytest_albench.record import CaseRecord
from pytest_albench.storage.baselines import baseline_from_case

NUMERICS = {"cpu": "test-cpu"}
ENV = {"versions": {"pytest-albench": "0.1.0"}, "platform": "Linux-x86_64", "device": "cpu", "numerics": NUMERICS}
N_NULL_CASES = 300
SEEDS = 3


def _record(case_id: str, aulcs: list[float]) -> CaseRecord:
    runs = [
        {"seed": s, "aulc": a, "final_accuracy": a, "curve": {"n_labeled": [10, 20], "accuracy": [a, a]}}
        for s, a in enumerate(aulcs)
    ]
    return {
        "case_id": case_id,
        "nodeid": f"t.py::{case_id}",
        "dataset": "d",
        "embedding": "e",
        "strategy": "s",
        "profile": "smoke",
        "config": {},
        "config_hash": "h",
        "runs": runs,
        "environment": ENV,
    }  # type: ignore[typeddict-item]


def _null_grid(settings: CompareSettings, rng: np.random.Generator) -> list[CaseRecord]:
    """Cases whose current seeds are fresh draws of the baseline's distribution: nothing got worse."""
    cases = []
    for i in range(N_NULL_CASES):
        mean, sd = rng.uniform(0.7, 0.95), rng.uniform(0.005, 0.03)
        base = _record(f"null{i}", list(rng.normal(mean, sd, SEEDS)))
        case = _record(f"null{i}", list(rng.normal(mean, sd, SEEDS)))
        case["baseline"] = compare(case, baseline_from_case(base), settings).to_dict()
        cases.append(case)
    return cases


@pytest.mark.parametrize("correction", ["bh", "holm"])
def test_null_grid_false_alarms_per_case_but_not_after_correction(correction: str) -> None:
    per_case = CompareSettings(tolerance=0.01, alpha=0.05, correction="none")
    alarms = [
        c["case_id"] for c in _null_grid(per_case, np.random.default_rng(7)) if c["baseline"]["status"] == "regressed"
    ]
    assert len(alarms) >= 5, "the null grid must show the problem: per-case testing gives false alarms"

    session = CompareSettings(tolerance=0.01, alpha=0.05, correction=correction, family_size=N_NULL_CASES)
    cases = _null_grid(session, np.random.default_rng(7))  # the same draws
    assert not [c for c in cases if c["baseline"]["status"] == "regressed"]  # none fails on its own
    result = session_gate(cases, alpha=0.05, correction=correction)
    assert result.regressed == ()
    assert result.family_size == N_NULL_CASES
    assert set(result.cleared) == set(alarms)  # the per-case alarms are exactly what the gate clears
    assert all(0.0 <= c["baseline"]["p_adjusted"] <= 1.0 for c in cases)


def test_adjusted_p_values_match_the_textbook_procedures() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04 then running max
    assert adjust_p_values(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: m/rank * p from the largest down, running min: 0.04, 4/3*0.03=0.04, 2*0.01=0.02, 4*0.005=0.02
    assert adjust_p_values(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_p_values(p, "none") == p


def test_a_case_below_alpha_over_m_fails_at_once_whatever_the_session() -> None:
    settings = CompareSettings(tolerance=0.01, alpha=0.05, correction="bh", family_size=10)
    base = _record("c", [0.90, 0.91, 0.92, 0.90, 0.91])
    worse = _record("c", [0.80, 0.81, 0.82, 0.80, 0.81])
    verdict = compare(worse, baseline_from_case(base), settings)
    assert verdict.status == "regressed"
    assert "< 0.005 (alpha 0.05 / 10 cases)" in verdict.message


def test_minimum_detectable_drop_and_the_underpowered_warning() -> None:
    # t-test, 3 seeds, seed sd 0.02: (t_0.95 + t_0.8 at 2 df) * sqrt(2) * 0.02 / sqrt(3)
    from scipy.stats import t

    expected = (t.ppf(0.95, 2) + t.ppf(0.8, 2)) * math.sqrt(2) * 0.02 / math.sqrt(3)
    assert minimum_detectable_drop([0.80, 0.82, 0.84], "ttest", 0.05) == pytest.approx(expected)
    assert minimum_detectable_drop([0.8, 0.8, 0.8], "sign", 0.05) == math.inf  # 0.5**3 = 0.125 >= 0.05
    assert minimum_detectable_drop([0.8], "ttest", 0.05) is None
    settings = CompareSettings(tolerance=0.01, alpha=0.05, correction="bh", family_size=1)
    base, case = _record("noisy", [0.70, 0.80, 0.90]), _record("noisy", [0.70, 0.80, 0.90])
    case["baseline"] = compare(case, baseline_from_case(base), settings).to_dict()
    lines = gate_lines(session_gate([case], 0.05, "bh"))
    assert any("cannot detect a drop of their tolerance" in line and "noisy" in line for line in lines)


# ----------------------------------------------------------------------------- a real strategy break


@contextmanager
def margin_picks_largest() -> Iterator[None]:
    """Margin sampling broken for real: the *largest* margins (most certain points) are queried."""
    from pytest_albench.strategies import get_strategy, register_strategy
    from pytest_albench.strategies._common import margins, require, select_top
    from pytest_albench.strategies.base import STRATEGIES
    from pytest_albench.strategies.kernels import torch_generator

    original = get_strategy("margin")

    def broken(inputs: Any, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        scores = margins(require(inputs, "proba", "margin"))[inputs.unlabeled_indices()]
        return select_top(scores, inputs, batch_size, torch_generator(rng), largest=True)

    register_strategy("margin", needs={"proba"}, replace=True)(broken)
    try:
        yield
    finally:
        STRATEGIES.add("margin", original, replace=True)


def _runs(strategy: str, embedding: str, ips: str, seeds: range) -> CaseRecord:
    from pytest_albench import ALConfig, Engine, run_experiment

    config = ALConfig(
        dataset="bbc_news",
        embedding=embedding,
        strategy=strategy,
        initial_pool_method=ips,
        cycles=5,
        query_size=10,
        max_pool=400,
        max_test=300,
    )
    engine = Engine(device="cpu", progress=False)
    results = [run_experiment(config, seed, engine) for seed in seeds]
    record = _record(f"{embedding}-{strategy}-{ips}", [r.aulc for r in results])
    record["config_hash"] = results[0].config_hash
    return record


def test_a_real_break_still_fails_the_corrected_gate() -> None:
    seeds = range(5)
    cells = [("tfidf-lsa", "random"), ("tfidf-lsa", "typiclust")]
    with margin_picks_largest():
        broken = {cell: _runs("margin", *cell, seeds) for cell in cells}
    correct = {cell: _runs("margin", *cell, seeds) for cell in cells}
    settings = CompareSettings(tolerance=0.01, alpha=0.05, correction="bh", family_size=N_NULL_CASES + len(cells))
    cases = _null_grid(settings, np.random.default_rng(7))
    for cell in cells:
        case = copy.deepcopy(broken[cell])
        case["baseline"] = compare(case, baseline_from_case(correct[cell]), settings).to_dict()
        assert case["baseline"]["mean_delta"] < -0.02, "picking the most certain points must hurt"
        cases.append(case)
    result = session_gate(cases, alpha=0.05, correction="bh")
    assert set(result.regressed) == {broken[cell]["case_id"] for cell in cells}


def test_an_undetectable_drop_is_stored_as_json() -> None:
    import json

    settings = CompareSettings(tolerance=0.01, alpha=0.05, test="sign", correction="bh", family_size=50)
    base, case = _record("few", [0.80, 0.81, 0.82]), _record("few", [0.80, 0.81, 0.82])
    verdict = compare(case, baseline_from_case(base), settings).to_dict()
    assert verdict["mde"] == 1.0  # no drop can reach alpha / 50 with 3 seeds: the whole AULC range
    json.dumps(verdict, allow_nan=False)  # results files refuse NaN and infinity
