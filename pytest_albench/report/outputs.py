"""Machine-readable outputs of a session: JSON with every curve, CSV rows, Markdown tables."""

from __future__ import annotations

from typing import Any

from ..storage.atomic import write_json_atomic, write_text_atomic
from .tables import render_csv, render_markdown

RESULTS_FORMAT_VERSION = 1


def results_document(settings: Any, cases: list[dict[str, Any]], missing: list[str]) -> dict[str, Any]:
    return {
        "format_version": RESULTS_FORMAT_VERSION,
        "profile": settings.profile,
        "seeds": list(settings.seeds),
        "cases": sorted(cases, key=lambda c: c["nodeid"]),
        "missing": sorted(missing),
    }


def write_outputs(settings: Any, cases: list[dict[str, Any]], missing: list[str]) -> list[str]:
    """Write the requested files atomically; return one line per file for the terminal."""
    lines = []
    if settings.json_path:
        write_json_atomic(settings.json_path, results_document(settings, cases, missing))
        lines.append(f"albench: results JSON written to {settings.json_path}")
    if settings.csv_path:
        write_text_atomic(settings.csv_path, render_csv(cases))
        lines.append(f"albench: results CSV written to {settings.csv_path}")
    if settings.markdown_path:
        write_text_atomic(settings.markdown_path, render_markdown(cases, missing))
        lines.append(f"albench: Markdown tables written to {settings.markdown_path}")
    return lines
