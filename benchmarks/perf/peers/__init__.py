"""Our query strategies side by side with scikit-activeml and small-text: time, memory, selections.

Why this benchmark exists: "our BADGE is N times faster than the reference" is only worth something if
both sides answer the same question on the same data. So every side here gets the same pool matrix,
the same labeled set and the same fitted scikit-learn ``LogisticRegression``, and we check that
strategies which are deterministic given those (least confidence, margin, entropy, CoreSet) pick
the *same* 100 points before comparing their cost. Randomised strategies cannot agree point by point,
so for them a short AL run per side compares what matters instead: the learning curve.

Setting (built from the project's own layers, sharing ``benchmarks.perf.common`` with
``strategy_cost``): banking77 train + validation embedded with ``minilm-l6`` through ``load_dataset`` /
``embed_dataset`` (all 10,003 rows), multiplied by the loop's ``feature_scale`` (one scalar; applied to
*all* sides, so the logistic regression is the one our loop would fit), 10 labeled points per class
(seeded, the ``common.pools.labeled_per_class`` draw), a query of 100, and one scikit-learn
``LogisticRegression`` (lbfgs, C = 1) fitted on the labeled set and never refitted by a query.

What is timed per side (one call = one AL cycle's query, as a user of that library pays it):

- **ours**: building ``QueryInputs``, the engine's ``fill_needs`` (our ``LogisticHead`` holding the
  scikit-learn weights: the forward pass over the pool for ``proba`` / ``hidden``) and ``query()``;
- **scikit-activeml**: building ``y`` with ``np.nan`` for unlabeled points and
  ``strategy.query(X, y, clf=..., fit_clf=False, batch_size=100)`` — its ``predict_proba`` included;
- **small-text**: building ``y`` and the ``SklearnDataset`` and
  ``strategy.query(clf, dataset, indices_unlabeled, indices_labeled, y, n=100)`` — its
  ``predict_proba`` / ``embed`` included.

Wrapping the fitted estimator (and loading its weights into our head) is done once per fitted
classifier, untimed, as a loop would do it after training.

Sides run alternately in one fresh process per (strategy, pool size): warm-up of every side, then
``--repeats`` rounds of one call per side, so load drift on a shared machine hits all sides alike.
Peak extra memory is ``common.memory.PeakProbe`` (RSS sampled during the warm-up, ``ru_maxrss``
always; CUDA allocator peak for our side on a GPU). Peers are CPU-only.

Run ``python -m benchmarks.perf.peers --help`` (from the repository root) for the options; the
README's "Peer benchmark" section has the measured command.

Modules, in the order a measurement passes through them: ``cli`` (options, sizes, the parent's loop),
``pool`` (the pool at each size), ``skip`` (whether a peer runs at a size), ``worker`` (one strategy at
one size in a fresh process), ``adapters`` / ``ours`` (each library called alike), ``timing`` (sides
timed alternately), ``overlap`` (same picks? why not?), ``al_runs`` (short AL runs), ``results`` (the
dataclasses that cross processes) and ``tables``.
"""

from __future__ import annotations

from ..common.memory import GIB, MIB
from .al_runs import al_seconds_per_seed, al_seeds_within, aulc, fit_logistic, run_al
from .cli import main, parse_args
from .ours import OursAdapter
from .overlap import check_selection, diagnose_mismatch, selection_overlap
from .pool import FULL_POOL_TOLERANCE, BaseData, load_base_data, resize_pool, resolve_size, tile_with_jitter
from .results import SIDE_ORDER, SIDE_TITLES, PeerTask, PhaseResult, SideMeasure, SizeReport, TaskResult
from .skip import Cost, SkipDecision, decide_peer, growth_word
from .timing import call_seed, find_delta, measure_sides
from .worker import run_in_fresh_process, run_peer_task

__all__ = [
    "FULL_POOL_TOLERANCE",
    "GIB",
    "MIB",
    "SIDE_ORDER",
    "SIDE_TITLES",
    "BaseData",
    "Cost",
    "OursAdapter",
    "PeerTask",
    "PhaseResult",
    "SideMeasure",
    "SizeReport",
    "SkipDecision",
    "TaskResult",
    "al_seconds_per_seed",
    "al_seeds_within",
    "aulc",
    "call_seed",
    "check_selection",
    "decide_peer",
    "diagnose_mismatch",
    "find_delta",
    "fit_logistic",
    "growth_word",
    "load_base_data",
    "main",
    "measure_sides",
    "parse_args",
    "resize_pool",
    "resolve_size",
    "run_al",
    "run_in_fresh_process",
    "run_peer_task",
    "selection_overlap",
    "tile_with_jitter",
]
