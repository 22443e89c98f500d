"""benchmarks/perf/subnormals.py: its counts find planted subnormals and underflows, its flush mode
takes effect and is undone, and the whole script runs on a small synthetic pool."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmarks.perf import subnormals
from pytest_albench.strategies import QueryInputs

TINY32 = float(np.finfo(np.float32).tiny)


def _flush_supported() -> bool:
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
    return supported


def test_subnormal_count_counts_only_nonzero_values_below_the_smallest_normal() -> None:
    values = np.array([0.0, TINY32 / 2, -TINY32 / 4, TINY32, 1.0, -1e-30], dtype=np.float32)
    assert subnormals.subnormal_count(values) == 2
    assert subnormals.subnormal_count(torch.from_numpy(values)) == 2
    assert subnormals.subnormal_count(np.array([1e-310, 1e-300, 0.0])) == 1  # float64's own threshold
    assert subnormals.subnormal_count(np.arange(5)) == 0


def test_a_product_term_counts_when_it_is_subnormal_or_two_nonzero_factors_underflow() -> None:
    a = np.array([1e-30, 1e-20, 0.0, 0.5], dtype=np.float32)
    b = np.array([1e-30, 1e-20, 1.0, 0.5], dtype=np.float32)
    found = subnormals._product_census(a, b)
    # 1e-60 rounds to zero, 1e-40 is subnormal; 0 · 1 and 0.5 · 0.5 are not counted
    assert (found.subnormal, found.total, found.smallest) == (2, 4, pytest.approx(1e-40, rel=1e-2))


def _inputs(n: int = 60, d: int = 6, c: int = 3, tiny_column: float = 1e-25) -> QueryInputs:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d)).astype(np.float32)
    x[:, 2] = tiny_column  # like minilm-l6's two near-zero coordinates
    proba = rng.dirichlet(np.ones(c), n).astype(np.float32)
    proba[:, 0] = 1e-25  # a class no point is near
    proba /= proba.sum(axis=1, keepdims=True)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[:5] = True
    xt = torch.from_numpy(x)
    return QueryInputs(xt, labeled, torch.full((n,), -1), c, proba=torch.from_numpy(proba), hidden=xt, memo={})


def test_the_census_finds_planted_tiny_values_in_every_product_it_checks() -> None:
    inputs = _inputs()
    head = SimpleNamespace(weight=torch.ones(6, 3))
    picks = np.array([7, 11, 13])
    rows = {what: (found, total) for what, found, total, _ in subnormals.subnormal_census("badge", inputs, head, picks)}
    assert rows["embeddings"] == (0, 360)  # 1e-25 is tiny but normal
    assert rows["head terms x·w"] == (0, 60 * 6 * 3)  # 1e-25 · 1 is normal
    assert rows["terms h_i·h_j at the picks"] == (60 * 3, 60 * 6 * 3)  # 1e-50 underflows, column 2 only
    assert rows["terms a_i·a_j at the picks"][0] == 60 * 3  # the tiny class's factor squared
    coreset = {what: found for what, found, _, _ in subnormals.subnormal_census("coreset", inputs, head, picks)}
    assert set(coreset) == {"embeddings", "proba", "hidden", "head terms x·w", "terms x_i·x_j at the picks"}
    assert coreset["terms x_i·x_j at the picks"] == 60 * 3


def test_the_census_of_a_pool_without_tiny_values_is_zero() -> None:
    inputs = _inputs(tiny_column=0.5)
    head = SimpleNamespace(weight=torch.ones(6, 3))
    rows = subnormals.subnormal_census("coreset", inputs, head, np.array([7, 11]))
    assert {what: found for what, found, _, _ in rows}["terms x_i·x_j at the picks"] == 0


@pytest.mark.skipif(not _flush_supported(), reason="this CPU has no flush-to-zero mode torch can set")
def test_the_flush_mode_zeroes_subnormal_operands_and_is_undone_afterwards() -> None:
    half = np.full(4, TINY32 / 2, dtype=np.float32)
    assert subnormals.flush_takes_effect()
    with subnormals.flush_subnormals(True):
        assert float((half * np.float32(1))[0]) == 0.0
    assert float((half * np.float32(1))[0]) > 0.0  # gradual underflow again


@pytest.mark.skipif(not _flush_supported(), reason="this CPU has no flush-to-zero mode torch can set")
def test_the_script_runs_on_a_synthetic_pool_and_restores_the_thread_count(capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    argv = ["--synthetic", "--synthetic-rows", "300", "--classes", "3", "--dim", "8"]
    argv += ["--rounds", "2", "--batch", "10", "--strategies", "margin", "badge"]
    assert subnormals.main(argv) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "flush-to-zero turns a subnormal operand into 0 in numpy and torch here: True" in out
    census, timing = out.split(" flush off (ms) ")
    census_rows = [line.split("|")[1:3] for line in census.splitlines() if line.startswith(("| margin ", "| badge "))]
    assert [(name.strip(), what.strip()) for name, what in census_rows] == [
        ("margin", "embeddings"),
        ("margin", "proba"),
        ("margin", "head terms x·w"),
        ("badge", "embeddings"),
        ("badge", "proba"),
        ("badge", "hidden"),
        ("badge", "head terms x·w"),
        ("badge", "terms a_i·a_j at the picks"),
        ("badge", "terms h_i·h_j at the picks"),
    ]
    timing_rows = [line.split("|") for line in timing.splitlines() if line.startswith(("| margin ", "| badge "))]
    assert [row[1].strip() for row in timing_rows] == ["margin", "badge"]
    assert [row[5].strip() for row in timing_rows] == ["yes", "yes"]  # flushing changed no pick
    assert torch.get_num_threads() == threads


def test_an_unknown_strategy_fails_before_any_work() -> None:
    with pytest.raises(Exception, match="nope"):
        subnormals.main(["--synthetic", "--strategies", "nope"])
