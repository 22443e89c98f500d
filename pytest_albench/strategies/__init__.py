"""Query strategies and initial-pool selection: names in registries, functions of explicit inputs.

Import what you need from here; the modules below are implementation detail. Built-in strategies
are registered the first time a name is looked up.
"""

from __future__ import annotations

from .base import (
    NEEDS,
    STRATEGIES,
    QueryInputs,
    StrategyFunction,
    StrategySpec,
    check_query_request,
    checked_indices,
    get_strategy,
    query,
    register_strategy,
    strategy_names,
    validate_selection,
)
from .ips import (
    IPS_METHODS,
    InitialPoolMethod,
    get_ips,
    ips_names,
    register_initial_pool_method,
    register_ips,
    select_initial_pool,
)
from .params import Param

__all__ = [
    "IPS_METHODS",
    "NEEDS",
    "STRATEGIES",
    "InitialPoolMethod",
    "Param",
    "QueryInputs",
    "StrategyFunction",
    "StrategySpec",
    "check_query_request",
    "checked_indices",
    "get_ips",
    "get_strategy",
    "ips_names",
    "query",
    "register_initial_pool_method",
    "register_ips",
    "register_strategy",
    "select_initial_pool",
    "strategy_names",
    "validate_selection",
]
