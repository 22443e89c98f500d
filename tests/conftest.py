"""Shared fixtures: the offline data directory and one embedding cache for the whole test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: ../shared/data beside the checkout; a user's fresh clone has none, and tests needing it skip.
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "trec6").is_dir():
        pytest.skip(f"needs the offline datasets at {SHARED_DATA} (only present beside the project checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def albench_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache per test session (and its pytester subprocesses, via the env var)."""
    existing = os.environ.get("ALBENCH_TEST_CACHE_DIR")
    path = Path(existing) if existing else tmp_path_factory.mktemp("albench-cache")
    os.environ["ALBENCH_CACHE_DIR"] = str(path)
    return path
