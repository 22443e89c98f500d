"""``python -m pytest_albench report ...``: the ``albench-report`` command without its console script
(useful where the package is on the path but not installed, e.g. a CI checkout)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = {"report": "rebuild the report from saved results files (same as albench-report)"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        usage = "\n".join(f"  {name:8} {text}" for name, text in COMMANDS.items())
        given = f"unknown command {args[0]!r}; " if args and args[0] not in ("-h", "--help") else ""
        print(f"usage: python -m pytest_albench COMMAND ...\n{given}commands:\n{usage}", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    from .report.cli import main as report_main

    return report_main(args[1:], prog="python -m pytest_albench report")


if __name__ == "__main__":
    sys.exit(main())
