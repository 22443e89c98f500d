"""The small real grid that plugin tests run in a pytester subprocess, shared by several test modules.

It lives here, with public names, so test modules import a helper module rather than each other's
private names (a test module is not an API: renaming a test helper there must not break another file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

#: A conftest with two strategies: ``mine`` (margin, reversed under ALBENCH_TEST_WORSEN) and ``crashes``.
CONFTEST = '''
import os
import numpy as np
import pytest
from pytest_albench import register_strategy

@register_strategy("mine", needs=("proba",))
def mine(inputs, batch_size, rng):
    """margin, or its opposite when ALBENCH_TEST_WORSEN is set (a deliberately broken strategy)."""
    p = inputs.proba.sort(dim=1, descending=True).values
    margin = (p[:, 0] - p[:, 1]).cpu().numpy()
    unlabeled = np.flatnonzero(~inputs.labeled.cpu().numpy())
    order = np.argsort(margin[unlabeled], kind="stable")
    if os.environ.get("ALBENCH_TEST_WORSEN"):
        order = order[::-1]
    return unlabeled[order[:batch_size]]

@register_strategy("crashes", needs=("proba",))
def crashes(inputs, batch_size, rng):
    os._exit(3)
'''

#: A small but real grid: BBC News (packaged) on TF-IDF+LSA, 300-point pool, 3 cycles, 3 seeds.
TEST_FILE = """
import pytest
from pytest_albench import cases

SMALL = dict(max_pool=300, max_test=300, cycles=3, initial_pool_size=10, query_size=10)

GRID = cases(["bbc_news"], ["tfidf-lsa"], ["random", "mine", "entropy"])

@pytest.mark.parametrize("dataset,embedding,strategy", GRID)
def test_al(albench, dataset, embedding, strategy):
    albench(dataset, embedding, strategy, **SMALL)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess (the plugin's session state must not leak), without cache or random order."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", *args)


def load_json(path: Path) -> dict[str, Any]:
    """A JSON results file written by ``--albench-json``."""
    document: dict[str, Any] = json.loads(path.read_text())
    return document
