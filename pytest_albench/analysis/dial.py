"""The quality dial: how each strategy's gain over random and the ranking move as one encoder is
degraded in controlled steps on a fixed dataset.

Across a grid of encoders and datasets, "strategy X gains more on better embeddings" mixes a better
encoder with an easier dataset. Along a dial (``minilm-l6``, ``minilm-l6|noise:1|normalize``,
``minilm-l6|noise:4|normalize``, ...; see :mod:`pytest_albench.embeddings._transforms`) the texts, the
model and the pool stay the same and one property moves, so a trend in a strategy's gain along it is
caused by that property.

A dial is recognised from the embedding names of the cases: a chain of only ``noise`` (optionally
followed by ``normalize``) is the noise dial, levelled by the noise-to-signal ratio (0 for the intact
encoder); a chain of only ``pca`` or only ``truncate`` is a dimension dial, levelled by the width (the
intact encoder's width first). The intact encoder joins every dial of its (dataset, encoder). Other
chains are not dials and are left to the rest of the report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..record import DEFAULT_IPS, cell_embedding, head_of, ips_of, variant_of
from ..stats import spearman
from .cells import Case, mean_aulc
from .gains import BASELINE_STRATEGY, preferred_heads, seed_gains
from .ranking import rank_label

__all__ = ["DIALS", "DialCorrelation", "DialSeries", "dial_correlations", "dial_of", "dial_series"]

#: Dial kinds, with what their level means.
DIALS = {
    "noise": "noise-to-signal power ratio (0 = the encoder itself)",
    "pca": "principal components of the pool kept",
    "truncate": "leading coordinates kept",
}
#: Sizes stored beside the quality measures, which are not measures of the embedding.
_SIZES = frozenset({"n_pool", "n_test", "n_classes", "dim", "cluster_k"})


@dataclass(frozen=True)
class DialCorrelation:
    """How well a measure tracks a strategy's gain *within* a dataset: Spearman ρ of the measure with
    the gain along each dial series, averaged over the series (datasets × dials) where both vary."""

    measure: str
    strategy: str
    mean_rho: float
    n_series: int


@dataclass(eq=False)
class DialSeries:
    """One dial on one dataset: per level (intact first, most degraded last) each strategy's mean AULC
    gain over random, its mean rank (over seeds, 1 = best), the quality measures, and two summaries.

    ``trend[s]`` is the Spearman correlation of strategy ``s``'s gain with the degradation step
    (negative: its advantage shrinks as the embedding gets worse); ``rank_agreement[i]`` is Kendall's
    τ between the ranking at level ``i`` and at the intact level (1 = the same order).
    """

    dataset: str
    encoder: str
    dial: str
    context: str  # the cases' variant and run label ("" for plain cases): series never mix them
    levels: list[float]
    embeddings: list[str]
    strategies: list[str]
    gains: dict[str, list[float]]
    ranks: dict[str, list[float]]
    random_aulc: list[float]
    quality: list[dict[str, float]]
    trend: dict[str, float]
    rank_agreement: list[float]
    notes: list[str] = field(default_factory=list)


def dial_of(embedding: str) -> tuple[str, str, float] | None:
    """``(encoder, dial, level)`` when ``embedding`` is a point on a dial; the intact encoder has dial
    ``""`` (it joins every dial); None for chains that are no dial."""
    from ..embeddings import parse_embedding_name
    from ..errors import ConfigError

    try:
        encoder, chain = parse_embedding_name(embedding)
    except ConfigError:  # a chain this version does not know (a newer results file): not a dial here
        return None
    ops = [step.op for step in chain]
    if not ops:
        return encoder, "", math.nan
    if ops in (["noise"], ["noise", "normalize"]):
        return encoder, "noise", float(chain[0].value or 0.0)
    if ops in (["pca"], ["truncate"]):
        return encoder, ops[0], float(chain[0].value or 0)
    return None


def dial_series(cases: Sequence[Case]) -> list[DialSeries]:
    """Every dial with at least two levels in ``cases`` (random initial pools, one head per embedding)."""
    heads = preferred_heads(cases)
    cells: dict[tuple[str, str, str], dict[str, Case]] = defaultdict(dict)
    for case in cases:
        if ips_of(case) == DEFAULT_IPS and head_of(case) == heads[cell_embedding(case)]:
            cells[(str(case["embedding"]), _context(case), str(case["dataset"]))][str(case["strategy"])] = case
    points: dict[tuple[str, str, str, str], dict[float, str]] = defaultdict(dict)
    intact: dict[tuple[str, str, str], str] = {}
    for embedding, context, dataset in cells:
        found = dial_of(embedding)
        if found is None:
            continue
        encoder, dial, level = found
        if dial:
            points[(dataset, encoder, dial, context)][level] = embedding
        else:
            intact[(dataset, encoder, context)] = embedding
    series = []
    for (dataset, encoder, dial, context), by_level in sorted(points.items()):
        ordered = sorted(by_level.items(), reverse=dial != "noise")  # intact end first, degraded last
        levels = [level for level, _ in ordered]
        embeddings = [name for _, name in ordered]
        base = intact.get((dataset, encoder, context))
        if base is not None:
            levels.insert(0, 0.0 if dial == "noise" else _width(cells[(base, context, dataset)]))
            embeddings.insert(0, base)
        if len(embeddings) >= 2:
            per_level = [cells[(e, context, dataset)] for e in embeddings]
            series.append(_series(dataset, encoder, dial, context, levels, per_level, embeddings))
    return series


def _context(case: Case) -> str:
    """What keeps two runs of one embedding apart besides its name: the variant and the run label."""
    extra = [variant_of(case), f"run={case['run_label']}" if case.get("run_label") else ""]
    return ", ".join(part for part in extra if part)


def _width(by_strategy: dict[str, Case]) -> float:
    for case in by_strategy.values():
        quality = case.get("quality")
        if isinstance(quality, dict) and isinstance(quality.get("dim"), (int, float)):
            return float(quality["dim"])
    return math.nan


def _series(
    dataset: str,
    encoder: str,
    dial: str,
    context: str,
    levels: list[float],
    per_level: list[dict[str, Case]],
    embeddings: list[str],
) -> DialSeries:
    notes: list[str] = []
    strategies = sorted({s for by_strategy in per_level for s in by_strategy})
    gains = {s: [math.nan] * len(levels) for s in strategies if s != BASELINE_STRATEGY}
    ranks = {s: [math.nan] * len(levels) for s in strategies}
    random_aulc, quality, orders = [], [], []
    for i, by_strategy in enumerate(per_level):
        if BASELINE_STRATEGY in by_strategy:
            for strategy in gains:
                if strategy in by_strategy and (values := seed_gains(by_strategy, strategy)):
                    gains[strategy][i] = float(np.mean(values))
            random_aulc.append(mean_aulc(by_strategy[BASELINE_STRATEGY]))
        else:
            random_aulc.append(math.nan)
            notes.append(f"{embeddings[i]}: no {BASELINE_STRATEGY} case, so no gains at this level")
        ranked = rank_label(embeddings[i], {dataset: by_strategy})
        notes.extend(f"{embeddings[i]}: {n}" for n in ranked.notes)
        if ranked.ranking is not None:
            for strategy, rank in ranked.ranking.mean_ranks.items():
                ranks[strategy][i] = rank
        orders.append(ranked.ranking.mean_ranks if ranked.ranking is not None else {})
        raw = next((c.get("quality") for c in by_strategy.values() if isinstance(c.get("quality"), dict)), None) or {}
        quality.append({m: float(v) for m, v in raw.items() if isinstance(v, (int, float)) and m not in _SIZES})
    return DialSeries(
        dataset=dataset,
        encoder=encoder,
        dial=dial,
        context=context,
        levels=levels,
        embeddings=embeddings,
        strategies=strategies,
        gains=gains,
        ranks=ranks,
        random_aulc=random_aulc,
        quality=quality,
        trend={s: _spearman_with_step(values) for s, values in gains.items()},
        rank_agreement=[_kendall(orders[0], order) for order in orders],
        notes=notes,
    )


def _spearman_with_step(values: list[float]) -> float:
    """Spearman ρ of the finite values with their position along the dial (NaN with < 3 of them, or
    constant ones: :func:`~pytest_albench.stats.spearman`'s rules)."""
    steps = [i for i, v in enumerate(values) if math.isfinite(v)]
    return spearman(steps, [values[i] for i in steps]).rho


def _kendall(first: dict[str, float], other: dict[str, float]) -> float:
    """Kendall's τ-b between two mean-rank maps over the strategies both ranked."""
    from scipy.stats import kendalltau

    common = sorted(set(first) & set(other))
    if len(common) < 3:
        return math.nan
    tau = kendalltau([first[s] for s in common], [other[s] for s in common]).statistic
    return float(tau) if tau is not None and math.isfinite(tau) else math.nan


def dial_correlations(series: Sequence[DialSeries]) -> list[DialCorrelation]:
    """Per (measure, strategy) the mean within-series Spearman ρ of measure and gain (see the class)."""
    per_pair: dict[tuple[str, str], list[float]] = defaultdict(list)
    for one in series:
        measures = sorted({m for q in one.quality for m in q})
        for measure in measures:
            values = [q.get(measure, math.nan) for q in one.quality]
            for strategy, gains in one.gains.items():
                pairs = [(v, g) for v, g in zip(values, gains, strict=True) if math.isfinite(v) and math.isfinite(g)]
                rho = spearman([v for v, _ in pairs], [g for _, g in pairs]).rho
                if math.isfinite(rho):
                    per_pair[(measure, strategy)].append(rho)
    return [
        DialCorrelation(measure, strategy, float(np.mean(rhos)), len(rhos))
        for (measure, strategy), rhos in sorted(per_pair.items())
    ]
