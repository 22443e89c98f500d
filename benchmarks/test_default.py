"""Default suite: BBC News (packaged) × the embedding ladder × every strategy × IPS random/typiclust.

Runs offline on a fresh install; ``pytest benchmarks -n 8`` is the README's main job.
"""

from __future__ import annotations

import pytest
from suite_config import STRATEGIES, ladder_params


@pytest.mark.parametrize("initial_pool_method", ["random", "typiclust"], ids=lambda m: f"ips_{m}")
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("embedding", ladder_params())
@pytest.mark.parametrize("dataset", ["bbc_news"])
def test_bbc(albench, dataset: str, embedding: str, strategy: str, initial_pool_method: str) -> None:
    albench(dataset, embedding, strategy, initial_pool_method=initial_pool_method, initial_pool_size=10, query_size=10)
