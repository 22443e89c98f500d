"""Dial suite: one good encoder degraded in controlled steps, the dataset held fixed.

Comparing encoders mixes "a better encoder" with everything else two models differ in; here the texts,
the model and the pool stay the same and only one property of the embedding moves:

* the **noise dial**: ``minilm-l6`` plus isotropic Gaussian noise at noise-to-signal power ratios
  0 (the encoder itself), 0.25, 1, 4 and 16, rows re-normalised afterwards so that only the
  signal-to-noise ratio changes, not the rows' scale (which the study protocol's C = 1 head would feel);
* the **dimension dial**: ``minilm-l6`` projected on its pool's top 64, 16, 4 and 2 principal axes.

Each setting is an embedding name (``minilm-l6|noise:1|normalize``, see
``pytest_albench.embeddings.parse_embedding_name``), fitted on the pool only and cached like an encoder.
The suite runs when ``--albench-data-dir`` is given (it is not part of the main job): the packaged
``bbc_news`` and three of the local datasets at the local suite's caps, each skipped when the folder
lacks it; every case runs the study protocol, 10 cycles. ``albench-report`` of the results gives the
dial section (gain over random and rank along each dial, per dataset).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from suite_config import STRATEGIES
from test_local import LOCAL_DATASETS

#: The encoder the dials degrade: the best offline encoder that every clone has.
DIAL_ENCODER = "minilm-l6"
NOISE_RATIOS = (0.25, 1, 4, 16)
PCA_DIMENSIONS = (64, 16, 4, 2)
NOISE_DIAL = [DIAL_ENCODER] + [f"{DIAL_ENCODER}|noise:{r}|normalize" for r in NOISE_RATIOS]
DIMENSION_DIAL = [f"{DIAL_ENCODER}|pca:{k}" for k in PCA_DIMENSIONS]
#: Local datasets of the dial (with the local suite's caps), beside the packaged bbc_news.
DIAL_DATASETS = ("trec6", "ag_news", "emotion")
PACKAGED = {"bbc_news": {"max_pool": 2000, "max_test": 1000, "initial_pool_size": 10, "query_size": 10}}

pytestmark = [  # opt-in with a data directory: 99 bbc_news cases would more than double the main job
    pytest.mark.albench_requires(encoder=DIAL_ENCODER, data_dir=True, label="dial-suite"),
    pytest.mark.albench(protocol="study", cycles=10),
]


def _dataset_params() -> list[str]:
    return [*PACKAGED, *DIAL_DATASETS]


@pytest.fixture
def dial_settings(request: pytest.FixtureRequest) -> dict[str, int]:
    from pytest_albench.plugin.hooks import SETTINGS_KEY

    dataset = request.node.callspec.params["dataset"]
    if dataset in PACKAGED:
        return PACKAGED[dataset]
    data_dir = request.config.stash[SETTINGS_KEY].data_dir
    if not data_dir or not (Path(data_dir) / dataset).is_dir():
        pytest.skip(f"dial suite: {dataset} needs --albench-data-dir DIR holding {dataset}/")
    return LOCAL_DATASETS[dataset]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("embedding", NOISE_DIAL + DIMENSION_DIAL)
@pytest.mark.parametrize("dataset", _dataset_params())
def test_dial(albench, dial_settings: dict[str, int], dataset: str, embedding: str, strategy: str) -> None:
    albench(dataset, embedding, strategy, **dial_settings)
