"""Read the cells of GitHub-Markdown tables back out of rendered text.

Tests compare cells, not padded lines, so that a tabulate release that pads or aligns columns
differently does not fail a test whose content is right.
"""

from __future__ import annotations


def table_rows(markdown: str, title: str) -> list[list[str]]:
    """The stripped cells of each row (header first, separator dropped) of the table under ``### title``.

    Raises ``LookupError`` when there is no such heading or no table under it, so a missing table
    fails the test that asked for it rather than reading as an empty one.
    """
    lines = markdown.splitlines()
    heading = f"### {title}"
    if heading not in lines:
        raise LookupError(f"no heading {heading!r} in the text")
    rows = _table_after(lines, lines.index(heading) + 1)
    if not rows:
        raise LookupError(f"no table under {heading!r}")
    return rows


def _table_after(lines: list[str], start: int) -> list[list[str]]:
    """The first run of ``|``-delimited lines at or after ``start`` (blank lines before it skipped)."""
    position = start
    while position < len(lines) and not lines[position].strip():
        position += 1
    rows: list[list[str]] = []
    while position < len(lines) and lines[position].startswith("|"):
        cells = [cell.strip() for cell in lines[position].strip().strip("|").split("|")]
        if not all(set(cell) <= set(":-") and cell for cell in cells):  # skip the |---|:--| separator
            rows.append(cells)
        position += 1
    return rows


def table_mapping(markdown: str, title: str) -> dict[str, str]:
    """A two-column table under ``### title`` (e.g. item → value) as a dict, header row dropped."""
    header, *body = table_rows(markdown, title)
    if len(header) != 2 or any(len(row) != 2 for row in body):
        raise ValueError(f"table {title!r} does not have two columns: {[header, *body]}")
    return {row[0]: row[1] for row in body}
