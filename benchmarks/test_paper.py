"""Paper suite: the grid of "No Free Lunch in Active Learning" (arXiv 2506.01992).

Its datasets by hub id × its MTEB encoders and baselines × its strategies × its IPS methods. It needs
the Hugging Face Hub, ``pytest-albench[hub]``, ``--albench-trust-remote-code`` for the encoders that
ship custom code, and a GPU; elsewhere its cases are deselected with one line that says what is
missing (named by node id, ``benchmarks/test_paper.py::test_paper``, they are skipped with it). Collection
always works, so a renamed strategy or dataset breaks this file's tests here, not only on a GPU machine.
"""

from __future__ import annotations

import pytest

from pytest_albench.data import HUB_DATASETS
from pytest_albench.data._hub import check_pinned as check_dataset_pinned
from pytest_albench.embeddings._spec import check_pinned as check_encoder_pinned

PAPER_DATASETS = [
    "ag_news",
    "banking77",
    "dbpedia_14",
    "trec",
    "glue/sst2",
    "yelp_review_full",
    "nid989/FNC-1",
    "wikitalk",
    "glue/mnli",
    "glue/qnli",
]
PAPER_EMBEDDINGS = [
    "nvidia/NV-Embed-v2",
    "Alibaba-NLP/gte-Qwen2-7B-instruct",
    "dunzhang/stella_en_1.5B_v5",
    "Salesforce/SFR-Embedding-2_R",
    "Linq-AI-Research/Linq-Embed-Mistral",
    "bert-base-uncased",
    "mpnet-base",
]
PAPER_STRATEGIES = ["random", "margin", "entropy", "least_confidence", "badge", "coreset", "typiclust"]
PAPER_IPS = ["random", "coreset", "typiclust"]

#: What the whole grid needs; the plugin decides at collection (Hub access is missing only when the user
#: switched it off with HF_HUB_OFFLINE or HF_DATASETS_OFFLINE; nothing in this repository does).
pytestmark = pytest.mark.albench_requires(
    packages={"datasets": "pip install 'pytest-albench[hub]'"}, hub=True, cuda=True, label="paper-suite"
)


@pytest.mark.albench(protocol="study", seeds=(0, 1, 2, 3, 4), max_pool=10_000, max_test=5_000, cycles=20)
@pytest.mark.parametrize("initial_pool_method", PAPER_IPS, ids=lambda m: f"ips_{m}")
@pytest.mark.parametrize("strategy", PAPER_STRATEGIES)
@pytest.mark.parametrize("embedding", PAPER_EMBEDDINGS)
@pytest.mark.parametrize("dataset", PAPER_DATASETS)
def test_paper(albench, dataset: str, embedding: str, strategy: str, initial_pool_method: str) -> None:
    # The study's grid must be reproducible: an encoder or dataset without a commit sha is refused here.
    check_encoder_pinned(embedding, strict=True)
    check_dataset_pinned(HUB_DATASETS[dataset], strict=True)
    albench(
        dataset, embedding, strategy, initial_pool_method=initial_pool_method, initial_pool_size=100, query_size=100
    )
