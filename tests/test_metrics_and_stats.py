"""Metrics and paired statistics against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import wilcoxon
from sklearn.metrics import f1_score

from pytest_albench.engine.metrics import accuracy, macro_f1, normalized_aulc
from pytest_albench.stats import paired_test, rank_treatments, win_tie_loss


def test_aulc_is_the_trapezoid_area_divided_by_the_label_range() -> None:
    # (0.5+0.7)/2*10 + (0.7+0.9)/2*10 = 14, over a range of 20 labels
    assert normalized_aulc([10, 20, 30], [0.5, 0.7, 0.9]) == pytest.approx(0.7)


def test_aulc_weights_uneven_budget_steps_by_their_width() -> None:
    assert normalized_aulc([0, 10, 40], [0.0, 1.0, 1.0]) == pytest.approx((5 + 30) / 40)


def test_aulc_of_a_single_point_is_that_score_and_stays_in_unit_interval() -> None:
    assert normalized_aulc([10], [0.42]) == pytest.approx(0.42)
    rng = np.random.default_rng(0)
    scores = rng.random(8)
    assert 0.0 <= normalized_aulc(np.arange(1, 9) * 5, scores) <= 1.0


def test_aulc_rejects_a_curve_whose_labeled_counts_do_not_increase() -> None:
    with pytest.raises(ValueError, match="increase"):
        normalized_aulc([10, 10, 5], [0.1, 0.2, 0.3])


def test_macro_f1_matches_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 5, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 5, 200))
    assert macro_f1(y_true, y_pred, 5) == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert accuracy(y_true, y_pred) == pytest.approx(float(np.mean(y_true == y_pred)))


def test_paired_t_test_p_value_matches_the_closed_form_for_two_degrees_of_freedom() -> None:
    # deltas -0.02, -0.03, -0.01: mean -0.02, sd 0.01, t = -2*sqrt(3); for df = 2 the t CDF is
    # 1/2 + t / (2 sqrt(2 + t^2)) = 1/2 - sqrt(12) / (2 sqrt(14))
    result = paired_test([0.78, 0.77, 0.79], [0.80, 0.80, 0.80], "ttest")
    expected = 0.5 - math.sqrt(12) / (2 * math.sqrt(14))
    assert result.mean_delta == pytest.approx(-0.02)
    assert result.p_worse == pytest.approx(expected, rel=1e-9)
    assert result.p_better == pytest.approx(1 - expected, rel=1e-9)


def test_paired_t_test_treats_a_constant_shift_as_certain() -> None:
    result = paired_test([0.7, 0.6, 0.5], [0.8, 0.7, 0.6], "ttest")
    assert result.p_worse == 0.0 and result.p_better == 1.0


def test_wilcoxon_exact_p_value_when_every_seed_is_worse() -> None:
    # all five differences negative: W+ = 0, the one-sided exact p is 1 / 2^5
    result = paired_test([0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.4, 0.6, 0.8, 1.0], "wilcoxon")
    assert result.p_worse == pytest.approx(1 / 32)


def test_sign_test_p_value_when_every_seed_is_worse() -> None:
    result = paired_test([0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.5], "sign")
    assert result.p_worse == pytest.approx(1 / 16)


def test_paired_t_test_is_scipys_ttest_rel_one_sided() -> None:
    from scipy.stats import ttest_rel

    current, baseline = [0.71, 0.69, 0.75, 0.70, 0.66], [0.70, 0.72, 0.74, 0.73, 0.70]
    result = paired_test(current, baseline, "ttest")
    assert result.p_worse == pytest.approx(ttest_rel(current, baseline, alternative="less").pvalue, rel=1e-12)
    assert result.p_better == pytest.approx(ttest_rel(current, baseline, alternative="greater").pvalue, rel=1e-12)


def test_sign_test_splits_an_odd_number_of_ties_the_same_way_in_both_directions() -> None:
    # Deltas (+, +, 0): the odd tie is left out, so n = 2 with 2 wins: p_better = P(X >= 2 | 2) = 1/4.
    # Rounding half a tie half-to-even (the old code) gave losses round(0.5) = 0 here, so p_better =
    # P(X >= 3 | 3) = 1/8, but for the mirror (-, -, 0) losses round(2.5) = 2 and p_worse = 1/2.
    better = paired_test([0.8, 0.7, 0.6], [0.7, 0.6, 0.6], "sign")
    worse = paired_test([0.7, 0.6, 0.6], [0.8, 0.7, 0.6], "sign")
    assert better.p_better == pytest.approx(0.25) and worse.p_worse == pytest.approx(0.25)
    assert (better.p_worse, better.p_better) == pytest.approx((worse.p_better, worse.p_worse))


def test_sign_test_splits_an_even_number_of_ties_half_to_each_side() -> None:
    # Deltas (-, 0, 0, -, +): one tie to each side gives 3 losses of 5: p_worse = P(X >= 3 | 5) = 16/32.
    # Three ties (-, 0, 0, 0, -): two split, one left out: 3 losses of 4, p_worse = P(X >= 3 | 4) = 5/16.
    assert paired_test([0.5, 0.6, 0.7, 0.4, 0.9], [0.6, 0.6, 0.7, 0.5, 0.8], "sign").p_worse == pytest.approx(0.5)
    assert paired_test([0.5, 0.6, 0.7, 0.8, 0.4], [0.6, 0.6, 0.7, 0.8, 0.5], "sign").p_worse == pytest.approx(5 / 16)


def test_identical_samples_are_never_significant() -> None:
    for test in ("ttest", "wilcoxon", "sign"):
        result = paired_test([0.5, 0.6, 0.7], [0.5, 0.6, 0.7], test)
        assert result.p_worse == 1.0 and result.mean_delta == 0.0


def test_win_tie_loss_counts_ties_instead_of_dropping_them() -> None:
    wtl = win_tie_loss([0.80, 0.70, 0.60, 0.5000, 0.4], [0.70, 0.70, 0.65, 0.5005, 0.3], tie_margin=1e-3)
    assert (wtl.wins, wtl.ties, wtl.losses) == (2, 2, 1)
    # The tied pairs enter the test as zero differences: (0.1, 0, -0.05, 0, 0.1), zeros split.
    expected = wilcoxon([0.1, 0.0, -0.05, 0.0, 0.1], zero_method="zsplit").pvalue
    assert wtl.p_value == pytest.approx(expected, rel=1e-12)
    # By hand: the non-zero ranks are 3 (0.05) and 4.5, 4.5 (the two 0.1s); their R+ over the 8 sign
    # patterns is 0, 3, 4.5, 4.5, 7.5, 7.5, 9, 12 around a mean of 6, and the observed 9 is 3 away:
    # 4 of 8 patterns (0, 3, 9, 12) are as far, so p = 0.5.
    assert wtl.p_value == pytest.approx(0.5)


def test_win_tie_loss_p_value_by_hand() -> None:
    # Differences (0.0004, -0.0003, 0.01, 0.02, 0.03, 0.04): the first two are ties (|d| <= 1e-3) and
    # become zeros, whose ranks 1 and 2 are split 1.5 to each sign; 0.01..0.04 get ranks 3..6. Flipping
    # the signs of the non-zero ranks gives 16 equally likely patterns and only "all +" reaches
    # R+ = 1.5 + 18 = 19.5, so the two-sided p = 2 · 1/16 = 0.125.
    b = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    wtl = win_tie_loss(b + np.array([0.0004, -0.0003, 0.01, 0.02, 0.03, 0.04]), b)
    assert (wtl.wins, wtl.ties, wtl.losses) == (4, 2, 0)
    assert wtl.p_value == pytest.approx(0.125)
    # Six distinct wins and no tie: 2 of the 2^6 sign patterns are as extreme, p = 2/64.
    assert win_tie_loss(b + np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]), b).p_value == pytest.approx(2 / 64)
    assert win_tie_loss(b, b).p_value == 1.0


def test_rank_treatments_averages_ties_and_ranks_higher_scores_first() -> None:
    ranking = rank_treatments(np.array([[0.9, 0.8, 0.7], [0.5, 0.5, 0.9]]), ["a", "b", "c"])
    # block 1: a=1, b=2, c=3; block 2: c=1, a=b=2.5
    assert ranking.mean_ranks == pytest.approx({"a": 1.75, "b": 2.25, "c": 2.0})
    assert ranking.order == ["a", "c", "b"] and ranking.n_blocks == 2
    tied = rank_treatments(np.array([[0.5, 0.5]]), ["y", "x"])
    assert tied.order == ["x", "y"]  # equal mean ranks: names break the tie, so every table agrees
