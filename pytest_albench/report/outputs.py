"""Machine-readable outputs of a session: JSON with every curve, CSV rows, Markdown tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..analysis import GridSummary
from ..errors import AlbenchError
from ..record import CaseRecord
from ..storage.atomic import write_json_atomic, write_text_atomic
from ..storage.results_file import results_document
from .tables import render_csv, render_markdown

#: The name of the results JSON among the outputs (see ``written`` of :func:`write_outputs`).
RESULTS_JSON = "results JSON"


def write_outputs(
    settings: Any,
    cases: Sequence[CaseRecord],
    missing: Sequence[str],
    summary: GridSummary | None = None,
    written: set[str] | None = None,
) -> list[str]:
    """Write the requested files atomically; return one line per file for the terminal.

    ``written``, when given, receives the name of every output that was written (``RESULTS_JSON``, ...),
    so a caller can tell a written file from an older one left at the same path.

    Each file is written on its own: an unwritable ``--albench-json`` path is a warning line that
    names the path and the fix, and the CSV and Markdown files after it are still written. Atomic
    writes leave an existing file at that path untouched when the new one cannot be written.
    """
    outputs: list[tuple[str, str | None, Callable[[], None]]] = [
        (
            RESULTS_JSON,
            settings.json_path,
            lambda: write_json_atomic(
                settings.json_path,
                results_document(
                    settings.profile, settings.seeds, cases, missing, shard=getattr(settings, "shard_record", None)
                ),
            ),
        ),
        ("results CSV", settings.csv_path, lambda: write_text_atomic(settings.csv_path, render_csv(cases))),
        (
            "Markdown tables",
            settings.markdown_path,
            lambda: write_text_atomic(settings.markdown_path, render_markdown(cases, missing, summary)),
        ),
    ]
    lines = []
    for what, path, write in outputs:
        if not path:
            continue
        try:
            write()
        except (OSError, ValueError, AlbenchError) as exc:
            lines.append(
                f"albench: WARNING: the {what} could not be written to {path} ({type(exc).__name__}: "
                f"{exc}); the other outputs are not affected. Pass a writable path to write it next time"
            )
            continue
        lines.append(f"albench: {what} written to {path}")
        if written is not None:
            written.add(what)
    return lines
