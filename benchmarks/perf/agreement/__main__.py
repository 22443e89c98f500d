"""``python -m benchmarks.perf.agreement``: whole AL runs of ours against scikit-activeml (see the package doc)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
