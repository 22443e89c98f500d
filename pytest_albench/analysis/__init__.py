"""Computations on case records that return typed results; formatting them is the report's job.

* :mod:`.cells` — the grouping of cases into (embedding label, dataset, strategy) cells;
* :mod:`.ranking` — the one rule for blocks, and each label's ranking;
* :mod:`.pairwise` — wins/ties/losses;
* :mod:`.summary` — the above, computed once per session for every table;
* :mod:`.gains`, :mod:`.quality` — gains over random, embedding quality and their correlations;
* :mod:`.dial` — the quality dial: gains and ranks along one encoder's degradation, dataset fixed;
* :mod:`.grid` — :func:`analyze`: all of it plus the Friedman and post-hoc tests per label.
"""

from __future__ import annotations

from .grid import EmbeddingStats, GridAnalysis, analyze
from .ranking import BlockRanking, rank_label
from .summary import GridSummary, summarize

__all__ = ["BlockRanking", "EmbeddingStats", "GridAnalysis", "GridSummary", "analyze", "rank_label", "summarize"]
