"""The report page rendered: Markdown for a repository or ``$GITHUB_STEP_SUMMARY``, HTML for a browser.

Both renderers walk the same :class:`~pytest_albench.report.page.Page` (built once in
:mod:`.page`), so the two files show the same tables in the same order; figures are linked by paths
relative to the page, so the folder can be moved as a whole.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..storage.atomic import write_text_atomic
from .tables import Table

if TYPE_CHECKING:
    from .page import Block, Page


def _relative(path: Path, out_dir: Path) -> str:
    return Path(os.path.relpath(path, out_dir)).as_posix()


def _image_and_others(figure: Any, out_dir: Path) -> tuple[str, list[str]]:
    """The file to show (PNG when there is one) and the other formats to link."""
    paths = sorted(figure.paths, key=lambda p: (p.suffix != ".png", p.suffix))
    links = [_relative(p, out_dir) for p in paths]
    return links[0], links[1:]


def render_markdown(page: Page, out_dir: Path) -> str:
    parts = [f"# {page.title}"]
    for section in page.sections:
        parts.append(f"## {section.title}")
        for block in section.blocks:
            parts.append(_markdown_block(block, out_dir))
    return "\n\n".join(parts) + "\n"


def _markdown_block(block: Block, out_dir: Path) -> str:
    if block.kind == "text":
        return block.text
    if block.kind == "figure":
        figure = block.figure
        shown, others = _image_and_others(figure, out_dir)
        extra = "".join(f" ([{Path(o).suffix[1:].upper()}]({o}))" for o in others)
        alt = figure.title.replace("[", "\\[").replace("]", "\\]")
        return f"### {figure.title}\n\n![{alt}]({shown})\n\n_{figure.caption}_{extra}"
    body = "\n\n".join(t.render("github") for t in block.tables)
    if not block.folded:
        return body
    return f"<details><summary>{html.escape(block.summary)}</summary>\n\n{body}\n\n</details>"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .note { color: #555; font-size: 0.9em; }
details { margin: 0.5em 0 1em; }
summary { cursor: pointer; font-weight: 600; }
""".strip()


def render_html(page: Page, out_dir: Path) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(page.title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(page.title)}</h1>",
    ]
    for section in page.sections:
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts.extend(_html_block(block, out_dir) for block in section.blocks)
    parts.extend(["</body>", "</html>"])
    return "\n".join(parts) + "\n"


def _html_block(block: Block, out_dir: Path) -> str:
    esc = html.escape
    if block.kind == "text":
        return f'<p class="note">{esc(block.text)}</p>'
    if block.kind == "figure":
        figure = block.figure
        shown, others = _image_and_others(figure, out_dir)
        links = "".join(f' (<a href="{esc(o)}">{esc(Path(o).suffix[1:].upper())}</a>)' for o in others)
        return (
            f"<h3>{esc(figure.title)}</h3>\n<figure>\n"
            f'<img src="{esc(shown)}" alt="{esc(figure.title)}" loading="lazy">\n'
            f"<figcaption>{esc(figure.caption)}{links}</figcaption>\n</figure>"
        )
    body = "\n".join(_html_table(t) for t in block.tables)
    if not block.folded:
        return body
    return f"<details>\n<summary>{esc(block.summary)}</summary>\n{body}\n</details>"


def _html_table(table: Table) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(str(h))}</th>" for h in table.headers)
    rows = "\n".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in table.rows)
    note = f'\n<p class="note">{esc(table.note)}</p>' if table.note else ""
    body = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    return f"<h3>{esc(table.title)}</h3>\n{body}{note}"


def write_page(page: Page, out_dir: Path, formats: Sequence[str]) -> list[Path]:
    """Write ``report.md`` and/or ``report.html`` atomically; returns the written paths."""
    written = []
    for fmt in formats:
        path = out_dir / f"report.{fmt}"
        text = render_markdown(page, out_dir) if fmt == "md" else render_html(page, out_dir)
        write_text_atomic(path, text)
        written.append(path)
    return written


# ------------------------------------------------------------------------------------ the whole report
