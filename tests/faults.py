"""Faults injected for real, shared by the reliability tests: a folder made read-only.

A helper module with public names, so test modules import it rather than each other.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only for real: a read-only bind mount as root (who ignores permissions),
    file modes otherwise. Skips when neither is possible here."""
    if os.geteuid() == 0:
        ok = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
        if not ok:
            pytest.skip("a read-only mount needs mount(8) and CAP_SYS_ADMIN, not available here")
        try:
            if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode:
                pytest.skip("cannot remount read-only here")
            yield
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True, check=False)
        return
    folders = [folder, *(p for p in folder.rglob("*") if p.is_dir())]
    for f in folders:
        f.chmod(0o555)
    try:
        yield
    finally:
        for f in folders:
            f.chmod(0o755)
