"""Grid statistics against values worked out by hand, and the grid analysis on small synthetic cases."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pytest_albench.analysis.grid import IPS_TARGET, analyze
from pytest_albench.errors import ConfigError
from pytest_albench.report.tables import analysis_tables
from pytest_albench.stats import (
    cd_groups,
    friedman,
    holm,
    mean_gain_ci,
    nemenyi,
    nemenyi_q,
    rank_blocks,
    spearman,
    wilcoxon_holm,
)

ABC = ["a", "b", "c"]


class TestFriedman:
    def test_without_ties(self) -> None:
        # Ranks per block (1 = best):  B1 a1 b2 c3 | B2 a1 c2 b3 | B3 b1 a2 c3 | B4 a1 b2 c3
        # Mean ranks: a (1+1+2+1)/4 = 1.25, b (2+3+1+2)/4 = 2.0, c (3+2+3+3)/4 = 2.75.
        # chi² = 12·N/(k(k+1)) · Σ (R_j − 2)² = 12·4/12 · (0.5625 + 0 + 0.5625) = 4.5, p = exp(−4.5/2).
        # F_ID = (N−1)·chi² / (N(k−1) − chi²) = 3·4.5 / (8 − 4.5) = 27/7 on (2, 6) df;
        # for df1 = 2 the F tail is (1 + 2F/df2)^(−df2/2) = (1 + 9/7)^(−3) = (16/7)^(−3).
        scores = [[0.9, 0.8, 0.7], [0.85, 0.7, 0.75], [0.6, 0.9, 0.5], [0.95, 0.8, 0.6]]
        r = friedman(scores, ABC)
        assert r.mean_ranks == pytest.approx({"a": 1.25, "b": 2.0, "c": 2.75})
        assert r.statistic == pytest.approx(4.5)
        assert r.df == 2 and r.n_blocks == 4 and r.n_treatments == 3
        assert r.p_value == pytest.approx(math.exp(-2.25))
        assert r.iman_davenport_f == pytest.approx(27 / 7)
        assert r.iman_davenport_p == pytest.approx((16 / 7) ** -3)

    def test_with_ties(self) -> None:
        # B1 a = b (1.5, 1.5), c 3 | B2 1 2 3 | B3 a 1, b = c (2.5, 2.5) | B4 a2 b1 c3
        # Mean ranks: a 5.5/4 = 1.375, b 7/4 = 1.75, c 11.5/4 = 2.875.
        # Uncorrected chi² = 4 · (0.625² + 0.25² + 0.875²) = 4 · 1.21875 = 4.875.
        # Two tie groups of size 2: Σ(t³ − t) = 12; correction 1 − 12/(N k (k²−1)) = 1 − 12/96 = 0.875.
        # chi² = 4.875 / 0.875 = 39/7.
        scores = [[0.9, 0.9, 0.7], [0.8, 0.7, 0.6], [0.8, 0.6, 0.6], [0.7, 0.8, 0.6]]
        r = friedman(scores, ABC)
        assert r.mean_ranks == pytest.approx({"a": 1.375, "b": 1.75, "c": 2.875})
        assert r.statistic == pytest.approx(39 / 7)
        from scipy.stats import friedmanchisquare

        assert r.statistic == pytest.approx(friedmanchisquare(*np.array(scores).T).statistic)

    def test_all_blocks_tied_is_no_evidence(self) -> None:
        r = friedman([[0.5, 0.5, 0.5]] * 3, ABC)
        assert r.statistic == 0.0 and r.p_value == 1.0

    def test_perfect_agreement_makes_iman_davenport_unbounded(self) -> None:
        r = friedman([[3, 2, 1]] * 4, ABC)
        assert r.statistic == pytest.approx(8.0)  # N(k−1): the largest possible value
        assert r.iman_davenport_f == math.inf and r.iman_davenport_p == 0.0

    @pytest.mark.parametrize(
        "scores, message",
        [
            ([[1.0, 2.0]], "at least 2 blocks"),
            ([[1.0], [2.0]], "one column per treatment"),
            ([[1.0, math.nan, 0.0], [1.0, 2.0, 3.0]], "NaN"),
        ],
    )
    def test_bad_input_is_named(self, scores: list[list[float]], message: str) -> None:
        with pytest.raises(ConfigError, match=message):
            friedman(scores, ABC if len(scores[0]) == 3 else ["a", "b"])

    def test_ranks_are_high_score_first_with_average_ties(self) -> None:
        assert rank_blocks(np.array([[0.1, 0.9, 0.9]])).tolist() == [[3.0, 1.5, 1.5]]


class TestNemenyi:
    @pytest.mark.parametrize("k, q", [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (10, 3.164)])
    def test_q_alpha_matches_demsar_table(self, k: int, q: float) -> None:
        assert nemenyi_q(k, 0.05) == pytest.approx(q, abs=1e-3)  # the table gives 3 decimals (2.3437 → 2.343)

    def test_critical_difference_k4_n14(self) -> None:
        # Demšar's example: CD = 2.569 · sqrt(4·5 / (6·14)) = 2.569 · 0.48795 ≈ 1.2536.
        scores = np.tile([[4.0, 3.0, 2.0, 1.0]], (14, 1))
        post = nemenyi(scores, ["a", "b", "c", "d"])
        assert post.critical_difference == pytest.approx(1.2536, abs=1e-3)
        # Rank gaps of 1 < CD are not significant, 2 and 3 > CD are; p = alpha exactly at the CD.
        assert not post.significant("a", "b") and post.significant("a", "c") and post.significant("a", "d")
        assert post.groups == [("a", "b"), ("b", "c"), ("c", "d")]
        assert post.method == "nemenyi"


class TestWilcoxonHolm:
    def test_six_positive_differences_exact(self) -> None:
        # All 6 differences positive and distinct: only 2 of the 2^6 sign patterns are as extreme
        # (all + or all −), so the exact two-sided p = 2/64. One pair: Holm leaves it unchanged.
        scores = np.column_stack([np.arange(1.0, 7.0), np.zeros(6)])
        post = wilcoxon_holm(scores, ["a", "b"])
        assert post.p_values == {("a", "b"): pytest.approx(2 / 64)}
        assert post.significant("a", "b") and post.significant("b", "a")
        assert post.critical_difference is None and post.method == "wilcoxon-holm"

    def test_zero_differences_are_kept_and_split(self) -> None:
        # d = (0, 0, 1, 2, 3, 4). zsplit ranks |d|: the zeros share ranks 1 and 2 (1.5 each, half to
        # each sign), the others get 3..6. The sign-flip null moves only the non-zero ranks {3,4,5,6}:
        # 16 equally likely patterns, and only "all +" reaches R+ ≥ 19.5, so p = 2 · 1/16 = 0.125.
        scores = np.column_stack([np.array([0.0, 0.0, 1.0, 2.0, 3.0, 4.0]), np.zeros(6)])
        assert wilcoxon_holm(scores, ["a", "b"]).p_value("a", "b") == pytest.approx(0.125)

    def test_identical_treatments_get_p_one(self) -> None:
        post = wilcoxon_holm(np.array([[0.5, 0.5], [0.7, 0.7], [0.6, 0.6]]), ["a", "b"])
        assert post.p_value("b", "a") == 1.0
        assert post.groups == [("a", "b")]

    def test_holm_adjustment(self) -> None:
        # Sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running max:
        # 0.02, 0.03, 0.06, 0.06; back in input order (0.01, 0.04, 0.03, 0.005):
        assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
        assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
        assert holm([]) == []

    def test_pairs_are_adjusted_together(self) -> None:
        # Three treatments, three pairs. a beats b and c on all 6 blocks (raw p = 2/64 each);
        # b vs c alternate +1/−1 with equal magnitude (raw p = 1 by symmetry of the 3/3 split).
        # Holm: 3 · 2/64 = 0.09375, then max(2 · 2/64, 0.09375) = 0.09375, then 1.
        a = np.arange(10.0, 16.0)
        b = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 2.0])
        c = np.array([2.0, 1.0, 2.0, 1.0, 2.0, 1.0])
        post = wilcoxon_holm(np.column_stack([a, b, c]), ABC)
        assert post.p_value("a", "b") == pytest.approx(0.09375)
        assert post.p_value("a", "c") == pytest.approx(0.09375)
        assert post.p_value("b", "c") == pytest.approx(1.0)


class TestGroups:
    def test_chain_of_overlapping_groups(self) -> None:
        sig = dict.fromkeys([("a", "c"), ("a", "d"), ("a", "e"), ("b", "d"), ("b", "e"), ("c", "e")], True)
        assert cd_groups("abcde", sig) == [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")]

    def test_contained_groups_are_dropped(self) -> None:
        assert cd_groups("abcd", {("a", "d"): True}) == [("a", "b", "c"), ("b", "c", "d")]
        assert cd_groups("abc", {}) == [("a", "b", "c")]

    def test_non_monotone_significance_checks_every_pair_inside(self) -> None:
        # a differs from its neighbour b but not from c: no contiguous group may hold a with c.
        assert cd_groups("abcd", {("a", "b"): True}) == [("a",), ("b", "c", "d")]


class TestGainAndCorrelation:
    def test_t_interval(self) -> None:
        # mean 2, s = 1, n = 3: half width t(0.975, 2) · 1/sqrt(3) = 4.302653 / 1.732051 = 2.484138.
        ci = mean_gain_ci([1.0, 2.0, 3.0])
        assert (ci.mean, ci.n) == (2.0, 3)
        assert ci.low == pytest.approx(2 - 2.484138, abs=1e-6) and ci.high == pytest.approx(2 + 2.484138, abs=1e-6)
        assert ci.bounded and not ci.excludes_zero

    def test_single_value_is_unbounded_and_constant_is_zero_width(self) -> None:
        one = mean_gain_ci([0.02])
        assert one.mean == 0.02 and one.low == -math.inf and one.high == math.inf and not one.bounded
        same = mean_gain_ci([0.5, 0.5])
        assert same.low == same.high == 0.5 and same.excludes_zero

    def test_empty_or_nan_gains_are_refused(self) -> None:
        with pytest.raises(ConfigError, match="finite"):
            mean_gain_ci([])
        with pytest.raises(ConfigError, match="finite"):
            mean_gain_ci([0.1, math.nan])

    def test_spearman_by_hand(self) -> None:
        # Rank differences (−1, 1, −1, 1, −1, 1): Σd² = 6, rho = 1 − 6·6 / (6·(36 − 1)) = 1 − 36/210.
        r = spearman([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5])
        assert r.rho == pytest.approx(1 - 36 / 210) and r.n == 6 and r.note == ""
        assert 0 < r.p_value < 0.05

    def test_spearman_constant_or_tiny_input_says_why(self) -> None:
        r = spearman([1, 1, 1, 1], [1, 2, 3, 4])
        assert math.isnan(r.rho) and "constant x" in r.note
        assert "at least 3" in spearman([1, 2], [2, 1]).note


# --- analyze() on hand-made case records ---------------------------------------------------------

N_LABELED = [10, 20, 30, 40]


def case(
    embedding: str,
    dataset: str,
    strategy: str,
    aulcs: dict[int, float],
    *,
    ips: str = "random",
    variant: str = "",
    curves: dict[int, list[float]] | None = None,
    quality: dict[str, float] | None = None,
) -> dict[str, Any]:
    runs = [
        {
            "seed": seed,
            "aulc": value,
            "final_accuracy": value,
            "curve": {"n_labeled": N_LABELED, "accuracy": (curves or {}).get(seed, [0.5, 0.6, 0.7, 0.8])},
        }
        for seed, value in aulcs.items()
    ]
    record = {
        "nodeid": f"t::{embedding}-{dataset}-{strategy}-{ips}",
        "case_id": f"{embedding}-{dataset}-{strategy}",
        "dataset": dataset,
        "embedding": embedding,
        "strategy": strategy,
        "variant": variant,
        "config": {"initial_pool_method": ips},
        "seeds": list(aulcs),
        "runs": runs,
    }
    if quality is not None:
        record["quality"] = quality
    return record


PROBE = {("e1", "d1"): 0.7, ("e1", "d2"): 0.8, ("e1", "d3"): 0.9, ("e2", "d1"): 0.6, ("e2", "d2"): 0.85}


def grid(with_quality: bool = True) -> list[dict[str, Any]]:
    """e1: 3 datasets, 3 strategies, 2 seeds. margin gains per dataset: d1 (0.01, 0.03) → 0.02,
    d2 (0.03, 0.05) → 0.04, d3 (0.05, 0.07) → 0.06; badge loses 0.01 everywhere.
    e2: d1 with random, margin (+0.01), badge (NaN on seed 1); d2 with random, margin (+0.07).
    Plus random and margin from a TypiClust initial pool on e1/d1 (early-gain curves).
    """

    def q(e: str, d: str) -> dict[str, float] | None:
        return {"linear_probe_accuracy": PROBE[(e, d)], "knn_accuracy": 0.5, "n_pool": 100} if with_quality else None

    base = {"d1": 0.70, "d2": 0.60, "d3": 0.80}
    margin = {"d1": (0.01, 0.03), "d2": (0.03, 0.05), "d3": (0.05, 0.07)}
    cases = []
    for d, b in base.items():
        cases.append(case("e1", d, "random", {0: b, 1: b}, quality=q("e1", d)))
        cases.append(case("e1", d, "margin", {0: b + margin[d][0], 1: b + margin[d][1]}, quality=q("e1", d)))
        cases.append(case("e1", d, "badge", {0: b - 0.01, 1: b - 0.01}, quality=q("e1", d)))
    cases += [
        case("e2", "d1", "random", {0: 0.5, 1: 0.5}, quality=q("e2", "d1")),
        case("e2", "d1", "margin", {0: 0.51, 1: 0.51}, quality=q("e2", "d1")),
        case("e2", "d1", "badge", {0: 0.49, 1: math.nan}, quality=q("e2", "d1")),
        case("e2", "d2", "random", {0: 0.5, 1: 0.5}, quality=q("e2", "d2")),
        case("e2", "d2", "margin", {0: 0.57, 1: 0.57}, quality=q("e2", "d2")),
    ]
    # TypiClust IPS on e1/d1. Random-IPS curves are (0.5, 0.6, ...) on both seeds. Early gain over the
    # first 2 points: random strategy seed 0 (0.1, 0.05) → 0.075, seed 1 (0.05, 0) → 0.025: mean 0.05;
    # margin seed 0 (0, 0) → 0, seed 1 (0.2, 0.1) → 0.15: mean 0.075. Cell: (0.05 + 0.075) / 2 = 0.0625.
    cases.append(
        case(
            "e1",
            "d1",
            "random",
            {0: 0.9, 1: 0.9},
            ips="typiclust",
            variant="ips=typiclust",
            curves={0: [0.6, 0.65, 0.7, 0.8], 1: [0.55, 0.6, 0.7, 0.8]},
            quality=q("e1", "d1"),
        )
    )
    cases.append(
        case(
            "e1",
            "d1",
            "margin",
            {0: 0.2, 1: 0.2},
            ips="typiclust",
            variant="ips=typiclust",
            curves={0: [0.5, 0.6, 0.7, 0.8], 1: [0.7, 0.7, 0.7, 0.8]},
            quality=q("e1", "d1"),
        )
    )
    return cases


class TestAnalyze:
    def test_friedman_per_embedding_on_dataset_blocks(self) -> None:
        e1 = analyze(grid()).per_embedding["e1"]
        assert e1.blocks == "datasets" and e1.datasets == ["d1", "d2", "d3"]
        assert e1.strategies == ["badge", "margin", "random"]
        # margin > random > badge on every dataset: mean ranks 1, 2, 3 and chi² = 12·3/12 · (1 + 0 + 1) = 6.
        assert e1.friedman is not None
        assert e1.friedman.mean_ranks == {"margin": 1.0, "random": 2.0, "badge": 3.0}
        assert e1.friedman.statistic == pytest.approx(6.0)
        assert e1.friedman.p_value == pytest.approx(math.exp(-3))
        assert e1.scores.shape == (3, 3)
        assert e1.scores[0].tolist() == pytest.approx([0.69, 0.72, 0.70])  # d1: badge, margin, random
        assert e1.posthoc is not None and e1.posthoc.method == "wilcoxon-holm"
        # 3 blocks: the smallest exact two-sided p is 2/2³ = 0.25, times 3 pairs for Holm's first step
        assert any("no Holm-adjusted Wilcoxon p-value can fall below 0.75" in n for n in e1.notes)

    def test_incomplete_embedding_is_restricted_and_says_so(self) -> None:
        e2 = analyze(grid()).per_embedding["e2"]
        # badge is missing on d2, so only d1 has every strategy; fewer than 3 datasets → seed blocks,
        # and badge's NaN on seed 1 leaves a single (d1, seed 0) block: too few to test.
        assert e2.datasets == ["d1"] and e2.blocks == "dataset×seed" and e2.block_labels == ["d1/seed 0"]
        assert e2.friedman is None and e2.posthoc is None
        notes = " ".join(e2.notes)
        assert "left out: d2" in notes and "NaN for seed(s) 1" in notes and "at least 2" in notes

    def test_gains_with_intervals(self) -> None:
        gains = {(g.embedding_label, g.strategy): g for g in analyze(grid()).gains}
        # e1 margin: per-dataset means 0.02, 0.04, 0.06: mean 0.04, s = 0.02, half = 4.302653·0.02/√3.
        g = gains[("e1", "margin")]
        assert (g.n, g.unit) == (3, "datasets") and g.mean == pytest.approx(0.04)
        assert g.low == pytest.approx(0.04 - 0.0496828, abs=1e-6)
        assert g.high == pytest.approx(0.04 + 0.0496828, abs=1e-6)
        # e2 margin: 2 datasets → per-seed gains (0.01, 0.01, 0.07, 0.07), mean 0.04.
        g = gains[("e2", "margin")]
        assert (g.n, g.unit) == (4, "dataset×seed") and g.mean == pytest.approx(0.04)
        # e2 badge: one finite seed pair → unbounded interval.
        g = gains[("e2", "badge")]
        assert g.n == 1 and g.mean == pytest.approx(-0.01) and g.low == -math.inf
        # TypiClust-IPS label: its own random baseline (0.9) → margin gain 0.2 − 0.9 on 2 seeds.
        assert gains[("e1 [ips=typiclust]", "margin")].mean == pytest.approx(-0.7)

    def test_cell_gains_use_random_initial_pools_only(self) -> None:
        cells = analyze(grid()).cell_gains
        assert cells[("e1", "d1", "margin")] == pytest.approx(0.02)  # not the TypiClust-IPS case's −0.7
        assert cells[("e2", "d2", "margin")] == pytest.approx(0.07)
        assert cells[("e2", "d1", "badge")] == pytest.approx(-0.01)
        assert ("e2", "d2", "badge") not in cells

    def test_early_gain_of_a_typiclust_initial_pool(self) -> None:
        result = analyze(grid())
        assert result.ips_early_gain == {("e1", "d1"): pytest.approx(0.0625)}
        assert analyze(grid(), early_cycles=1).ips_early_gain[("e1", "d1")] == pytest.approx((0.075 + 0.1) / 2)

    def test_correlations_with_quality(self) -> None:
        result = analyze(grid())
        assert result.quality[("e1", "d2")] == {"linear_probe_accuracy": 0.8, "knn_accuracy": 0.5, "n_pool": 100.0}
        rows = {(c.measure, c.target): c for c in result.correlations}
        # margin gains by cell: e2d1 .01, e1d1 .02, e1d2 .04, e1d3 .06, e2d2 .07 → ranks 1..5;
        # probe: e2d1 .6, e1d1 .7, e1d2 .8, e2d2 .85, e1d3 .9 → ranks 1, 2, 3, 5, 4 (e1d3 5, e2d2 4).
        # Σd² = 2, rho = 1 − 6·2 / (5·24) = 0.9.
        margin = rows[("linear_probe_accuracy", "AULC gain: margin")]
        assert margin.rho == pytest.approx(0.9) and margin.n == 5
        assert "constant" in rows[("knn_accuracy", "AULC gain: margin")].note
        early = rows[("linear_probe_accuracy", IPS_TARGET)]
        assert early.n == 1 and math.isnan(early.rho) and "at least 3" in early.note
        assert not any(c.measure == "n_pool" for c in result.correlations)

    def test_old_files_without_quality_skip_correlations_with_a_note(self) -> None:
        result = analyze(grid(with_quality=False))
        assert result.quality == {} and result.correlations == []
        assert any("correlations skipped" in n for n in result.notes)

    def test_tables_render_and_name_the_tests(self) -> None:
        result = analyze(grid(), posthoc="nemenyi")
        tables = {t.title: t for t in analysis_tables(result)}
        friedman_table = tables["Friedman test of AULC ranks per embedding"]
        assert "Iman–Davenport" in friedman_table.note and "Nemenyi" in friedman_table.note
        assert "Pairwise nemenyi p-values: e1" in tables
        assert any(t.startswith("AULC gain over random") for t in tables)
        assert any(t.startswith("Spearman correlation") for t in tables)
        for table in tables.values():
            assert table.render("github")

    def test_degenerate_grids_do_not_crash(self) -> None:
        single = [case("e", "d", "random", {0: 0.5, 1: 0.6})]
        result = analyze(single)
        assert result.per_embedding["e"].friedman is None and result.gains == []
        assert "only 1 strategy" in " ".join(result.per_embedding["e"].notes)
        analysis_tables(result)
        two = [case("e", "d", "random", {0: 0.5, 1: 0.6}), case("e", "d", "margin", {0: 0.55, 1: 0.6})]
        stats = analyze(two).per_embedding["e"]
        assert stats.blocks == "dataset×seed" and stats.friedman is not None and stats.friedman.n_blocks == 2
        assert analysis_tables(analyze([])) == []

    def test_bad_settings_are_named(self) -> None:
        with pytest.raises(ConfigError, match="post-hoc"):
            analyze(grid(), posthoc="tukey")
        with pytest.raises(ConfigError, match="early_cycles"):
            analyze(grid(), early_cycles=0)


def test_labelled_runs_are_never_paired_across_runs() -> None:
    """Cases merged from two files with run labels keep separate cells for gains and quality."""
    from synthetic_results import results_document

    from pytest_albench.storage.results_file import _labelled

    cases = results_document()["cases"]
    old = [_labelled(c, "old") for c in cases]
    new = [_labelled(c, "new") for c in cases if c["strategy"] != "random"]  # the new run lacks random
    result = analyze(old + new)
    assert result.cell_gains  # otherwise the next line would hold vacuously
    assert all("[run=old]" in embedding for embedding, _, _ in result.cell_gains)
    embeddings = {c["embedding"] for c in cases}
    assert {e for e, _ in result.quality} == {f"{e} [run={r}]" for e in embeddings for r in ("old", "new")}


def test_a_failed_quality_measure_is_a_note_not_a_crash() -> None:
    from synthetic_results import results_document

    cases = results_document()["cases"]
    for case in cases:
        case["quality"] = {"error": "MemoryError: probe"}
    result = analyze(cases)
    assert result.quality == {}
    assert any("could not be computed" in n and "MemoryError" in n for n in result.notes)
