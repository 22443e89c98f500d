"""``albench-report``: rebuild the report (tables, statistics, figures) from saved results files.

Why a separate command: a grid can take hours, its ``--albench-json`` file takes seconds to read, and
the questions asked of it change (another post-hoc test, a comparison with last month's run). This
reads one or more results files, merges them (``--label`` keeps runs apart), and writes the same
page the plugin writes at session end. Exit status 0: written; 2: bad usage or an unusable input
file, with one line on stderr saying what and where (no traceback).

``--merge DIR ...`` joins the results files of ``--albench-shard K/N`` sessions (docs/scale-out.md):
it checks that they are shards 0..N-1 of one grid, all finished (exit 2 naming the missing or
incomplete shard otherwise), applies the session-wide regression gate over all their cases, prints
the rank tables and writes ``--json``/``--markdown``/``--csv`` and the page (``--out``) as one
session over the same cases would. Exit status 1: a case regressed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..choices import (
    DEFAULT_PAGE_FORMAT,
    DEFAULT_PLOT_FORMAT,
    DEFAULT_POSTHOC,
    NO_PLOTS,
    PAGE_FORMATS,
    PLOT_FORMATS,
    POSTHOC_METHODS,
)
from ..errors import AlbenchError

POSTHOC_CHOICES = tuple(POSTHOC_METHODS)
EXIT_OK = 0
EXIT_REGRESSED = 1
EXIT_USAGE = 2


def build_parser(prog: str = "albench-report") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Rebuild the pytest-albench report (Markdown/HTML tables, statistics and figures) "
        "from results files written with --albench-json, without rerunning anything.",
    )
    parser.add_argument("results", nargs="*", metavar="RESULTS.json", help="results files to read and merge")
    parser.add_argument(
        "--out", metavar="DIR", help="folder for report.md / report.html and figures/ (required, except with --merge)"
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        default=[],
        metavar="DIR",
        help="merge the results files of --albench-shard sessions (folders of them, or the files): "
        "check that every shard 0..N-1 of one grid is there and finished, gate, print the tables",
    )
    parser.add_argument("--json", metavar="PATH", help="with --merge: write the merged results file here")
    parser.add_argument("--markdown", metavar="PATH", help="with --merge: write the rank tables as Markdown here")
    parser.add_argument("--csv", metavar="PATH", help="with --merge: write one row per (case, seed) here")
    parser.add_argument(
        "--format",
        choices=tuple(PAGE_FORMATS),
        default=DEFAULT_PAGE_FORMAT,
        help=f"page format: md (GitHub Markdown), html, or both [default: {DEFAULT_PAGE_FORMAT}]",
    )
    parser.add_argument(
        "--plots",
        choices=(*PLOT_FORMATS, NO_PLOTS),
        default=DEFAULT_PLOT_FORMAT,
        help=f"figure files: {', '.join(PLOT_FORMATS)}, or {NO_PLOTS} (tables only) [default: {DEFAULT_PLOT_FORMAT}]",
    )
    parser.add_argument("--alpha", type=_alpha, default=0.05, help="significance level of the tests [default: 0.05]")
    parser.add_argument(
        "--posthoc",
        choices=POSTHOC_CHOICES,
        default=DEFAULT_POSTHOC,
        help="post-hoc test after Friedman: "
        + "; ".join(f"{name}: {text}" for name, text in POSTHOC_METHODS.items())
        + f" [default: {DEFAULT_POSTHOC}]",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="give FILE the run label NAME (added to each case's variant as run=NAME), so the "
        "same cases from several runs are compared side by side; repeatable",
    )
    parser.add_argument(
        "--order",
        default=None,
        metavar="EMB1,EMB2,...",
        help="embedding order of the figures [default: the suites' ladder, weakest first]",
    )
    return parser


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{value} must lie strictly between 0 and 1")
    return value


def main(argv: Sequence[str] | None = None, prog: str = "albench-report") -> int:
    parser = build_parser(prog)
    args = parser.parse_args(argv)  # exits 2 with a usage message on stderr on bad usage
    if args.merge and (args.results or args.label):
        parser.error("--merge takes the shards' folders or files itself; give no other results files or --label")
    if not args.merge and not args.out:
        parser.error("the following arguments are required: --out")
    if not args.merge and (args.json or args.markdown or args.csv):
        parser.error("--json, --markdown and --csv go with --merge")
    try:
        return _run_merge(args) if args.merge else _run(args)
    except AlbenchError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. an --out folder that cannot be created or written
        print(f"{prog}: error: cannot write the report: {exc}; choose a writable --out folder", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from ..storage.results_file import load_and_merge

    merged = load_and_merge(args.results, args.label)
    for note in (note for f in merged.files for note in f.notes):
        print(f"albench-report: note: {note}", file=sys.stderr)
    if not merged.cases:
        raise AlbenchError(
            f"{', '.join(f.path for f in merged.files)} hold(s) no cases: nothing to report. Was the "
            "session run with albench cases selected (check -k and the skip reasons)?"
        )
    _write_page(args, merged, tuple(f"{f.path} (run={f.label})" if f.label else f.path for f in merged.files))
    return EXIT_OK


def _run_merge(args: argparse.Namespace) -> int:
    """``--merge``: the shards' cases as one session's: checked, gated, tabulated, written."""
    from ..analysis import summarize
    from ..analysis.gate import gate_lines
    from ..analysis.merge import merge_shards, merged_gate
    from ..storage.atomic import write_json_atomic, write_text_atomic
    from ..storage.results_file import results_document
    from .page import friedman_summary, grid_analysis
    from .tables import render_csv, render_markdown, render_text

    _check_merge_outputs(args)
    shards = merge_shards(args.merge)
    merged = shards.merged
    gate = merged_gate(merged.cases)  # updates the verdicts in place, as the session's gate does
    summary = summarize(merged.cases) if merged.cases else None
    print(
        f"albench-report: merged {shards.count} shard(s) of grid {shards.grid[:12]}: {len(merged.cases)} case(s)"
        + (f", {len(merged.missing)} without a result" if merged.missing else "")
    )
    print(render_text(merged.cases, merged.missing, summary))
    if merged.cases:
        analysis, _note = grid_analysis(merged.cases, alpha=args.alpha, posthoc=args.posthoc, summary=summary)
        digest = friedman_summary(analysis) if analysis is not None else None
        if digest is not None and digest.rows:
            print("\n" + digest.render("simple"))
    for line in gate_lines(gate) if gate is not None else []:
        print(line)
    profile = "+".join(merged.profiles) or "?"  # one profile when the shards ran one command
    if args.json:
        write_json_atomic(args.json, results_document(profile, merged.seeds, merged.cases, merged.missing))
    if args.markdown:
        write_text_atomic(args.markdown, render_markdown(merged.cases, merged.missing, summary))
    if args.csv:
        write_text_atomic(args.csv, render_csv(merged.cases))
    for path in (args.json, args.markdown, args.csv):
        if path:
            print(f"albench-report: wrote {path}")
    if args.out:
        _write_page(args, merged)
    return EXIT_REGRESSED if gate is not None and gate.regressed else EXIT_OK


def _check_merge_outputs(args: argparse.Namespace) -> None:
    """Refuse, before anything is written, a ``--json``/``--markdown``/``--csv`` path that is one of the
    shards' files (that shard's record would be lost, and the grid could not be merged again without
    rerunning it) or that lies in a merged folder with a results file's suffix (every later merge of that
    folder would read it as a shard and fail). The ``--out`` page is safe anywhere: none of its files
    has such a suffix."""
    from ..analysis.merge import SHARD_SUFFIXES, shard_files
    from ..storage.atomic import shared_output

    inputs = {os.path.realpath(path) for path in shard_files(args.merge)}
    # the folders given, and those of the files given: a later merge of that folder would read it too
    folders = {os.path.realpath(path) for path in args.merge if os.path.isdir(path)}
    folders |= {os.path.dirname(path) for path in inputs}
    outputs = [
        (flag, path)
        for flag, path in (("--json", args.json), ("--markdown", args.markdown), ("--csv", args.csv))
        if path
    ]
    for flag, path in outputs:
        real = os.path.realpath(path)
        if real in inputs:
            raise AlbenchError(f"{flag} {path} is one of the shard files being merged; choose another path")
        if os.path.dirname(real) in folders and real.endswith(SHARD_SUFFIXES):
            raise AlbenchError(
                f"{flag} {path} is in a folder of the shards being merged, where later merges would read it as a "
                "shard; write it outside that folder"
            )
    clash = shared_output(outputs)
    if clash is not None:
        raise AlbenchError(clash)


def _write_page(args: argparse.Namespace, merged: Any, sources: tuple[str, ...] | None = None) -> None:
    """The report page (and figures) of the merged cases into ``--out``; ``sources`` name the input files."""
    from .figures import formats_for
    from .page import RunInfo, write_report

    sources = sources if sources is not None else tuple(f.path for f in merged.files)
    info = RunInfo(sources=sources, profiles=tuple(merged.profiles), seeds=tuple(merged.seeds))
    order = [name.strip() for name in args.order.split(",") if name.strip()] if args.order else None
    outcome = write_report(
        Path(args.out),
        merged.cases,
        merged.missing,
        info,
        page_formats=PAGE_FORMATS[args.format],
        plot_formats=() if args.plots == NO_PLOTS else formats_for(args.plots),
        alpha=args.alpha,
        posthoc=args.posthoc,
        order=order,
    )
    for message in outcome.warnings:
        print(f"albench-report: warning: {message}", file=sys.stderr)
    for path in outcome.pages:
        print(f"albench-report: wrote {path}")
    if outcome.figures:
        print(f"albench-report: wrote {len(outcome.figures)} figure file(s) under {Path(args.out) / 'figures'}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
