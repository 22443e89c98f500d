"""``python -m benchmarks.perf.peers``: our strategies against scikit-activeml and small-text (see the package doc)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
