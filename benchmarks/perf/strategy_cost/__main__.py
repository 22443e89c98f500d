"""``python -m benchmarks.perf.strategy_cost``: time one query of every strategy (see the package doc)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
