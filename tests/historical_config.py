"""The keys an ``ALConfig`` dict held before strategy parameters and protocols existed, shared by test modules.

Their hash is in every stored baseline, so a case that sets none of the newer settings must keep exactly
these keys (a test module is not an API, so the list lives here rather than in one of them).
"""

from __future__ import annotations

HISTORICAL_KEYS = [
    "dataset",
    "embedding",
    "strategy",
    "initial_pool_size",
    "query_size",
    "cycles",
    "budget_schedule",
    "initial_pool_method",
    "head",
    "head_params",
    "max_pool",
    "max_test",
    "subsample_seed",
    "n_samples",
]
