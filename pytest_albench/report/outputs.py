"""Machine-readable outputs of a session: JSON with every curve, CSV rows, Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..analysis import GridSummary
from ..record import CaseRecord
from ..storage.atomic import write_json_atomic, write_text_atomic
from ..storage.results_file import results_document
from .tables import render_csv, render_markdown


def write_outputs(settings: Any, cases: Sequence[CaseRecord], missing: Sequence[str],
                  summary: GridSummary | None = None) -> list[str]:
    """Write the requested files atomically; return one line per file for the terminal."""
    lines = []
    if settings.json_path:
        write_json_atomic(settings.json_path, results_document(settings.profile, settings.seeds, cases, missing))
        lines.append(f"albench: results JSON written to {settings.json_path}")
    if settings.csv_path:
        write_text_atomic(settings.csv_path, render_csv(cases))
        lines.append(f"albench: results CSV written to {settings.csv_path}")
    if settings.markdown_path:
        write_text_atomic(settings.markdown_path, render_markdown(cases, missing, summary))
        lines.append(f"albench: Markdown tables written to {settings.markdown_path}")
    return lines
