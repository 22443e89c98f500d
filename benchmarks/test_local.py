"""Local suite: the offline datasets of a data directory × the embedding ladder × every strategy.

Selected by ``--albench-data-dir`` (or ``ALBENCH_DATA_DIR`` / the ``albench_data_dir`` ini key);
without one, its cases are deselected with one line that says so (named by node id, they are skipped
with it), and a dataset missing from the folder skips its cases. Large pools are subsampled (stratified, with
the fixed ``subsample_seed``, shared by all seeds) so that embedding and AL stay affordable on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from suite_config import STRATEGIES, ladder_params

#: Per dataset: pool/test caps, and k0 / query size scaled to the number of classes.
LOCAL_DATASETS: dict[str, dict[str, int]] = {
    "ag_news": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 10, "query_size": 10},
    "trec6": {"max_pool": 2000, "max_test": 500, "initial_pool_size": 10, "query_size": 10},
    "banking77": {"max_pool": 3000, "max_test": 1000, "initial_pool_size": 77, "query_size": 40},
    "sst2": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 10, "query_size": 10},
    "emotion": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 12, "query_size": 12},
    "clinc150": {"max_pool": 3000, "max_test": 1000, "initial_pool_size": 151, "query_size": 50},
    "20newsgroups": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 20, "query_size": 20},
    "mr": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 10, "query_size": 10},
    "subj": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 10, "query_size": 10},
    "imdb": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 10, "query_size": 10},
}

pytestmark = pytest.mark.albench_requires(data_dir=True, label="local-suite")


@pytest.fixture
def local_data_dir(request: pytest.FixtureRequest) -> Path:
    from pytest_albench.plugin.hooks import SETTINGS_KEY

    data_dir = request.config.stash[SETTINGS_KEY].data_dir
    if not data_dir:
        pytest.skip("local suite: pass --albench-data-dir DIR (or set ALBENCH_DATA_DIR) to a folder of datasets")
    dataset = request.node.callspec.params["dataset"]
    if not (Path(data_dir) / dataset).is_dir():
        pytest.skip(f"local suite: {Path(data_dir) / dataset} does not exist")
    return Path(data_dir)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("embedding", ladder_params())
@pytest.mark.parametrize("dataset", list(LOCAL_DATASETS))
def test_local(albench, local_data_dir: Path, dataset: str, embedding: str, strategy: str) -> None:
    albench(dataset, embedding, strategy, **LOCAL_DATASETS[dataset])


#: Strategies also run from a TypiClust and a CoreSet initial pool: the study's headline IPS effects
#: are the early-cycle gain of TypiClust IPS over a random initial pool (more so with better
#: embeddings) and CoreSet IPS doing worse than random, which these cases measure against the
#: random-IPS cases of ``test_local`` (same seeds, same pools, same caps), for a cheap uncertainty
#: strategy (margin), the robust one (BADGE) and random.
IPS_STRATEGIES = ["random", "margin", "badge"]
IPS_METHODS = ["typiclust", "coreset"]


@pytest.mark.parametrize("initial_pool_method", IPS_METHODS, ids=lambda m: f"ips_{m}")
@pytest.mark.parametrize("strategy", IPS_STRATEGIES)
@pytest.mark.parametrize("embedding", ladder_params())
@pytest.mark.parametrize("dataset", list(LOCAL_DATASETS))
def test_local_ips(
    albench, local_data_dir: Path, dataset: str, embedding: str, strategy: str, initial_pool_method: str
) -> None:
    albench(dataset, embedding, strategy, initial_pool_method=initial_pool_method, **LOCAL_DATASETS[dataset])
