"""Statistics on arrays: pure numpy/scipy, nothing of pytest, the engine or the case records.

Where each kind of statistic lives, so a new one has an obvious home:

* :mod:`.ranks` — the one ranking of treatments within blocks that every test, table and figure reads;
* :mod:`.friedman` — the omnibus test on those ranks (with Iman–Davenport);
* :mod:`.posthoc` — which pairs differ (Nemenyi, Wilcoxon–Holm) and the CD-diagram groups;
* :mod:`.intervals` — confidence intervals of mean gains;
* :mod:`.correlation` — rank correlation (quality against gain);
* :mod:`.paired` — one-sided paired tests for baselines and pairwise wins/ties/losses.

Following Demšar (2006, JMLR 7, "Statistical comparisons of classifiers over multiple data sets").
"""

from __future__ import annotations

from .correlation import Correlation, spearman
from .friedman import FriedmanResult, friedman
from .intervals import GainCI, mean_gain_ci
from .paired import WIN_TIE_LOSS_TEST, PairedComparison, WinTieLoss, paired_test, wilcoxon_two_sided, win_tie_loss
from .posthoc import POSTHOC_METHODS, PostHoc, cd_groups, holm, nemenyi, nemenyi_q, wilcoxon_holm
from .ranks import Ranking, rank_blocks, rank_treatments

__all__ = [
    "POSTHOC_METHODS",
    "WIN_TIE_LOSS_TEST",
    "Correlation",
    "FriedmanResult",
    "GainCI",
    "PairedComparison",
    "PostHoc",
    "Ranking",
    "WinTieLoss",
    "cd_groups",
    "friedman",
    "holm",
    "mean_gain_ci",
    "nemenyi",
    "nemenyi_q",
    "paired_test",
    "rank_blocks",
    "rank_treatments",
    "spearman",
    "wilcoxon_holm",
    "wilcoxon_two_sided",
    "win_tie_loss",
]
