"""What every figure shares: the optional matplotlib import, the fixed style, file writing, the
embedding column order and one look per strategy.

Why it is built this way:

* matplotlib is an optional extra (``pytest-albench[plots]``); it is imported only inside
  :func:`require_matplotlib` and the drawing functions, so the plugin, the tables and the report work
  without it.
* Figures are ``matplotlib.figure.Figure`` objects on an Agg canvas, never pyplot: nothing opens a
  window, and the backend a user's own tests chose is left alone.
* Every figure is drawn with matplotlib's default style (not the user's matplotlibrc), a fixed SVG
  hash salt and no date or software version in the file metadata, so rebuilding a report from the
  same results gives byte-identical files that diff cleanly in a repository.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...choices import PLOT_FORMATS
from ...embeddings import LADDER
from ...errors import AlbenchError
from ...storage.atomic import write_bytes_atomic

INSTALL_HINT = "pip install 'pytest-albench[plots]'"
#: The reference strategy: drawn black and dashed, first in every legend.
RANDOM = "random"
_SVG_SALT = "pytest-albench"
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
}
_DPI = 110


class PlotsUnavailableError(AlbenchError):
    """matplotlib is not installed, so figures cannot be drawn (tables still can)."""


@dataclass(frozen=True)
class FigureFile:
    """One drawn figure: where it belongs in the report, what it shows, and its written files."""

    section: str
    title: str
    caption: str
    paths: tuple[Path, ...]


def require_matplotlib() -> Any:
    """The matplotlib module, or :class:`PlotsUnavailableError` saying how to install it."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401 - Agg must be usable
    except ImportError:
        raise PlotsUnavailableError(
            f"figures need matplotlib, which is not installed; {INSTALL_HINT} (the tables are written without it)"
        ) from None
    return matplotlib


def formats_for(choice: str) -> tuple[str, ...]:
    """The image files a ``--albench-plot-format`` / ``--plots`` value writes."""
    if choice not in PLOT_FORMATS:
        raise AlbenchError(f"unknown figure format {choice!r}; choose one of {', '.join(PLOT_FORMATS)}")
    return PLOT_FORMATS[choice]


def embedding_order(names: Sequence[str], order: Sequence[str] | None = None) -> list[str]:
    """Given order first, then the embeddings' ladder weakest first, then the rest by name.

    A name may carry a variant (``minilm-l6 [ips=random]``); it sorts by its embedding, then variant.
    """
    preferred = list(order or ()) + [n for n in LADDER if n not in (order or ())]

    def key(name: str) -> tuple[int, str, str]:
        base = name.split(" [", 1)[0]
        rung = preferred.index(base) if base in preferred else len(preferred)
        return rung, base if rung == len(preferred) else "", name

    return sorted(dict.fromkeys(names), key=key)


def slug(text: str) -> str:
    """A portable file-name part for an embedding, dataset or variant label."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


@contextlib.contextmanager
def style() -> Iterator[Any]:
    """matplotlib defaults plus our fixed settings, restored afterwards."""
    mpl = require_matplotlib()
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(
            {
                "svg.hashsalt": _SVG_SALT,
                "svg.fonttype": "path",
                "font.size": 8,
                "axes.titlesize": 8,
                "legend.fontsize": 7,
                "figure.dpi": _DPI,
            }
        )
        yield mpl


def new_figure(width: float, height: float) -> Any:
    """A pyplot-free figure on an Agg canvas, with constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, stem: Path, formats: Sequence[str]) -> tuple[Path, ...]:
    """Render to memory, then write atomically: a crash never leaves half an image behind."""
    paths = []
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=_DPI, metadata=_METADATA[fmt])
        path = stem.with_name(f"{stem.name}.{fmt}")
        write_bytes_atomic(path, buffer.getvalue())
        paths.append(path)
    return tuple(paths)


def strategy_styles(strategies: Sequence[str]) -> dict[str, dict[str, Any]]:
    """One fixed look per strategy across all figures; random is black and dashed (the reference)."""
    import matplotlib

    others = sorted(s for s in set(strategies) if s != RANDOM)
    palette = matplotlib.colormaps["tab10" if len(others) <= 10 else "tab20"]
    styles = {
        s: {"color": palette(i % palette.N), "linestyle": ("-", "-.", ":")[(i // palette.N) % 3], "linewidth": 1.3}
        for i, s in enumerate(others)
    }
    styles[RANDOM] = {"color": "black", "linestyle": "--", "linewidth": 1.8}
    return styles


def legend_line(look: Mapping[str, Any], label: str) -> Any:
    """A legend entry for a line drawn with ``look`` (a :func:`strategy_styles` value)."""
    from matplotlib.lines import Line2D

    return Line2D([], [], label=label, **look)
