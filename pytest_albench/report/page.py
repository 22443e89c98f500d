"""One page that says what was run and what came out: tables and figures, as Markdown and HTML.

Why one document model with two renderers: the Markdown page (for a repository or
``$GITHUB_STEP_SUMMARY``) and the HTML page (for a browser) must show the same tables in the same
order; building the sections once and rendering them twice keeps them from drifting apart. The page
holds no dates or host names beyond what the case records carry, so rebuilding it from the same
results files gives the same bytes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis import GridAnalysis, GridSummary, summarize
from ..record import CaseRecord, protocol_of
from .figures.advisor import ADVISOR_SECTION
from .figures.dial import DIAL_SECTION
from .render import write_page
from .tables import (
    Table,
    advisor_table,
    analysis_tables,
    dial_tables,
    mean_rank_table,
    per_cell_tables,
    status_table,
    win_tie_loss_table,
)

#: ``build_page(validation=...)`` default: compute the advisor's validation from ``cases`` here.
_COMPUTE = object()
#: Above these sizes a table or a group of tables is folded away (``<details>``) to keep the page short.
FOLD_ROWS = 30
FOLD_CELL_TABLES = 8
#: At most this many per-cell ranking tables are shown; the JSON/CSV outputs hold all of them.
MAX_CELL_TABLES = 120
FOLD_PAIRWISE = 3
#: Names of the top post-hoc group shown in the terminal digest before "+N more".
SUMMARY_NAMES = 4
PAIRWISE_PREFIX = "Pairwise "
#: Section titles shared with the figures (plots.FigureFile.section) so tables and pictures meet.
RANKS_SECTION = "Ranks"
STATS_SECTION = "Statistics across datasets"


@dataclass
class Block:
    """A paragraph, a table or a figure; ``folded`` tables render inside ``<details>``."""

    kind: str  # "text", "table", "tables", "figure"
    text: str = ""
    tables: list[Table] = field(default_factory=list)
    figure: Any = None  # plots.FigureFile
    folded: bool = False
    summary: str = ""


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Page:
    title: str
    sections: list[Section]


@dataclass(frozen=True)
class RunInfo:
    """Where the cases came from: the results files (with run labels) or the live session."""

    sources: tuple[str, ...]
    profiles: tuple[str, ...]
    seeds: tuple[int, ...]


# ------------------------------------------------------------------------------------------- building


def build_page(
    cases: Sequence[CaseRecord],
    missing: Sequence[str],
    info: RunInfo,
    *,
    analysis: GridAnalysis | None = None,
    analysis_note: str = "",
    figures: Sequence[Any] = (),
    figures_note: str = "",
    order: Sequence[str] | None = None,
    summary: GridSummary | None = None,
    validation: Any = _COMPUTE,
) -> Page:
    """The whole page; ``analysis`` is a GridAnalysis (or None with ``analysis_note`` saying why).

    Every table reads one :class:`GridSummary` of ``cases``: the analysis's, else ``summary``, else one
    computed here, so the rank table, the tests and the win/tie/loss counts show the same ranking.

    Order: what ran; the rank summary and heatmap; the statistics with their CD diagrams; gains against
    embedding quality; learning curves; then the long per-cell and pairwise detail, folded away.
    """
    summary = analysis.summary if analysis is not None else summary if summary is not None else summarize(cases)
    ranks = Section(RANKS_SECTION)
    rank_table = mean_rank_table(summary)
    if rank_table.rows:
        ranks.blocks.append(_table_block(rank_table))
    stats = Section(STATS_SECTION)
    if analysis is not None:
        stats.blocks.extend(_analysis_blocks(analysis_tables(analysis)))
        if analysis.notes:
            notes = " ".join(f"{n[:1].upper()}{n[1:].rstrip('.')}." for n in analysis.notes)
            stats.blocks.append(Block("text", text=f"Notes: {notes}"))
    if analysis_note:
        stats.blocks.append(Block("text", text=analysis_note))
    sections = [what_was_run(cases, missing, info, order), ranks, stats]
    if analysis is not None and analysis.dials:
        sections.append(Section(DIAL_SECTION, [_table_block(t) for t in dial_tables(analysis)]))
    if analysis is not None:
        if validation is _COMPUTE:  # the caller did not compute the advisor's validation for its figure
            from ..advisor.validate import validate_cases

            validation = validate_cases(cases)
        if validation is not None:
            sections.append(Section(ADVISOR_SECTION, [_table_block(advisor_table(validation))]))
    by_title = {section.title: section for section in sections}
    for figure in figures:
        if figure.section not in by_title:
            by_title[figure.section] = Section(figure.section)
            sections.append(by_title[figure.section])
        by_title[figure.section].blocks.append(Block("figure", figure=figure))
    if figures_note:
        sections.append(Section("Figures", [Block("text", text=figures_note)]))
    sections.append(_details(cases, missing, summary))
    return Page("pytest-albench report", [s for s in sections if s.blocks])


def _analysis_blocks(tables: list[Table]) -> list[Block]:
    """The analysis tables in order; the pairwise p-value matrices (one per embedding) fold together
    when there are more than a few of them."""
    pairwise = [t for t in tables if t.title.startswith(PAIRWISE_PREFIX)]
    blocks: list[Block] = []
    for table in tables:
        if table in pairwise and len(pairwise) > FOLD_PAIRWISE:
            if table is pairwise[0]:
                blocks.append(
                    Block(
                        "tables",
                        tables=pairwise,
                        folded=True,
                        summary=f"Pairwise post-hoc p-values ({len(pairwise)} embeddings)",
                    )
                )
            continue
        blocks.append(_table_block(table))
    return blocks


def what_was_run(
    cases: Sequence[CaseRecord], missing: Sequence[str], info: RunInfo, order: Sequence[str] | None = None
) -> Section:
    from .figures import embedding_order

    datasets = sorted({str(c["dataset"]) for c in cases})
    embeddings = embedding_order([str(c["embedding"]) for c in cases], order)
    strategies = sorted({str(c["strategy"]) for c in cases})
    variants = sorted({str(c.get("variant") or "") for c in cases} - {""})
    hashes = sorted({str(c.get("config_hash", "")) for c in cases} - {""})
    rows: list[list[Any]] = [
        ["results from", "; ".join(info.sources) or "this session"],
        ["profile", ", ".join(info.profiles) or "-"],
        ["protocol", _protocols_text(cases)],
        ["seeds", ", ".join(map(str, info.seeds)) or "-"],
        ["cases", f"{len(cases)} ({len(missing)} without a result)" if missing else str(len(cases))],
        ["datasets", f"{len(datasets)}: {', '.join(datasets)}"],
        ["embeddings", f"{len(embeddings)}: {', '.join(embeddings)}"],
        ["strategies", f"{len(strategies)}: {', '.join(strategies)}"],
        ["variants", ", ".join(variants) if variants else "none"],
        ["configuration hashes", f"{len(hashes)} distinct (per case below)"],
    ]
    rows.extend(_environment_rows(cases))
    section = Section("What was run", [_table_block(Table("Run", ["item", "value"], rows))])
    per_case = Table(
        "Configuration hash per case",
        ["case", "variant", "config hash"],
        [
            [c["case_id"], c.get("variant") or "", c.get("config_hash", "")]
            for c in sorted(cases, key=lambda c: (str(c["case_id"]), str(c.get("variant") or "")))
        ],
    )
    if per_case.rows:
        section.blocks.append(
            Block("table", tables=[per_case], folded=True, summary=f"{per_case.title} ({len(cases)})")
        )
    return section


def _protocols_text(cases: Iterable[CaseRecord]) -> str:
    """Each named protocol with what it is (and its case count when there are several)."""
    from ..choices import PROTOCOL_SUMMARIES

    counts = Counter(protocol_of(c) for c in cases)
    parts = [f"{name} ({PROTOCOL_SUMMARIES.get(name, 'unknown protocol')})" for name in sorted(counts)]
    if len(counts) > 1:
        parts = [f"{part}: {counts[name]} cases" for part, name in zip(parts, sorted(counts), strict=True)]
    return "; ".join(parts) or "-"


def _environment_rows(cases: Iterable[CaseRecord]) -> list[list[Any]]:
    """Distinct package versions and devices with the number of cases that ran on each."""
    devices: Counter[str] = Counter()
    versions: dict[str, Counter[str]] = defaultdict(Counter)
    for case in cases:
        env = case.get("environment") or {}
        devices[str(env.get("device", "unknown"))] += 1
        for package, version in (env.get("versions") or {}).items():
            versions[str(package)][str(version)] += 1
    rows = [["devices", _counted(devices) if devices else "-"]]
    rows.extend([f"version: {package}", _counted(counts)] for package, counts in sorted(versions.items()))
    return rows


def _counted(counter: Counter[str]) -> str:
    if len(counter) == 1:
        return next(iter(counter))
    return "; ".join(f"{value} ({n} cases)" for value, n in sorted(counter.items()))


def _details(cases: Sequence[CaseRecord], missing: Sequence[str], grid: GridSummary) -> Section:
    section = Section("Details")
    table = win_tie_loss_table(grid)
    if table.rows:
        section.blocks.append(_table_block(table))
    cells = per_cell_tables(cases)
    if cells:
        shown = cells[:MAX_CELL_TABLES]
        folded = len(cells) > FOLD_CELL_TABLES
        summary = f"AULC ranking per embedding × dataset ({len(cells)} tables)"
        section.blocks.append(Block("tables", tables=shown, folded=folded, summary=summary))
        if len(cells) > len(shown):
            section.blocks.append(
                Block(
                    "text",
                    text=f"{len(cells) - len(shown)} more per-cell tables are left "
                    "out here; the --albench-json and --albench-csv files hold every case.",
                )
            )
    status = status_table(cases, missing)
    if status.rows and (missing or any(c.get("baseline") for c in cases)):
        section.blocks.append(
            Block("table", tables=[status], folded=True, summary=f"{status.title} ({len(status.rows)})")
        )
    return section


def _table_block(table: Table) -> Block:
    folded = len(table.rows) > FOLD_ROWS
    return Block("table", tables=[table], folded=folded, summary=f"{table.title} ({len(table.rows)} rows)")


# ------------------------------------------------------------------------------------------ rendering


@dataclass
class ReportOutcome:
    """What :func:`write_report` wrote, and what it could not do (one line each, for a terminal)."""

    pages: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def write_report(
    out_dir: Path,
    cases: Sequence[CaseRecord],
    missing: Sequence[str],
    info: RunInfo,
    *,
    page_formats: Sequence[str] = ("md", "html"),
    plot_formats: Sequence[str] = ("png",),
    alpha: float = 0.05,
    posthoc: str = "wilcoxon-holm",
    order: Sequence[str] | None = None,
    analysis: tuple[GridAnalysis | None, str] | None = None,
    summary: GridSummary | None = None,
) -> ReportOutcome:
    """Statistics, figures (when matplotlib is there) and the page; never fails for want of matplotlib.

    ``analysis`` is :func:`grid_analysis`'s answer when the caller already has it (the plugin prints its
    summary first); otherwise it is computed here with ``alpha`` and ``posthoc``, from ``summary`` when given.
    """
    from .figures import PlotsUnavailableError, draw_figures

    outcome = ReportOutcome()
    grid, note = (
        analysis if analysis is not None else grid_analysis(cases, alpha=alpha, posthoc=posthoc, summary=summary)
    )
    from ..advisor.validate import validate_cases

    validation = validate_cases(cases) if grid is not None else None  # for the table and the figure
    figures: list[Any] = []
    figures_note = ""
    if plot_formats:
        try:
            figures = draw_figures(cases, grid, out_dir / "figures", plot_formats, order, validation)
        except PlotsUnavailableError as exc:
            outcome.warnings.append(str(exc))
            figures_note = f"No figures: {exc}."
    outcome.figures = [p for f in figures for p in f.paths]
    page = build_page(
        cases,
        missing,
        info,
        analysis=grid,
        analysis_note=note,
        figures=figures,
        figures_note=figures_note,
        order=order,
        summary=summary,
        validation=validation,
    )
    outcome.pages = write_page(page, out_dir, page_formats)
    return outcome


def grid_analysis(
    cases: Sequence[CaseRecord],
    *,
    alpha: float = 0.05,
    posthoc: str = "wilcoxon-holm",
    summary: GridSummary | None = None,
) -> tuple[GridAnalysis | None, str]:
    """The grid's statistics, or None and the reason they cannot be computed; ``summary`` is
    :func:`~pytest_albench.analysis.summarize` of ``cases`` when the caller already has it."""
    from ..analysis import analyze
    from ..errors import AlbenchError

    try:
        return analyze(list(cases), alpha=alpha, posthoc=posthoc, summary=summary), ""
    except AlbenchError as exc:
        return None, f"No statistics across datasets: {exc}"


def friedman_summary(analysis: GridAnalysis, order: Sequence[str] | None = None) -> Table:
    """A terminal-sized digest of the rank tests: one row per embedding that could be tested.

    The full Friedman table (all mean ranks, F_ID, notes) is on the report page; this keeps the verdict
    and the top group readable in an 80-column terminal summary. The top group lists its strategies
    in the order of the label's one ranking (post-hoc groups are runs of that order).
    """
    from ..choices import POSTHOC_METHODS
    from .figures import embedding_order

    rows = []
    method = "-"
    for label in embedding_order(list(analysis.per_embedding), order):
        stats = analysis.per_embedding[label]
        f, post = stats.friedman, stats.posthoc
        if f is None:
            continue
        method = post.method if post is not None else method
        top = list(post.groups[0]) if post is not None and post.groups else []
        more = f" +{len(top) - SUMMARY_NAMES} more" if len(top) > SUMMARY_NAMES else ""
        best = " ".join(top[:SUMMARY_NAMES]) + more
        rows.append(
            [
                label,
                f"{f.n_blocks} {stats.blocks}",
                f.n_treatments,
                f"{f.statistic:.2f}",
                f"{f.p_value:.3g}",
                best or "-",
            ]
        )

    note = (
        f"Friedman test on AULC ranks per embedding; top group: strategies the post-hoc test "
        f"({POSTHOC_METHODS.get(method, method)}, α = {analysis.alpha:g}) cannot tell from the best."
    )
    return Table(
        "Friedman test and post-hoc top group per embedding",
        ["embedding", "blocks", "k", "χ²_F", "p", "top group (best first)"],
        rows,
        note=note,
    )
