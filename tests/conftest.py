"""Shared fixtures: the offline data directory and one embedding cache for the whole test session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy  # noqa: F401
import pytest

# numpy is imported here, before any in-process pytester run: the plugin no longer imports it, and a
# first import inside such a run would be undone by pytester's sys.modules snapshot and then fail
# ("cannot load module more than once per process") when the next run imports it again.

# Tests never wait on the Hugging Face Hub (the benchmarks leave that decision to the user).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

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
