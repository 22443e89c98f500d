"""Cost of ONE active-learning query per registered strategy: median time and peak extra memory.

Why this script exists: the AL loop records ``query_time_s`` per cycle, but those numbers mix
strategies, datasets and machines. Here every strategy is measured on the same pool with the same
fitted head, so "is strategy X affordable at N = 10,000?" and "does BADGE stay under 1 GiB at
N = 50,000 × d = 1,024?" get one reproducible answer per machine.

What is timed is exactly what one AL cycle pays for a query (see ``run_active_learning``): building
``QueryInputs``, computing the strategy's declared needs from the head (``proba`` / ``hidden`` /
``sampled_proba`` / ``head``, i.e. the head's forward passes over the pool, done by the loop's own
``fill_needs``) and the strategy call with its checks (``query``). Fitting the head is training,
not querying, and is not timed.

Memory is the peak *extra* memory of one query: on CPU the peak resident set size during the call
(a thread sampling ``/proc/self/statm`` every ``--sample-ms``, cross-checked with ``ru_maxrss``)
minus the RSS just before it, after freed heap pages were handed back with ``malloc_trim``; on
CUDA ``torch.cuda.max_memory_allocated`` minus the memory allocated before. Every (strategy, setting)
runs in a fresh spawned process, so one strategy's freed-but-kept heap cannot hide the next one's peak
and the pool built for one setting does not linger. On CPU the sampling thread runs only during the
warm-up call (the first query of the fresh process, whose peak no earlier call can have
pre-allocated); the timed calls run without it, so it never competes with torch's thread pool for a
core, and contribute to the peak only through ``ru_maxrss``.

Strategies that cache work in ``inputs.memo`` (ProbCover's ball graph) are reported twice: a first
call with an empty memo (what cycle 1 pays) and a call with the memo already filled (what every
later cycle of the same run pays).

Run ``python -m benchmarks.perf.strategy_cost --help`` (from the repository root) for the options.
Modules: ``worker`` (what a spawned process measures), ``cli`` (options, pools, the table); the
machine description, memory probe and pools are shared with ``peers`` in ``benchmarks.perf.common``.
"""

from __future__ import annotations

from .cli import main, parse_args, print_table
from .worker import STRATEGY_NOTES, PoolSpec, Row, Task, WorkerResult, load_pool, run_in_fresh_process, run_task

__all__ = [
    "STRATEGY_NOTES",
    "PoolSpec",
    "Row",
    "Task",
    "WorkerResult",
    "load_pool",
    "main",
    "parse_args",
    "print_table",
    "run_in_fresh_process",
    "run_task",
]
