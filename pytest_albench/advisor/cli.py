"""``albench-advise``: which strategy for this unlabeled pool, and how far to trust the answer.

Three uses, one command:

    albench-advise --data-dir DIR --dataset NAME --embedding ENC [--strategies a,b] [--json]
    albench-advise build RESULTS.json ... --out model.json [--data-dir DIR]
    albench-advise validate RESULTS.json ... [--data-dir DIR] [--markdown FILE]

``build`` fits the model from saved results files (``--albench-json`` output) and writes it atomically;
``validate`` prints the leave-one-dataset-out regret table against "best on average" and "always
random", then each feature's Spearman correlation with each strategy's gain across the cells. Exit
status 0: done; 2: bad usage or an unusable input, with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..choices import DEVICE_PATTERN
from ..errors import AlbenchError, ConfigError

EXIT_OK = 0
EXIT_USAGE = 2
#: The model's training pools had 2,000-3,000 rows (the local suite's caps).
DEFAULT_MAX_POOL = 2000
#: The devices --albench-device accepts, spelled the same here.
_DEVICE = re.compile(DEVICE_PATTERN)


def _device(text: str) -> str:
    """Checked before anything runs: an encoder given a bad device fails while loading, with advice
    about its model folder, and an encoder that needs no device (tfidf-lsa) would accept it silently."""
    device = text.strip().lower()
    if not _DEVICE.match(device):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use auto, cpu, cuda or cuda:N")
    return device


def _advise_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="albench-advise",
        description="Rank AL query strategies for an unlabeled pool from its label-free embedding measures "
        "(subcommands: build, validate; see `albench-advise build --help`).",
    )
    parser.add_argument("--dataset", required=True, help="dataset name (registered, or a folder under --data-dir)")
    parser.add_argument("--embedding", required=True, help="encoder name, optionally with transforms")
    parser.add_argument("--data-dir", help="folder of <dataset>/train.csv datasets")
    parser.add_argument("--strategies", help="comma-separated candidates (default: every strategy the model knows)")
    parser.add_argument("--model", help="advisor model file (default: the one shipped with the package)")
    parser.add_argument(
        "--max-pool",
        type=int,
        default=DEFAULT_MAX_POOL,
        help=f"measure a seeded subsample of this many rows, as the model's training pools had (default "
        f"{DEFAULT_MAX_POOL}; 0: the whole train split)",
    )
    parser.add_argument("--cache-dir", help="embedding cache (default: ALBENCH_CACHE_DIR or ~/.cache)")
    parser.add_argument("--device", type=_device, default="auto", help="device for encoding (auto, cpu, cuda, cuda:N)")
    parser.add_argument("--json", action="store_true", help="print the advice as JSON")
    return parser


def _results_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"albench-advise {command}")
    parser.add_argument("results", nargs="+", metavar="RESULTS.json", help="results files (--albench-json output)")
    parser.add_argument("--data-dir", help="recompute missing label-free measures by rebuilding each cell's pool")
    parser.add_argument("--cache-dir", help="embedding cache for --data-dir")
    if command == "build":
        parser.add_argument("--out", required=True, help="where to write the model (JSON)")
    else:
        parser.add_argument("--markdown", help="also write the tables as Markdown to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["build"]:
            return _build(_results_parser("build").parse_args(args[1:]))
        if args[:1] == ["validate"]:
            return _validate(_results_parser("validate").parse_args(args[1:]))
        return _advise(_advise_parser().parse_args(args))
    except (AlbenchError, OSError, ValueError) as exc:
        print(f"albench-advise: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _advise(args: argparse.Namespace) -> int:
    from .advise import advise

    _check_data_dir(args.data_dir)
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()] if args.strategies else None
    advice = advise(
        args.dataset,
        args.embedding,
        data_dir=args.data_dir,
        strategies=strategies,
        model=args.model,
        max_pool=args.max_pool or None,
        cache_dir=args.cache_dir,
        device=args.device,
    )
    if args.json:
        print(json.dumps(_json_safe(advice.to_json()), indent=1, sort_keys=True))
        return EXIT_OK
    pool = advice.pool
    print(f"{pool['dataset']} × {pool['embedding']}: {pool['rows']} unlabeled rows, {pool['classes']} classes")
    print(f"{'rank':>4}  {'strategy':<18} {'gain over random':>17} {'± error':>8} {'P(beats random)':>16}")
    for rank, strategy in enumerate(advice.ranking, start=1):
        gain, error, p = advice.predicted_gain[strategy], advice.error[strategy], advice.p_beats_random[strategy]
        print(f"{rank:>4}  {strategy:<18} {gain:>+17.4f} {_fmt(error, '8.4f')} {_fmt(p, '16.2f')}")
    print(
        "gain: predicted AULC gain over random; error: the model's RMSE on datasets it did not see "
        f"(leave-one-dataset-out). Model: {advice.model}"
    )
    return EXIT_OK


def _cells(args: argparse.Namespace) -> tuple[list[Any], list[str], list[dict[str, str]]]:
    from ..storage.results_file import load_and_merge
    from .recompute import measure_from_config, source_digests
    from .training import training_cells

    _check_data_dir(args.data_dir)
    merged = load_and_merge(args.results)
    measure = measure_from_config(args.data_dir, args.cache_dir) if args.data_dir else None
    cells, notes = training_cells(merged.cases, measure)
    return cells, notes, source_digests(args.results)


def _build(args: argparse.Namespace) -> int:
    from .model import fit_model
    from .training import FEATURES

    _check_output("--out", args.out, args.results)
    cells, notes, sources = _cells(args)
    model = fit_model(cells, FEATURES)
    model.sources = sources
    _write("--out", args.out, model.save)
    for note in notes:
        print(f"note: {note}")
    errors = ", ".join(f"{s} {e:.4f}" for s, e in sorted(model.errors.items()))
    print(f"wrote {args.out}: {len(model.cells)} cells, {len(model.strategies)} strategies; LODO RMSE: {errors}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from ..storage.atomic import write_text_atomic
    from .report import correlations_markdown, validation_markdown
    from .training import FEATURES
    from .validate import validate

    if args.markdown:
        _check_output("--markdown", args.markdown, args.results)
    cells, notes, _ = _cells(args)
    result = validate(cells, FEATURES)
    text = validation_markdown(result, notes) + "\n" + correlations_markdown(cells, FEATURES)
    print(text, end="")
    if args.markdown:
        _write("--markdown", args.markdown, lambda path: write_text_atomic(path, text))
    return EXIT_OK


def _check_data_dir(data_dir: str | None) -> None:
    """A --data-dir that is not a folder is refused: a registered dataset would otherwise be read from
    the package, and the advice would be for data the user did not mean."""
    if data_dir is not None and not os.path.isdir(data_dir):
        what = "does not exist" if not os.path.exists(data_dir) else "is not a folder"
        raise ConfigError(f"--data-dir {data_dir} {what}; pass the folder that holds <dataset>/train.csv")


def _check_output(flag: str, path: str, inputs: Sequence[str]) -> None:
    """Refuse, before anything is computed or written, an output that would replace an input results
    file (the results would be lost) or that is a folder (the write would fail after the whole fit)."""
    if os.path.realpath(path) in {os.path.realpath(p) for p in inputs}:
        raise ConfigError(f"{flag} {path} is one of the input results files; choose another path")
    if os.path.isdir(path):
        example = os.path.join(path, "model.json" if flag == "--out" else "validation.md")
        raise ConfigError(f"{flag} {path} is a folder; give a file path, e.g. {example}")


def _write(flag: str, path: str, write: Callable[[str], None]) -> None:
    """``write(path)``, with an OSError worded for the user: the raw one names the hidden temp file."""
    try:
        write(path)
    except OSError as exc:
        raise ConfigError(f"cannot write {flag} {path}: {exc.strerror or exc}; choose a writable path") from None


def _fmt(value: float, spec: str) -> str:
    width = int(spec.split(".")[0])
    return f"{'n/a':>{width}}" if not math.isfinite(value) else format(value, spec)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
