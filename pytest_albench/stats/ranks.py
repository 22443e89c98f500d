"""The one ranking: treatments ranked within blocks, which every test, table and figure reads.

Conventions (Demšar 2006): a score matrix is blocks × treatments, a HIGHER score is better, rank 1
is best and tied scores share the average rank. Which rows are the blocks (datasets, or dataset ×
seed pairs) is the analysis layer's decision; this module only ranks the matrix it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import ScoreMatrix, score_matrix

__all__ = ["Ranking", "rank_blocks", "rank_treatments"]


@dataclass(frozen=True, eq=False)
class Ranking:
    """Ranks of each treatment in each block, and their means over the blocks."""

    treatments: tuple[str, ...]
    ranks: np.ndarray  # blocks × treatments, 1 = best

    @property
    def n_blocks(self) -> int:
        return int(self.ranks.shape[0])

    @property
    def mean_ranks(self) -> dict[str, float]:
        """Each treatment's mean rank over the blocks, in the treatments' order."""
        return {t: float(r) for t, r in zip(self.treatments, self.ranks.mean(axis=0), strict=True)}

    @property
    def order(self) -> list[str]:
        """Treatments from best (lowest mean rank) to worst; names break ties, so the order is total."""
        ranks = self.mean_ranks
        return sorted(ranks, key=lambda t: (ranks[t], t))


def rank_blocks(scores: np.ndarray) -> np.ndarray:
    """Ranks within each block (row): 1 = highest score, ties averaged."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(-np.asarray(scores, dtype=float), method="average", axis=1), dtype=float)


def rank_treatments(scores: ScoreMatrix, treatments: Sequence[str]) -> Ranking:
    """Rank ``treatments`` (the columns of ``scores``) within every block (row); one block suffices."""
    matrix = score_matrix(scores, treatments, min_blocks=1)
    return Ranking(tuple(treatments), rank_blocks(matrix))
