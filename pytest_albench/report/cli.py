"""``albench-report``: rebuild the report (tables, statistics, figures) from saved results files.

Why a separate command: a grid can take hours, its ``--albench-json`` file takes seconds to read, and
the questions asked of it change (another post-hoc test, a comparison with last month's run). This
reads one or more results files, merges them (``--label`` keeps runs apart), and writes the same
page the plugin writes at session end. Exit status 0: written; 2: bad usage or an unusable input
file, with one line on stderr saying what and where (no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

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
EXIT_USAGE = 2


def build_parser(prog: str = "albench-report") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Rebuild the pytest-albench report (Markdown/HTML tables, statistics and figures) "
                    "from results files written with --albench-json, without rerunning anything.",
    )
    parser.add_argument("results", nargs="*", metavar="RESULTS.json", help="results files to read and merge")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for report.md / report.html and figures/")
    parser.add_argument("--format", choices=tuple(PAGE_FORMATS), default=DEFAULT_PAGE_FORMAT,
                        help="page format: md (GitHub Markdown), html, or both "
                             f"[default: {DEFAULT_PAGE_FORMAT}]")
    parser.add_argument("--plots", choices=(*PLOT_FORMATS, NO_PLOTS), default=DEFAULT_PLOT_FORMAT,
                        help=f"figure files: {', '.join(PLOT_FORMATS)}, or {NO_PLOTS} (tables only) "
                             f"[default: {DEFAULT_PLOT_FORMAT}]")
    parser.add_argument("--alpha", type=_alpha, default=0.05, help="significance level of the tests [default: 0.05]")
    parser.add_argument("--posthoc", choices=POSTHOC_CHOICES, default=DEFAULT_POSTHOC,
                        help="post-hoc test after Friedman: "
                             + "; ".join(f"{name}: {text}" for name, text in POSTHOC_METHODS.items())
                             + f" [default: {DEFAULT_POSTHOC}]")
    parser.add_argument("--label", action="append", default=[], metavar="NAME=FILE",
                        help="give FILE the run label NAME (added to each case's variant as run=NAME), so the "
                             "same cases from several runs are compared side by side; repeatable")
    parser.add_argument("--order", default=None, metavar="EMB1,EMB2,...",
                        help="embedding order of the figures [default: the suites' ladder, weakest first]")
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
    try:
        return _run(args)
    except AlbenchError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. an --out folder that cannot be created or written
        print(f"{prog}: error: cannot write the report: {exc}; choose a writable --out folder", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace) -> int:
    from ..storage.results_file import load_and_merge
    from .figures import formats_for
    from .page import RunInfo, write_report

    merged = load_and_merge(args.results, args.label)
    sources = tuple(f"{f.path} (run={f.label})" if f.label else f.path for f in merged.files)
    info = RunInfo(sources=sources, profiles=tuple(merged.profiles), seeds=tuple(merged.seeds))
    order = [name.strip() for name in args.order.split(",") if name.strip()] if args.order else None
    outcome = write_report(
        Path(args.out), merged.cases, merged.missing, info,
        page_formats=PAGE_FORMATS[args.format],
        plot_formats=() if args.plots == NO_PLOTS else formats_for(args.plots),
        alpha=args.alpha, posthoc=args.posthoc, order=order,
    )
    for message in outcome.warnings:
        print(f"albench-report: warning: {message}", file=sys.stderr)
    for path in outcome.pages:
        print(f"albench-report: wrote {path}")
    if outcome.figures:
        print(f"albench-report: wrote {len(outcome.figures)} figure file(s) under {Path(args.out) / 'figures'}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
