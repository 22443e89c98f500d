"""The scaling setting of ``python -m benchmarks.perf.strategy_cost`` (no timing involved).

Why: the 100k / 1M table is only meaningful if the resized pools are what the README says (seeded,
real rows kept, the requested shape), the skip rule extrapolates as documented, and the fitted
exponent reads 1 for linear and 2 for quadratic growth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.perf.strategy_cost.scaling import estimate, parse_shape, scaling_table, time_exponent
from benchmarks.perf.strategy_cost.worker import Row, scaled_real_pool


def test_shapes_parse_and_bad_ones_say_the_form() -> None:
    assert parse_shape("100000x1024") == (100_000, 1024)
    assert parse_shape("1_000_000×384") == (1_000_000, 384)
    for bad in ("100000", "x384", "10x0", "axb"):
        with pytest.raises(ValueError, match=r"ROWSxWIDTH|positive"):
            parse_shape(bad)


def test_resized_real_pool_keeps_rows_tiles_with_jitter_and_projects_the_width() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 16), dtype=np.float32), rng.integers(0, 4, 300)
    big, big_y = scaled_real_pool(x, y, 1000, 16, seed=0)
    assert big.shape == (1000, 16) and big.dtype == np.float32 and big_y.shape == (1000,)
    assert np.array_equal(big[:300], x) and np.array_equal(big_y[:300], y)  # copy 0 exact
    assert not np.array_equal(big[300:600], x)  # later copies jittered
    wide, _ = scaled_real_pool(x, y, 300, 64, seed=0)
    assert wide.shape == (300, 64)
    again, _ = scaled_real_pool(x, y, 300, 64, seed=0)
    assert np.array_equal(wide, again)  # seeded
    # a Gaussian projection keeps distances up to a modest distortion
    d_in = np.linalg.norm(x[:50, None] - x[None, :50], axis=-1)
    d_out = np.linalg.norm(wide[:50, None] - wide[None, :50], axis=-1)
    ratio = d_out[np.triu_indices(50, 1)] / d_in[np.triu_indices(50, 1)]
    assert ratio.min() > 0.6 and ratio.max() < 1.4


def test_the_skip_rule_extrapolates_linearly_and_quadratically_for_probcover() -> None:
    assert estimate("margin", 10, 4, None, 1.0, 1.0).run
    linear = estimate("margin", 100_000, 384, (10_000, 384, 2.0, 1e6), 30.0, 1e9)
    assert linear.run and linear.time_s == pytest.approx(20.0) and linear.bytes == pytest.approx(1e7)
    wide = estimate("margin", 100_000, 1024, (100_000, 384, 3.0, 1e6), 5.0, 1e9)
    assert not wide.run and wide.time_s == pytest.approx(8.0) and "cap 5 s" in wide.reason
    quad = estimate("probcover", 100_000, 384, (10_000, 384, 1.0, 1e6), 50.0, 1e12)
    assert not quad.run and quad.time_s == pytest.approx(100.0) and "N^2" in quad.reason
    memory = estimate("badge", 1_000_000, 384, (100_000, 384, 1.0, 2**30), 1e9, 4 * 2**30)
    assert not memory.run and "GiB > cap 4 GiB" in memory.reason


def test_the_exponent_reads_linear_and_quadratic_growth() -> None:
    ns = [10_000, 100_000, 1_000_000]
    assert time_exponent([(n, 3e-3 * n) for n in ns]) == pytest.approx(1.0)
    assert time_exponent([(n, 1e-9 * n * n) for n in ns]) == pytest.approx(2.0)
    assert time_exponent([(10_000, 1.0)]) is None


def _row(name: str, n: int, d: int, ms: float, mib: float) -> Row:
    return Row(name, "x", n, d, 77, 100, "cpu", [ms], ms, mib, 1)


def test_the_table_has_a_cell_per_size_the_exponent_and_the_peak_per_row() -> None:
    shapes = [(10_000, 384), (100_000, 384), (100_000, 1024)]
    rows = [_row("margin", 10_000, 384, 10.0, 10.0), _row("margin", 100_000, 384, 100.0, 100.0)]
    rows.append(_row("margin", 100_000, 1024, 250.0, 120.0))
    skipped = {("margin", 100_000, 1024): estimate("margin", 100_000, 1024, (100_000, 384, 1.0, 1.0), 0.1, 1e9)}
    headers, table = scaling_table(rows, shapes, {})
    assert headers[-2].startswith("time ∝ N^k") and "d=384" in headers[-2]
    assert table[0][1] == "10 ms / 10 MiB" and table[0][-2] == "1.00"
    assert table[0][-1] == f"{120.0 * 2**20 / 100_000:,.0f} B"  # at the largest shape measured
    _, with_skip = scaling_table(rows[:2], shapes, skipped)
    assert with_skip[0][3].startswith("skipped (est.") and not math.isnan(skipped[("margin", 100_000, 1024)].time_s)
