"""A small synthetic results document, shaped like ``--albench-json`` output, for report tests.

2 embeddings × 3 datasets × 3 strategies × 3 seeds, plus random and margin from a TypiClust initial
pool, each case with an embedding-quality record. Numbers come from a seeded generator with a
built-in effect (better embeddings: higher curves, margin gains more), so rankings are not all ties.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDINGS = {"tfidf-lsa": 0.55, "minilm-l6": 0.75}
DATASETS = {"trec6": 0.0, "sst2": -0.05, "ag_news": 0.08}
STRATEGIES = {"random": 0.0, "margin": 0.03, "typiclust": 0.015}
IPS_STRATEGIES = ("random", "margin")
SEEDS = (0, 1, 2)
N_LABELED = [10, 20, 30, 40, 50, 60]


def _case(dataset: str, embedding: str, strategy: str, variant: str) -> dict[str, Any]:
    ips = variant == "ips=typiclust"
    base = EMBEDDINGS[embedding] + DATASETS[dataset]
    effect = STRATEGIES[strategy] * (1.0 + (EMBEDDINGS[embedding] - 0.5) * 2)
    runs = []
    for seed in SEEDS:
        rng = np.random.default_rng([seed, len(dataset), len(embedding), len(strategy), ips])
        accuracy = []
        for i, _ in enumerate(N_LABELED):
            early = 0.04 if ips and i < 2 else 0.0
            value = base + effect * i / 5 + 0.05 * i + early + float(rng.normal(0, 0.01))
            accuracy.append(round(min(value, 0.99), 4))
        aulc = round(float(np.mean(accuracy)), 4)
        runs.append(
            {
                "seed": seed,
                "aulc": aulc,
                "final_accuracy": accuracy[-1],
                "aulc_macro_f1": round(aulc - 0.02, 4),
                "query_time_s": 0.01,
                "train_time_s": 0.02,
                "total_time_s": 0.05,
                "curve": {
                    "n_labeled": list(N_LABELED),
                    "accuracy": accuracy,
                    "macro_f1": [round(a - 0.02, 4) for a in accuracy],
                },
                "initial_pool": [],
                "selected": [],
            }
        )
    suffix = "-ips_typiclust" if ips else ""
    case_id = f"test_grid[{dataset}-{embedding}-{strategy}{suffix}]"
    quality = EMBEDDINGS[embedding] + DATASETS[dataset] + 0.15
    return {
        "nodeid": f"test_grid.py::{case_id}",
        "case_id": case_id,
        "dataset": dataset,
        "embedding": embedding,
        "strategy": strategy,
        "variant": variant,
        "profile": "smoke",
        "config": {
            "dataset": dataset,
            "embedding": embedding,
            "strategy": strategy,
            "cycles": 5,
            "initial_pool_method": "typiclust" if ips else "random",
        },
        "config_hash": hashlib.sha256(case_id.encode()).hexdigest()[:16],
        "seeds": list(SEEDS),
        "runs": runs,
        "environment": {
            "device": "cpu (x86_64, 1 threads)",
            "platform": "Linux-x86_64",
            "versions": {"pytest-albench": "0.1.0", "torch": "2.13.0+cpu", "numpy": "2.4.6"},
        },
        "data": {},
        "quality": {
            "linear_probe_accuracy": round(quality, 4),
            "knn_accuracy": round(quality - 0.1, 4),
            "kmeans_purity": round(quality - 0.2, 4),
            "silhouette": round(quality / 10, 4),
            "n_pool": 300,
            "n_test": 100,
            "n_classes": 6,
            "dim": 64,
        },
    }


def results_document() -> dict[str, Any]:
    cases = [_case(d, e, s, "") for d in DATASETS for e in EMBEDDINGS for s in STRATEGIES] + [
        _case(d, e, s, "ips=typiclust") for d in DATASETS for e in EMBEDDINGS for s in IPS_STRATEGIES
    ]
    return {
        "format_version": 1,
        "profile": "smoke",
        "seeds": list(SEEDS),
        "cases": sorted(cases, key=lambda c: c["nodeid"]),
        "missing": [],
    }


def write_results(path: Path, document: dict[str, Any] | None = None) -> Path:
    path.write_text(json.dumps(document or results_document(), indent=1, sort_keys=True))
    return path
