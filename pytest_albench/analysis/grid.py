"""Grid-level analysis of finished cases: rank tests per embedding, gains over random, embedding quality.

The per-cell tables of the report answer "which strategy won here?". This module answers the
study's questions across the grid: do strategies differ at all on an embedding (Friedman), which pairs
differ (post-hoc), how large is each strategy's gain over random with what uncertainty, and does a
strategy gain more where the embedding is better (Spearman of quality measures against gains)?

Everything is a pure function of the case records returning typed results (no formatting: the
report layer turns them into tables), so a saved results file can be re-analysed later. Incomplete
grids are expected (a crashed case, a strategy run on some datasets only, NaN AULCs): they are
restricted to what is comparable by the one rule of :mod:`.ranking`, and every restriction is written
down in ``notes`` so no table silently compares different things.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..choices import POSTHOC_METHODS
from ..errors import ConfigError
from ..stats import FriedmanResult, PostHoc, Ranking, friedman, nemenyi, wilcoxon_holm
from .cells import Case
from .dial import DialCorrelation, DialSeries, dial_correlations, dial_series
from .gains import BASELINE_STRATEGY, GainRow, cell_gains, ips_early_gain, label_gains
from .quality import IPS_TARGET, CorrelationRow, correlations, quality_by_cell
from .ranking import MIN_DATASET_BLOCKS, BlockRanking
from .summary import GridSummary, summarize

__all__ = [
    "BASELINE_STRATEGY",
    "IPS_TARGET",
    "MIN_DATASET_BLOCKS",
    "CorrelationRow",
    "EmbeddingStats",
    "GainRow",
    "GridAnalysis",
    "analyze",
]


@dataclass(eq=False)
class EmbeddingStats:
    """The rank tests of one embedding label, on top of its :class:`BlockRanking` (same blocks, same ranks)."""

    ranked: BlockRanking
    friedman: FriedmanResult | None
    posthoc: PostHoc | None
    notes: list[str] = field(default_factory=list)  # the ranking's restrictions, then the tests'

    @property
    def label(self) -> str:
        return self.ranked.label

    @property
    def datasets(self) -> list[str]:
        return self.ranked.datasets

    @property
    def strategies(self) -> list[str]:
        return self.ranked.strategies

    @property
    def scores(self) -> np.ndarray:
        return self.ranked.scores

    @property
    def blocks(self) -> str:
        return self.ranked.blocks

    @property
    def block_labels(self) -> list[str]:
        return self.ranked.block_labels

    @property
    def ranking(self) -> Ranking | None:
        return self.ranked.ranking


@dataclass(eq=False)
class GridAnalysis:
    """Everything :func:`analyze` found; :mod:`pytest_albench.report.tables` formats it."""

    summary: GridSummary
    per_embedding: dict[str, EmbeddingStats]
    gains: list[GainRow]
    quality: dict[tuple[str, str], dict[str, float]]
    cell_gains: dict[tuple[str, str, str], float]
    ips_early_gain: dict[tuple[str, str], float]
    correlations: list[CorrelationRow]
    dials: list[DialSeries] = field(default_factory=list)
    dial_correlations: list[DialCorrelation] = field(default_factory=list)
    alpha: float = 0.05
    posthoc_method: str = "wilcoxon-holm"
    early_cycles: int = 2
    notes: list[str] = field(default_factory=list)


def analyze(
    cases: Iterable[Case],
    *,
    alpha: float = 0.05,
    posthoc: str = "wilcoxon-holm",
    early_cycles: int = 2,
    summary: GridSummary | None = None,
) -> GridAnalysis:
    """Analyse finished case records (as in ``--albench-json`` output) across the whole grid.

    ``summary`` is :func:`summarize`'s answer for the same cases when the caller already has it.
    """
    _check_settings(alpha, posthoc, early_cycles)
    cases = list(cases)
    summary = summary if summary is not None else summarize(cases)
    notes = list(summary.notes)
    per_embedding = {label: _embedding_stats(ranked, alpha, posthoc) for label, ranked in summary.rankings.items()}
    gains = [row for label, cells in summary.cells.items() for row in label_gains(label, cells, notes)]
    quality = quality_by_cell(cases, notes)
    by_cell = cell_gains(cases)
    ips_early = ips_early_gain(cases, early_cycles, notes)
    return GridAnalysis(
        summary=summary,
        per_embedding=per_embedding,
        gains=gains,
        quality=quality,
        cell_gains=by_cell,
        ips_early_gain=ips_early,
        correlations=correlations(quality, by_cell, ips_early, notes),
        dials=(dials := dial_series(cases)),
        dial_correlations=dial_correlations(dials),
        alpha=alpha,
        posthoc_method=posthoc,
        early_cycles=early_cycles,
        notes=notes,
    )


def _check_settings(alpha: float, posthoc: str, early_cycles: int) -> None:
    if posthoc not in POSTHOC_METHODS:
        raise ConfigError(f"unknown post-hoc test {posthoc!r}; choose one of {sorted(POSTHOC_METHODS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if not isinstance(early_cycles, int) or early_cycles < 1:
        raise ConfigError(f"early_cycles must be a positive integer, got {early_cycles!r}")


def _embedding_stats(ranked: BlockRanking, alpha: float, posthoc: str) -> EmbeddingStats:
    """Friedman and the post-hoc test on the label's blocks, or the reason they cannot run."""
    notes = list(ranked.notes)
    strategies, scores = ranked.strategies, ranked.scores
    n_blocks = len(scores)
    if len(strategies) < 2:
        notes.append(f"only {len(strategies)} strategy: nothing to rank")
        return EmbeddingStats(ranked, None, None, notes)
    if n_blocks < 2:
        notes.append(f"only {n_blocks} block(s) with every strategy: rank tests need at least 2")
        return EmbeddingStats(ranked, None, None, notes)
    result = friedman(scores, strategies)
    post = (nemenyi if posthoc == "nemenyi" else wilcoxon_holm)(scores, strategies, alpha)
    n_pairs = len(strategies) * (len(strategies) - 1) // 2
    floor = min(1.0, n_pairs * 2.0 / 2**n_blocks)  # Holm's first step multiplies by the pair count
    if posthoc == "wilcoxon-holm" and floor >= alpha:
        notes.append(
            f"with {n_blocks} blocks and {n_pairs} pairs no Holm-adjusted Wilcoxon p-value can fall "
            f"below {floor:.3g}, so no pair can be significant at α = {alpha:g}; Nemenyi "
            "(--posthoc nemenyi) compares mean ranks and can"
        )
    return EmbeddingStats(ranked, result, post, notes)
