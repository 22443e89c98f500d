"""The one rule that says what a block is, and which strategies and datasets an embedding ranks.

Every ranking in the report (the mean-rank table, the Friedman and post-hoc tests, their digest,
the pairwise matrices, the rank heatmap and the CD diagrams) is :attr:`BlockRanking.ranking` of the
matrix built here, ranked by :func:`pytest_albench.stats.rank_treatments`. Before this rule had one
home the mean-rank table ranked per-dataset means of the strategies run on every dataset while the
tests ranked (dataset, seed) blocks of all strategies, and one terminal summary showed two orders.

The rule, for the cases of one embedding label:

* a seed whose AULC is missing or NaN is dropped (and said so);
* the strategies are all those with a finite run; the datasets ranked are those where every one of
  them ran ("complete"); if none is complete, the strategies run on every dataset are ranked instead;
* with at least :data:`MIN_DATASET_BLOCKS` complete datasets the blocks are datasets (a strategy's
  score is its mean AULC over its finite seeds); with fewer, the blocks are (dataset, seed) pairs on
  the seeds every strategy has, which gives the tests something to work with but treats seeds of one
  dataset as independent, which they are not; the tables say which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..stats import Ranking, rank_treatments
from .cells import Cells, seed_aulcs

__all__ = ["DATASET_BLOCKS", "MIN_DATASET_BLOCKS", "SEED_BLOCKS", "BlockRanking", "rank_label"]

#: With at least this many complete datasets, datasets are the blocks (independent units).
MIN_DATASET_BLOCKS = 3
DATASET_BLOCKS = "datasets"
SEED_BLOCKS = "dataset×seed"


@dataclass(eq=False)
class BlockRanking:
    """The strategies of one embedding label ranked within blocks; ``ranking`` is None when there is
    nothing to rank (fewer than 2 strategies, or no block where all of them ran)."""

    label: str
    strategies: list[str]
    datasets: list[str]  # the complete datasets the blocks come from
    blocks: str  # DATASET_BLOCKS or SEED_BLOCKS
    block_labels: list[str]
    scores: np.ndarray  # blocks × strategies
    ranking: Ranking | None
    notes: list[str] = field(default_factory=list)

    @property
    def order(self) -> list[str]:
        """Strategies best first (the order every table shows), or none when nothing is ranked."""
        return self.ranking.order if self.ranking is not None else []

    @property
    def blocks_text(self) -> str:
        """``"3 datasets"`` or ``"6 dataset×seed"``: how many blocks of which kind."""
        return f"{len(self.scores)} {self.blocks}"


def rank_label(label: str, cells: Cells) -> BlockRanking:
    """Apply the rule (module docstring) to the cells of one embedding label and rank the blocks."""
    notes: list[str] = []
    seed_scores = {d: {s: seed_aulcs(c, notes) for s, c in by_strategy.items()} for d, by_strategy in cells.items()}
    seed_scores = {d: {s: v for s, v in by_strategy.items() if v} for d, by_strategy in seed_scores.items()}
    strategies, complete = _strategies_and_datasets(seed_scores, notes)
    if len(complete) >= MIN_DATASET_BLOCKS:
        unit, block_labels = DATASET_BLOCKS, list(complete)
        rows = [[float(np.mean(list(seed_scores[d][s].values()))) for s in strategies] for d in complete]
    else:
        unit, block_labels, rows = SEED_BLOCKS, [], []
        for d in complete:
            seeds = sorted(set.intersection(*(set(seed_scores[d][s]) for s in strategies))) if strategies else []
            for seed in seeds:
                block_labels.append(f"{d}/seed {seed}")
                rows.append([seed_scores[d][s][seed] for s in strategies])
    scores = np.asarray(rows, dtype=float).reshape(len(rows), len(strategies))
    ranking = rank_treatments(scores, strategies) if len(strategies) >= 2 and len(rows) >= 1 else None
    return BlockRanking(
        label=label,
        strategies=strategies,
        datasets=list(complete),
        blocks=unit,
        block_labels=block_labels,
        scores=scores,
        ranking=ranking,
        notes=notes,
    )


def _strategies_and_datasets(
    seed_scores: dict[str, dict[str, dict[int, float]]], notes: list[str]
) -> tuple[list[str], list[str]]:
    """Which strategies are ranked, on which (complete) datasets; every restriction goes into ``notes``."""
    strategies = sorted({s for by_strategy in seed_scores.values() for s in by_strategy})
    complete = [d for d in sorted(seed_scores) if all(s in seed_scores[d] for s in strategies)]
    if not complete and len(strategies) > 1:
        common = sorted(set.intersection(*(set(v) for v in seed_scores.values()))) if seed_scores else []
        if len(common) >= 2:
            notes.append(f"no dataset has every strategy; ranking the {len(common)} strategies run on every dataset")
            strategies, complete = common, sorted(seed_scores)
    incomplete = sorted(set(seed_scores) - set(complete))
    if incomplete and complete:
        notes.append(
            f"restricted to the {len(complete)} dataset(s) with every strategy; left out: {', '.join(incomplete)}"
        )
    return strategies, complete
