"""The peer benchmark's (``python -m benchmarks.perf.peers``) logic that does not depend on timing.

Why: the benchmark's numbers are only comparable if the pool resizing is deterministic, the overlap
is computed as documented, expensive peers are skipped by the stated extrapolation rule, and a
machine without scikit-activeml / small-text still gets our side measured. All of that is checked
here on tiny synthetic pools, in-process (no spawned workers), in a few seconds. Tests that call
the peers themselves skip when the optional peers are not installed (CI does not install them).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from benchmarks.perf import peers
from benchmarks.perf.common.pools import gaussian_pool
from benchmarks.perf.peers import adapters as pa

HAVE_SKACTIVEML = importlib.util.find_spec("skactiveml") is not None
HAVE_SMALL_TEXT = importlib.util.find_spec("small_text") is not None


def _pool(n: int = 120, d: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, 3, n).astype(np.int64)


# --------------------------------------------------------------------------------------------------
# Pool sizes
# --------------------------------------------------------------------------------------------------


def test_tiling_is_deterministic_keeps_originals_and_has_no_exact_duplicates() -> None:
    x, y = _pool()
    a_x, a_y = peers.tile_with_jitter(x, y, 300, seed=3, jitter=0.01)
    b_x, b_y = peers.tile_with_jitter(x, y, 300, seed=3, jitter=0.01)
    c_x, _ = peers.tile_with_jitter(x, y, 300, seed=4, jitter=0.01)
    assert a_x.shape == (300, 6) and a_x.dtype == np.float32
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_array_equal(a_y, b_y)
    assert not np.array_equal(a_x, c_x)
    np.testing.assert_array_equal(a_x[:120], x)  # copy 0 exact
    np.testing.assert_array_equal(a_y, np.tile(y, 3)[:300])  # labels follow their originals
    assert np.unique(a_x, axis=0).shape[0] == 300
    # small jitter: each copy stays a near-duplicate of its original
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert (a_x[120:240] - x).std() == pytest.approx(0.01 * rms, rel=0.2)


def test_tiling_refuses_no_jitter_and_sizes_that_need_none() -> None:
    x, y = _pool()
    with pytest.raises(ValueError, match="duplicates"):
        peers.tile_with_jitter(x, y, 300, seed=0, jitter=0.0)
    with pytest.raises(ValueError, match="above"):
        peers.tile_with_jitter(x, y, 100, seed=0, jitter=0.01)


def test_resize_pool_subsample_full_and_tile() -> None:
    x, y = _pool(n=1000)
    sub_x, sub_y, how = peers.resize_pool(x, y, 250, seed=1, jitter=0.01)
    again_x, _, _ = peers.resize_pool(x, y, 250, seed=1, jitter=0.01)
    assert sub_x.shape == (250, 6) and "subsample" in how
    np.testing.assert_array_equal(sub_x, again_x)
    label_of = {r.tobytes(): int(label) for r, label in zip(x, y, strict=True)}
    assert all(label_of[r.tobytes()] == label for r, label in zip(sub_x, sub_y, strict=True))  # rows of x, labels kept
    full_x, _, how = peers.resize_pool(x, y, peers.resolve_size(995, 1000), seed=1, jitter=0.01)
    assert full_x is x and "whole pool" in how
    big_x, _, how = peers.resize_pool(x, y, 2500, seed=1, jitter=0.01)
    assert big_x.shape == (2500, 6) and "tiled 3x" in how


def test_resolve_size_maps_near_full_requests_to_the_whole_pool() -> None:
    assert peers.resolve_size(10_000, 10_003) == 10_003
    assert peers.resolve_size(2_500, 10_003) == 2_500
    assert peers.resolve_size(40_000, 10_003) == 40_000
    with pytest.raises(ValueError):
        peers.resolve_size(0, 10)


# --------------------------------------------------------------------------------------------------
# Overlap and the skip rule
# --------------------------------------------------------------------------------------------------


def test_selection_overlap_ignores_order_and_counts_common_points() -> None:
    assert peers.selection_overlap([1, 2, 3, 4], [4, 3, 2, 1], 4) == 1.0
    assert peers.selection_overlap([1, 2, 3, 4], [1, 2, 9, 8], 4) == 0.5
    assert peers.selection_overlap([1, 2], [3, 4], 2) == 0.0
    with pytest.raises(ValueError):
        peers.selection_overlap([], [], 0)


def test_skip_rule_extrapolates_linear_and_quadratic_cost() -> None:
    linear = pa.PeerSpec("skactiveml", "coreset", "CoreSet")
    quadratic = pa.PeerSpec("skactiveml", "probcover", "ProbCover", time_growth=2, memory_growth=2)
    prev = peers.Cost(n=10_000, time_s=10.0, peak_bytes=1 * peers.GIB)
    # 4x the pool: linear 40 s / 4 GiB runs under a 60 s / 8 GiB cap, quadratic 160 s does not
    keep = peers.decide_peer(linear, 40_000, 384, 77, prev, cap_s=60, cap_bytes=8 * peers.GIB)
    assert keep.run and keep.est_time_s == pytest.approx(40.0) and keep.est_bytes == pytest.approx(4 * peers.GIB)
    skip = peers.decide_peer(quadratic, 40_000, 384, 77, prev, cap_s=60, cap_bytes=8 * peers.GIB)
    assert not skip.run and skip.est_time_s == pytest.approx(160.0) and "quadratic" in skip.reason
    # memory alone can skip
    fast = peers.Cost(n=10_000, time_s=0.1, peak_bytes=3 * peers.GIB)
    mem = peers.decide_peer(linear, 40_000, 384, 77, fast, cap_s=60, cap_bytes=8 * peers.GIB)
    assert not mem.run and "GiB" in mem.reason
    # no previous size: nothing to extrapolate, the peer runs
    assert peers.decide_peer(linear, 40_000, 384, 77, None, cap_s=60, cap_bytes=8 * peers.GIB).run


def test_skip_rule_uses_the_a_priori_memory_bound_and_chains_estimates() -> None:
    spec = pa.PEER_SPECS["badge"]["small-text"]  # 8 * N * C * d bytes of gradient embedding
    first = peers.decide_peer(spec, 40_000, 384, 77, None, cap_s=60, cap_bytes=8 * peers.GIB)
    assert not first.run and first.est_time_s is None and first.est_bytes == pytest.approx(8.0 * 40_000 * 77 * 384)
    chained = peers.Cost(40_000, first.est_time_s, first.est_bytes, measured=False)
    later = peers.decide_peer(spec, 80_000, 384, 77, chained, cap_s=60, cap_bytes=8 * peers.GIB)
    assert not later.run and "itself estimated" in later.reason
    small = peers.decide_peer(spec, 1_000, 384, 77, None, cap_s=60, cap_bytes=8 * peers.GIB)
    assert small.run


def test_al_seed_budget() -> None:
    assert peers.al_seeds_within([0, 1], seconds_per_seed=100, cap_s=600) == [0, 1]
    assert peers.al_seeds_within([0, 1], seconds_per_seed=400, cap_s=600) == [0]
    assert peers.al_seeds_within([0, 1], seconds_per_seed=700, cap_s=600) == []
    assert peers.aulc([0.5, 0.7, 0.9]) == pytest.approx(0.7)


def test_find_delta_reads_ours_and_skactiveml_memos() -> None:
    class Graph:
        delta = 7.5

    class Strategy:
        delta_max_ = 3.9

    assert peers.find_delta({"probcover": ("fingerprint", Graph())}) == 7.5
    assert peers.find_delta(Strategy()) == 3.9
    assert peers.find_delta({}) is None


# --------------------------------------------------------------------------------------------------
# Peers missing / present
# --------------------------------------------------------------------------------------------------


def test_missing_peers_are_reported_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_peers(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(pa, "_import", no_peers)
    found = pa.find_peer_libraries()
    assert set(found) == {"skactiveml", "small-text"}
    assert not any(lib.available for lib in found.values())
    assert all(pa.INSTALL_HINT in lib.problem for lib in found.values())


def test_without_peers_the_harness_still_measures_our_side(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_peers(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(pa, "_import", no_peers)
    status = peers.main(
        [
            "--synthetic",
            "--synthetic-rows",
            "240",
            "--dim",
            "8",
            "--classes",
            "3",
            "--per-class",
            "4",
            "--batch",
            "5",
            "--strategies",
            "margin",
            "--repeats",
            "1",
            "--threads",
            "0",
            "--al-cycles",
            "0",
        ],
        runner=peers.run_peer_task,
    )  # in-process: fast
    out = capsys.readouterr().out
    assert status == 0
    assert pa.INSTALL_HINT in out
    assert "not installed" in out
    margin_row = next(line for line in out.splitlines() if line.startswith("margin"))
    assert "not installed" in margin_row and "error" not in margin_row


def _tiny_task(tmp_path: Path, strategy: str, libraries: tuple[str, ...], al_cycles: int = 0) -> peers.PeerTask:
    x, y = gaussian_pool(400, 8, 3, seed=0, spread=2.0)
    xt, yt = gaussian_pool(90, 8, 3, seed=0, spread=2.0)
    np.savez(tmp_path / "pool.npz", x=x, y=y, n_classes=np.int64(3))
    np.savez(tmp_path / "test.npz", x=xt, y=yt)
    return peers.PeerTask(
        strategy,
        str(tmp_path / "pool.npz"),
        str(tmp_path / "test.npz"),
        libraries,
        batch=10,
        per_class=5,
        repeats=1,
        device="cpu",
        cap_s=60.0,
        threads=None,
        seed=0,
        sample_ms=1.0,
        n_samples=2,
        lr_max_iter=1000,
        al_cycles=al_cycles,
        al_seeds=(0,),
    )


@pytest.mark.skipif(not (HAVE_SKACTIVEML and HAVE_SMALL_TEXT), reason=f"peers not installed ({pa.INSTALL_HINT})")
@pytest.mark.parametrize("strategy", ["margin", "coreset"])
def test_deterministic_strategies_pick_the_same_points_as_the_peers(tmp_path: Path, strategy: str) -> None:
    result = peers.run_peer_task(_tiny_task(tmp_path, strategy, ("skactiveml", "small-text")))
    sides = result.phases[0].sides
    assert set(sides) == {"ours", "skactiveml", "small-text"}
    assert not any(m.error for m in sides.values())
    for lib in ("skactiveml", "small-text"):
        assert peers.selection_overlap(sides["ours"].selection, sides[lib].selection, 10) == 1.0
    assert result.diagnostics == []


@pytest.mark.skipif(not HAVE_SKACTIVEML, reason=f"scikit-activeml not installed ({pa.INSTALL_HINT})")
def test_randomised_strategy_gets_short_al_runs_per_side(tmp_path: Path) -> None:
    result = peers.run_peer_task(_tiny_task(tmp_path, "random", ("skactiveml",), al_cycles=2))
    assert set(result.al) == {"ours", "skactiveml"}
    for curves in result.al.values():
        assert len(curves[0]) == 3 and all(0.0 <= a <= 1.0 for a in curves[0])
    assert result.al["ours"][0][0] == result.al["skactiveml"][0][0]  # same start: same labels, same classifier


# --------------------------------------------------------------------------------------------------
# Rounds, ranges, per-round ratios, floors and the equal-work rows
# --------------------------------------------------------------------------------------------------


def test_the_side_order_rotates_so_no_side_always_runs_first() -> None:
    from benchmarks.perf.peers.timing import rotated

    sides = ["ours", "skactiveml", "small-text"]
    firsts = [rotated(sides, r)[0] for r in range(6)]
    assert firsts == ["ours", "skactiveml", "small-text"] * 2
    assert all(sorted(rotated(sides, r)) == sorted(sides) for r in range(6))
    assert rotated([], 3) == []


def test_round_ratios_pair_each_round_with_the_fastest_peer_of_that_round() -> None:
    from benchmarks.perf.peers.results import SideMeasure, relative_spread
    from benchmarks.perf.peers.tables import fmt_ratio_range, fmt_times, round_ratios

    ours = SideMeasure("ours", "ours", times_ms=[10.0, 20.0, 10.0])
    a = SideMeasure("skactiveml", "a", times_ms=[30.0, 30.0, 50.0])
    b = SideMeasure("small-text", "b", times_ms=[40.0, 20.0, 20.0])
    assert round_ratios(ours, [a, b]) == [3.0, 1.0, 2.0]
    once = SideMeasure("small-text", "b", times_ms=[1.0])  # timed once: cannot be paired
    assert round_ratios(ours, [a, once]) == [3.0, 1.5, 5.0]
    assert round_ratios(ours, [once]) == []
    assert fmt_ratio_range([3.0, 1.0, 2.0]) == "2.00× (1.00–3.00)"
    assert fmt_times([10.0, 20.0, 10.0]) == "10.0 (10.0–20.0)"
    assert relative_spread([10.0, 20.0, 10.0]) == (0.0, 1.0)
    assert relative_spread([5.0]) is None


def test_the_size_table_shows_the_spread_of_ours_and_of_the_floor_in_their_own_columns() -> None:
    from benchmarks.perf.peers.results import PhaseResult, SideMeasure, SizeReport, TaskResult
    from benchmarks.perf.peers.tables import fmt_spread, size_table_headers, size_table_rows

    assert fmt_spread([9.0, 10.0, 12.0]) == "−10 % / +20 %"
    assert fmt_spread([10.0, 10.0]) == "+0 % / +0 %"
    assert fmt_spread([9.999, 10.0, 10.5]) == "+0 % / +5 %"
    assert fmt_spread([5.0]) == "–"
    ours = SideMeasure("ours", "ours", times_ms=[9.0, 10.0, 12.0], peak_mib=1.0)
    peer = SideMeasure("small-text", "LeastConfidence", times_ms=[20.0, 20.0, 24.0], peak_mib=2.0)
    result = TaskResult(
        "least_confidence", 100, 8, 3, [PhaseResult("", {"ours": ours, "small-text": peer})], floor_ms=[5.0, 5.0, 6.0]
    )
    headers = size_table_headers(["small-text"])
    (row,) = size_table_rows(SizeReport(100, "whole pool", [result]), ["small-text"])
    assert len(row) == len(headers)
    cell = dict(zip(headers, row, strict=True))
    assert cell["ours spread"] == "−10 % / +20 %"
    assert cell["floor spread"] == "+0 % / +20 %"
    assert cell["fastest peer / ours, per round"] == "2.00× (2.00–2.22)"


def test_the_floor_does_the_strategys_unavoidable_products_only() -> None:
    from sklearn.linear_model import LogisticRegression

    from benchmarks.perf.peers.floors import FLOOR_WHAT, floor_kernel

    x, y = gaussian_pool(300, 8, 3, seed=0, spread=2.0)
    labeled = np.zeros(300, dtype=bool)
    labeled[:30] = True
    clf = LogisticRegression(max_iter=200).fit(x[labeled], y[labeled])
    cycle = pa.CycleInputs(x, labeled, y, 3, clf, 10, 1.0)
    for strategy in FLOOR_WHAT:
        kernel = floor_kernel(strategy, cycle)
        assert kernel is not None
        kernel()  # runs on the pool's shapes without error
    assert floor_kernel("typiclust", cycle) is None and floor_kernel("random", cycle) is None


def test_peer_settings_give_our_strategies_the_peers_work() -> None:
    from benchmarks.perf.peers.ours import peer_settings
    from pytest_albench.strategies import get_strategy
    from pytest_albench.strategies.probcover import SKACTIVEML_DELTA_GRID

    assert peer_settings("typiclust", 3.0) == {"max_clusters": None}
    grid = peer_settings("probcover", 3.0)["delta_grid"]
    assert grid == pytest.approx([3.0 * v for v in SKACTIVEML_DELTA_GRID])
    for strategy in ("typiclust", "probcover"):  # accepted by the strategy's own parameter check
        get_strategy(strategy).check_params(peer_settings(strategy, 3.0))
    with pytest.raises(ValueError, match="only typiclust and probcover"):
        peer_settings("margin", 1.0)


def test_a_task_at_peer_settings_runs_and_is_named_so(tmp_path: Path) -> None:
    import dataclasses

    task = dataclasses.replace(_tiny_task(tmp_path, "typiclust", ()), settings="peer", repeats=3)
    result = peers.run_peer_task(task)
    assert result.row_name == "typiclust @ peer settings"
    ours = result.phases[0].sides["ours"]
    assert not ours.error and len(ours.times_ms) == 3 and ours.runs == "1+3"
    assert result.floor_ms == []  # TypiClust has no floor


def test_a_strategy_with_a_floor_times_it_in_every_round(tmp_path: Path) -> None:
    import dataclasses

    result = peers.run_peer_task(dataclasses.replace(_tiny_task(tmp_path, "margin", ()), repeats=4))
    assert len(result.floor_ms) == 4 and all(t > 0 for t in result.floor_ms)
    assert len(result.phases[0].sides["ours"].times_ms) == 4
