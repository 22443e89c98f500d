"""The README's registration examples run as written, so the docs cannot drift from the API."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block_containing(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    matching = [b for b in blocks if marker in b]
    assert matching, f"README has no python example containing {marker!r}"
    return matching[0]


def load_my_rows() -> SimpleNamespace:
    """Stands in for the user's own loader in the README's dataset example."""
    from pytest_albench.data import load_dataset

    bbc = load_dataset("bbc_news")
    return SimpleNamespace(
        train_texts=bbc.train.texts[::4],
        train_labels=[bbc.class_names[i] for i in bbc.train.labels[::4]],
        test_texts=bbc.test.texts[::4],
        test_labels=[bbc.class_names[i] for i in bbc.test.labels[::4]],
    )


@pytest.fixture
def registered():
    from pytest_albench.data import _DATASETS as DATASETS
    from pytest_albench.embeddings._spec import ENCODERS
    from pytest_albench.strategies.base import STRATEGIES

    namespace = {"load_my_rows": load_my_rows}
    for marker in ("register_strategy(", "register_dataset(", "register_embedding("):
        exec(python_block_containing(marker), namespace)  # noqa: S102 - our own README
    yield
    STRATEGIES.remove("smallest_margin_half")
    DATASETS.remove("tickets")
    ENCODERS.remove("char-counts")


def test_registration_examples_make_new_parameter_values(registered, tmp_path: Path) -> None:
    from pytest_albench import ALConfig, EngineSettings, run_experiment

    settings = EngineSettings(cache_dir=str(tmp_path), device="cpu", progress=False)
    config = ALConfig(dataset="tickets", embedding="char-counts", strategy="smallest_margin_half", cycles=3)
    result = run_experiment(config, seed=0, settings=settings)
    assert [c.n_labeled for c in result.cycles] == [10, 20, 30, 40]
    assert result.data["dim"] == 5 and np.isfinite(result.aulc)
