"""Grid-level analysis of finished cases: rank tests per embedding, gains over random, embedding quality.

The per-cell tables in :mod:`report` answer "which strategy won here?". This module answers the
study's questions across the grid: do strategies differ at all on an embedding (Friedman), which pairs
differ (post-hoc), how large is each strategy's gain over random with what uncertainty, and does a
strategy gain more where the embedding is better (Spearman of quality measures against gains)?

Like :mod:`report`, everything is a pure function of the case records, so a saved results file can be
re-analysed later. Incomplete grids are expected (a crashed case, a strategy run on some datasets
only, NaN AULCs): they are restricted to what is comparable, and every restriction is written down in
``notes`` so no table silently compares different things.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..stats.grid import (
    POSTHOC_METHODS,
    FriedmanResult,
    PostHoc,
    friedman,
    mean_gain_ci,
    nemenyi,
    spearman,
    wilcoxon_holm,
)
from ..engine.quality import MEASURES, SIZES
from ..report.tables import Table, _with_variant, win_tie_loss_table

__all__ = ["BASELINE_STRATEGY", "IPS_TARGET", "CorrelationRow", "EmbeddingStats", "GainRow", "GridAnalysis", "analyze"]

Case = dict[str, Any]

#: Gains are measured against this strategy, run on the same embedding, dataset and seed.
BASELINE_STRATEGY = "random"
#: Correlation target name of the early-cycle effect of a TypiClust initial pool.
IPS_TARGET = "TypiClust IPS early gain"
#: With at least this many complete datasets, datasets are the blocks (independent units); with fewer,
#: (dataset, seed) pairs are, which gives the tests something to work with but treats seeds of one
#: dataset as independent, which they are not. Tables say which.
MIN_DATASET_BLOCKS = 3
DEFAULT_HEAD = "logistic"


@dataclass
class EmbeddingStats:
    """Rank statistics of the strategies on one embedding label (embedding plus variant)."""

    label: str
    datasets: list[str]
    strategies: list[str]
    scores: np.ndarray  # blocks × strategies, mean AULC over seeds (or one seed's AULC per block)
    blocks: str  # "datasets" or "dataset×seed"
    friedman: FriedmanResult | None
    posthoc: PostHoc | None
    block_labels: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GainRow:
    """A strategy's mean AULC gain over random on one embedding label, with a t confidence interval."""

    embedding_label: str
    strategy: str
    mean: float
    low: float
    high: float
    n: int
    unit: str  # what n counts: "datasets" or "dataset×seed"


@dataclass(frozen=True)
class CorrelationRow:
    """Spearman correlation of one quality measure with one gain, over (embedding, dataset) cells."""

    measure: str
    target: str
    rho: float
    p_value: float
    n: int
    note: str = ""


@dataclass
class GridAnalysis:
    """Everything :func:`analyze` found; :meth:`tables` renders it for the terminal, files and report."""

    per_embedding: dict[str, EmbeddingStats]
    gains: list[GainRow]
    quality: dict[tuple[str, str], dict[str, float]]
    cell_gains: dict[tuple[str, str, str], float]
    ips_early_gain: dict[tuple[str, str], float]
    correlations: list[CorrelationRow]
    win_tie_loss: Table
    alpha: float = 0.05
    posthoc_method: str = "wilcoxon-holm"
    early_cycles: int = 2
    notes: list[str] = field(default_factory=list)

    def tables(self) -> list[Table]:
        """Friedman per embedding, pairwise post-hoc p-values, gains, quality, early IPS gain, correlations.

        The win/tie/loss table is left to :func:`report.all_tables`, which already shows it.
        """
        tables = [self._friedman_table()]
        tables += [self._pairwise_table(stats) for stats in self.per_embedding.values() if stats.posthoc is not None]
        tables += [self._gains_table(), self._quality_table(), self._early_gain_table(), self._correlation_table()]
        return [t for t in tables if t.rows]

    def _friedman_table(self) -> Table:
        rows, skipped = [], []
        for label, stats in self.per_embedding.items():
            f, post = stats.friedman, stats.posthoc
            if f is None:
                skipped.append(f"{label}: {'; '.join(stats.notes) or 'not enough data'}")
                continue
            order = sorted(f.mean_ranks, key=lambda s: (f.mean_ranks[s], s))
            rows.append([
                label, stats.blocks, f.n_blocks, f.n_treatments, f"{f.statistic:.3f}", _p(f.p_value),
                _num(f.iman_davenport_f, ".3f"), _p(f.iman_davenport_p),
                "  ".join(f"{s} {f.mean_ranks[s]:.2f}" for s in order),
                post.method if post else "-",
                _num(post.critical_difference, ".3f") if post and post.critical_difference is not None else "-",
                "  ".join("[" + " ".join(g) + "]" for g in post.groups) if post else "-",
            ])
        notes = [
            "χ²_F: Friedman test on AULC ranks within blocks (1 = best), tie-corrected; F_ID: its "
            "Iman–Davenport F form (Demšar 2006).",
            f"Post-hoc: {POSTHOC_METHODS[self.posthoc_method]}, α = {self.alpha:g}; shown whatever the "
            "omnibus result, so read it only where Friedman's p < α.",
            "Groups: maximal runs in mean-rank order with no significant pair inside (CD-diagram bars).",
            f"Blocks: datasets when ≥ {MIN_DATASET_BLOCKS} datasets have every strategy, else (dataset, seed) "
            "pairs (seeds of one dataset are not independent: read p-values as descriptive).",
        ]
        notes += [f"{label}: {note}." for label, stats in self.per_embedding.items() if stats.friedman for note in stats.notes]
        notes += [f"Not tested: {s}." for s in skipped]
        return Table("Friedman test of AULC ranks per embedding",
                     ["embedding", "blocks", "N", "k", "χ²_F", "p", "F_ID", "p (F_ID)", "mean ranks",
                      "post-hoc", "CD", "groups (best first)"], rows, note=" ".join(notes))

    def _pairwise_table(self, stats: EmbeddingStats) -> Table:
        post = stats.posthoc
        assert post is not None
        order = post.order
        rows = [
            [a] + ["—" if a == b else _p(post.p_value(a, b)) + ("*" if post.significant(a, b) else "") for b in order]
            for a in order
        ]
        return Table(
            f"Pairwise {post.method} p-values: {stats.label}", ["strategy (by mean rank)", *order], rows,
            note=f"Adjusted p-values ({POSTHOC_METHODS[post.method]}) over {len(stats.scores)} blocks "
                 f"({stats.blocks}); * = significant at α = {post.alpha:g}." + "".join(f" {n}." for n in stats.notes),
        )

    def _gains_table(self) -> Table:
        labels = sorted({g.embedding_label for g in self.gains})
        strategies = sorted({g.strategy for g in self.gains})
        cells = {(g.strategy, g.embedding_label): g for g in self.gains}
        rows = []
        for strategy in strategies:
            row: list[Any] = [strategy]
            for label in labels:
                g = cells.get((strategy, label))
                row.append("" if g is None else f"{g.mean:+.4f} [{_num(g.low, '+.4f')}, {_num(g.high, '+.4f')}] "
                                                f"n={g.n} {g.unit}")
            rows.append(row)
        return Table(
            f"AULC gain over {BASELINE_STRATEGY} (mean [95% CI]) per embedding", ["strategy", *labels], rows,
            note=f"Gain = AULC(strategy) − AULC({BASELINE_STRATEGY}) on the same embedding, dataset and seed. "
                 f"Student-t interval over per-dataset mean gains when ≥ {MIN_DATASET_BLOCKS} datasets, else "
                 "over (dataset, seed) gains; n = 1 gives an unbounded interval (±inf).",
        )

    def _quality_table(self) -> Table:
        measures = _measure_names(self.quality)
        sizes = [s for s in SIZES if any(s in q for q in self.quality.values())]
        rows = [
            [embedding, dataset, *(_num(q.get(m, math.nan), ".4f") for m in measures),
             *(_num(q.get(s, math.nan), ".0f") for s in sizes)]
            for (embedding, dataset), q in sorted(self.quality.items())
        ]
        return Table(
            "Embedding quality per (embedding, dataset), without active learning",
            ["embedding", "dataset", *measures, *sizes], rows,
            note="linear probe: logistic regression on the whole labeled pool, test accuracy (the AL ceiling); "
                 "kNN: 5-NN cosine, test accuracy; k-means purity: k = classes on L2-normalised pool rows; "
                 "silhouette: of the true labels, cosine, ≤ 2,000 pool points.",
        )

    def _early_gain_table(self) -> Table:
        rows = [[e, d, f"{v:+.4f}"] for (e, d), v in sorted(self.ips_early_gain.items())]
        return Table(
            "Early-cycle gain of a TypiClust initial pool over a random one",
            ["embedding", "dataset", "Δ accuracy"], rows,
            note=f"Mean over the first {self.early_cycles} learning-curve points of accuracy(TypiClust IPS) − "
                 "accuracy(random IPS), same strategy and seed, averaged over seeds and strategies run with both.",
        )

    def _correlation_table(self) -> Table:
        rows = [[c.measure, c.target, _num(c.rho, "+.3f"), _p(c.p_value), c.n, c.note] for c in self.correlations]
        return Table(
            "Spearman correlation of embedding quality with AL gains", ["measure", "target", "ρ", "p", "n", "note"],
            rows,
            note="Over (embedding, dataset) cells with a random initial pool; p is scipy's two-sided p-value, "
                 "uncorrected for the number of correlations shown.",
        )


def analyze(
    cases: Iterable[Case], *, alpha: float = 0.05, posthoc: str = "wilcoxon-holm", early_cycles: int = 2
) -> GridAnalysis:
    """Analyse finished case records (as in ``--albench-json`` output) across the whole grid."""
    if posthoc not in POSTHOC_METHODS:
        raise ConfigError(f"unknown post-hoc test {posthoc!r}; choose one of {sorted(POSTHOC_METHODS)}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    if not isinstance(early_cycles, int) or early_cycles < 1:
        raise ConfigError(f"early_cycles must be a positive integer, got {early_cycles!r}")
    cases = list(cases)
    notes: list[str] = []
    by_label: dict[str, dict[str, dict[str, Case]]] = defaultdict(lambda: defaultdict(dict))
    duplicates = set()
    for case in cases:
        label = _with_variant(case["embedding"], case)
        if case["strategy"] in by_label[label][case["dataset"]]:
            duplicates.add(f"{label}/{case['dataset']}/{case['strategy']}")
        by_label[label][case["dataset"]][case["strategy"]] = case
    if duplicates:
        notes.append(f"several cases for {', '.join(sorted(duplicates))} (settings that do not split tables, "
                     "such as initial_pool_size, differ?); the last one is used")

    per_embedding = {label: _embedding_stats(label, by_label[label], alpha, posthoc) for label in sorted(by_label)}
    gains = [row for label in sorted(by_label) for row in _gains(label, by_label[label], notes)]
    quality = _quality(cases, notes)
    cell_gains = _cell_gains(cases)
    ips_early = _ips_early_gain(cases, early_cycles, notes)
    correlations = _correlations(quality, cell_gains, ips_early, notes)
    return GridAnalysis(
        per_embedding=per_embedding, gains=gains, quality=quality, cell_gains=cell_gains,
        ips_early_gain=ips_early, correlations=correlations, win_tie_loss=win_tie_loss_table(cases),
        alpha=alpha, posthoc_method=posthoc, early_cycles=early_cycles, notes=notes,
    )


# --- rank tests per embedding label ------------------------------------------------------------------


def _embedding_stats(label: str, datasets: dict[str, dict[str, Case]], alpha: float, posthoc: str) -> EmbeddingStats:
    notes: list[str] = []
    seed_scores = {d: {s: _seed_aulcs(c, notes) for s, c in cells.items()} for d, cells in datasets.items()}
    seed_scores = {d: {s: v for s, v in cells.items() if v} for d, cells in seed_scores.items()}
    strategies = sorted({s for cells in seed_scores.values() for s in cells})
    complete = [d for d in sorted(seed_scores) if all(s in seed_scores[d] for s in strategies)]
    if not complete and len(strategies) > 1:
        common = sorted(set.intersection(*(set(cells) for cells in seed_scores.values()))) if seed_scores else []
        if len(common) >= 2:
            notes.append(f"no dataset has every strategy; ranking the {len(common)} strategies run on every dataset")
            strategies, complete = common, sorted(seed_scores)
    incomplete = sorted(set(seed_scores) - set(complete))
    if incomplete and complete:
        notes.append(f"restricted to the {len(complete)} dataset(s) with every strategy; left out: {', '.join(incomplete)}")

    if len(complete) >= MIN_DATASET_BLOCKS:
        unit = "datasets"
        block_labels = list(complete)
        rows = [[float(np.mean(list(seed_scores[d][s].values()))) for s in strategies] for d in complete]
    else:
        unit = "dataset×seed"
        block_labels, rows = [], []
        for d in complete:
            seeds = sorted(set.intersection(*(set(seed_scores[d][s]) for s in strategies))) if strategies else []
            for seed in seeds:
                block_labels.append(f"{d}/seed {seed}")
                rows.append([seed_scores[d][s][seed] for s in strategies])
    scores = np.asarray(rows, dtype=float).reshape(len(rows), len(strategies))

    result, post = None, None
    if len(strategies) < 2:
        notes.append(f"only {len(strategies)} strategy: nothing to rank")
    elif len(rows) < 2:
        notes.append(f"only {len(rows)} block(s) with every strategy: rank tests need at least 2")
    else:
        result = friedman(scores, strategies)
        post = (nemenyi if posthoc == "nemenyi" else wilcoxon_holm)(scores, strategies, alpha)
        n_pairs = len(strategies) * (len(strategies) - 1) // 2
        floor = min(1.0, n_pairs * 2.0 / 2 ** len(rows))  # Holm's first step multiplies by the pair count
        if posthoc == "wilcoxon-holm" and floor >= alpha:
            notes.append(f"with {len(rows)} blocks and {n_pairs} pairs no Holm-adjusted Wilcoxon p-value can fall "
                         f"below {floor:.3g}, so no pair can be significant at α = {alpha:g}; Nemenyi "
                         "(--posthoc nemenyi) compares mean ranks and can")
    return EmbeddingStats(label=label, datasets=list(complete), strategies=strategies, scores=scores, blocks=unit,
                          friedman=result, posthoc=post, block_labels=block_labels, notes=notes)


def _seed_aulcs(case: Case, notes: list[str]) -> dict[int, float]:
    """Finite AULC per seed; NaN runs are dropped and said so."""
    out, dropped = {}, []
    for run in case.get("runs", []):
        value = run.get("aulc")
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[int(run["seed"])] = float(value)
        else:
            dropped.append(str(run.get("seed")))
    if dropped:
        notes.append(f"{case['dataset']}/{case['strategy']}: AULC missing or NaN for seed(s) {', '.join(dropped)}, skipped")
    return out


# --- gains over random -------------------------------------------------------------------------------


def _seed_gains(cells: dict[str, Case], strategy: str) -> list[float]:
    """Per-seed AULC gain of ``strategy`` over random in one cell, on the seeds both have finite."""
    own = _seed_aulcs(cells[strategy], [])
    base = _seed_aulcs(cells[BASELINE_STRATEGY], [])
    return [own[s] - base[s] for s in sorted(set(own) & set(base))]


def _gains(label: str, datasets: dict[str, dict[str, Case]], notes: list[str]) -> list[GainRow]:
    if not any(BASELINE_STRATEGY in cells for cells in datasets.values()):
        notes.append(f"{label}: no {BASELINE_STRATEGY} cases, so no gains over {BASELINE_STRATEGY}")
        return []
    strategies = sorted({s for cells in datasets.values() for s in cells} - {BASELINE_STRATEGY})
    rows = []
    for strategy in strategies:
        per_dataset = {
            d: g for d in sorted(datasets)
            if strategy in datasets[d] and BASELINE_STRATEGY in datasets[d]
            and (g := _seed_gains(datasets[d], strategy))
        }
        if not per_dataset:
            notes.append(f"{label}: {strategy} shares no dataset and seed with {BASELINE_STRATEGY}; no gain")
            continue
        if len(per_dataset) >= MIN_DATASET_BLOCKS:
            values, unit = [float(np.mean(g)) for g in per_dataset.values()], "datasets"
        else:
            values, unit = [v for g in per_dataset.values() for v in g], "dataset×seed"
        ci = mean_gain_ci(values)
        rows.append(GainRow(label, strategy, ci.mean, ci.low, ci.high, ci.n, unit))
    return rows


def _ips(case: Case) -> str:
    return str(case.get("config", {}).get("initial_pool_method", "random"))


def _head(case: Case) -> str:
    return str(case.get("config", {}).get("head", DEFAULT_HEAD))


def _cell_embedding(case: Case) -> str:
    """The embedding as a cell key; runs merged with ``--label`` stay apart (never pair across runs)."""
    label = case.get("run_label")
    return f"{case['embedding']} [run={label}]" if label else case["embedding"]


def _preferred_heads(cases: Sequence[Case]) -> dict[str, str]:
    """Per embedding, the head whose cases feed cell-level gains: the default one when it was run.

    Cell-level values must not mix heads (an MLP-head gain is another treatment), so one is chosen.
    """
    heads: dict[str, set[str]] = defaultdict(set)
    for case in cases:
        heads[_cell_embedding(case)].add(_head(case))
    return {e: DEFAULT_HEAD if DEFAULT_HEAD in hs else min(hs) for e, hs in heads.items()}


def _cell_gains(cases: Sequence[Case]) -> dict[tuple[str, str, str], float]:
    heads = _preferred_heads(cases)
    cells: dict[tuple[str, str], dict[str, Case]] = defaultdict(dict)
    for case in cases:
        if _ips(case) == "random" and _head(case) == heads[_cell_embedding(case)]:
            cells[(_cell_embedding(case), case["dataset"])][case["strategy"]] = case
    out = {}
    for (embedding, dataset), by_strategy in sorted(cells.items()):
        if BASELINE_STRATEGY not in by_strategy:
            continue
        for strategy in sorted(set(by_strategy) - {BASELINE_STRATEGY}):
            gains = _seed_gains(by_strategy, strategy)
            if gains:
                out[(embedding, dataset, strategy)] = float(np.mean(gains))
    return out


def _ips_early_gain(cases: Sequence[Case], early_cycles: int, notes: list[str]) -> dict[tuple[str, str], float]:
    heads = _preferred_heads(cases)
    by_key: dict[tuple[str, str, str, str], Case] = {}
    for case in cases:
        if _head(case) == heads[_cell_embedding(case)] and _ips(case) in ("random", "typiclust"):
            by_key.setdefault((_cell_embedding(case), case["dataset"], case["strategy"], _ips(case)), case)
    per_cell: dict[tuple[str, str], list[float]] = defaultdict(list)
    mismatched = 0
    for (embedding, dataset, strategy, ips), typi in sorted(by_key.items()):
        rand = by_key.get((embedding, dataset, strategy, "random"))
        if ips != "typiclust" or rand is None:
            continue
        curves_t = {int(r["seed"]): r.get("curve", {}) for r in typi.get("runs", [])}
        curves_r = {int(r["seed"]): r.get("curve", {}) for r in rand.get("runs", [])}
        per_seed = []
        for seed in sorted(set(curves_t) & set(curves_r)):
            t, r = curves_t[seed], curves_r[seed]
            acc_t, acc_r = _floats(t.get("accuracy", []))[:early_cycles], _floats(r.get("accuracy", []))[:early_cycles]
            if (len(acc_t) < early_cycles or len(acc_r) < early_cycles
                    or list(t.get("n_labeled", []))[:early_cycles] != list(r.get("n_labeled", []))[:early_cycles]):
                mismatched += 1
                continue
            diff = float(np.mean(np.asarray(acc_t) - np.asarray(acc_r)))
            if math.isfinite(diff):
                per_seed.append(diff)
        if per_seed:
            per_cell[(embedding, dataset)].append(float(np.mean(per_seed)))
    if mismatched:
        notes.append(f"TypiClust IPS early gain: {mismatched} seed pair(s) skipped (curves shorter than "
                     f"{early_cycles} points, NaN, or labeled-set sizes that differ)")
    if not per_cell:
        notes.append("no TypiClust-IPS case has a random-IPS twin (same embedding, dataset, strategy, head): "
                     "no early IPS gain")
    return {key: float(np.mean(values)) for key, values in sorted(per_cell.items())}


def _floats(values: Sequence[Any]) -> list[float]:
    return [float(v) if isinstance(v, (int, float)) else math.nan for v in values]


# --- quality and correlations ------------------------------------------------------------------------


def _quality(cases: Sequence[Case], notes: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    disagree = set()
    failed: set[str] = set()
    for case in sorted(cases, key=lambda c: str(c.get("nodeid", ""))):
        raw = case.get("quality")
        if not isinstance(raw, dict):
            continue
        if "error" in raw:
            failed.add(f"{case['embedding']}/{case['dataset']}: {raw['error']}")
            continue
        values = {k: (float(v) if isinstance(v, (int, float)) else math.nan) for k, v in raw.items()
                  if isinstance(v, (int, float)) or v is None}
        key = (_cell_embedding(case), case["dataset"])
        if key not in out:
            out[key] = values
        elif not _same(out[key], values):
            disagree.add(key)
    if failed:
        notes.append("embedding quality could not be computed for " + "; ".join(sorted(failed)))
    if disagree:
        notes.append("quality differs between cases of " + ", ".join("/".join(k) for k in sorted(disagree))
                     + " (different pool sizes?); the first case's values are used")
    return out


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12) for k in a
    )


def _measure_names(quality: dict[tuple[str, str], dict[str, float]]) -> list[str]:
    present = {k for q in quality.values() for k in q} - set(SIZES)
    return [m for m in MEASURES if m in present] + sorted(present - set(MEASURES))


def _correlations(
    quality: dict[tuple[str, str], dict[str, float]], cell_gains: dict[tuple[str, str, str], float],
    ips_early: dict[tuple[str, str], float], notes: list[str],
) -> list[CorrelationRow]:
    if not quality:
        notes.append("no embedding-quality measures in these results (written before they existed?): "
                     "correlations skipped; rerun the cases to get them")
        return []
    targets: list[tuple[str, dict[tuple[str, str], float]]] = []
    for strategy in sorted({s for _, _, s in cell_gains}):
        targets.append((f"AULC gain: {strategy}", {(e, d): v for (e, d, s), v in cell_gains.items() if s == strategy}))
    if ips_early:
        targets.append((IPS_TARGET, dict(ips_early)))
    rows = []
    for measure in _measure_names(quality):
        for target, values in targets:
            cells = [c for c in sorted(values) if c in quality and math.isfinite(quality[c].get(measure, math.nan))]
            r = spearman([quality[c][measure] for c in cells], [values[c] for c in cells])
            rows.append(CorrelationRow(measure, target, r.rho, r.p_value, r.n, r.note))
    return rows


# --- formatting --------------------------------------------------------------------------------------


def _num(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return format(value, fmt)


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"
