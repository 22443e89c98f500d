"""The ``albench`` fixture: run one parametrized case over its seeds and judge it against its baseline.

The case record built here (by :func:`pytest_albench.record.case_record`, which defines it) is the only
thing that leaves the test: it is attached to the test report (JSON-safe builtins only) so the
controller, with or without xdist, gathers tables and writes files.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ..analysis.verdict import Verdict, compare
from ..choices import DEFAULT_PROTOCOL
from ..errors import AlbenchError, ConfigError
from ..record import CaseRecord, RunSummary, case_record, json_safe, variant_label
from ..storage.baselines import case_file_name, read_baseline
from ..storage.cpu_slots import compute_slot, configured_slots
from .options import AlbenchSettings
from .progress import ProgressSink

CASE_KEY = pytest.StashKey[CaseRecord]()
#: What an ``--albench-embed-only`` case embedded: {"pair": "dataset × encoder", "rows": n}.
EMBEDDED_KEY = pytest.StashKey[dict[str, Any]]()
#: Settings a marker or call may give that are about judging, not running, a case.
JUDGE_KEYS = ("tolerance", "alpha", "test")


class AlbenchRunner:
    """Callable fixture value: ``albench(dataset, embedding, strategy, **overrides)``."""

    def __init__(
        self,
        request: pytest.FixtureRequest,
        settings: AlbenchSettings,
        engine: Any,
        progress: ProgressSink | None,
        family_size: int = 1,
    ) -> None:
        self._request = request
        self._settings = settings
        self._engine = engine
        self._progress = progress
        self._family_size = max(1, family_size)

    def __call__(
        self, dataset: str, embedding: str, strategy: str, *, seeds: Any = None, **overrides: Any
    ) -> CaseRecord:
        from ..engine.config import ALConfig

        node = self._request.node
        marker = node.get_closest_marker("albench")
        marked = dict(marker.kwargs) if marker else {}
        judge = checked_judge_settings({k: marked.pop(k) for k in JUDGE_KEYS if k in marked})
        given = seeds if seeds is not None else marked.pop("seeds", None)
        seeds = self._settings.seeds if given is None else case_seeds(given)
        marked.pop("seeds", None)
        run_overrides = {**self._settings.profile_defaults, **marked, **overrides}
        run_overrides.setdefault("protocol", self._settings.protocol)  # a case's own protocol wins
        try:
            config = ALConfig.for_case(dataset, embedding, strategy, **run_overrides)
        except TypeError as exc:
            raise ConfigError(f"invalid albench setting: {exc}") from None
        explicit = {k: v for k, v in {**marked, **overrides}.items() if k != "protocol"}
        if config.protocol != DEFAULT_PROTOCOL:  # another protocol's cases are ranked apart
            explicit = {"protocol": config.protocol, **explicit}
        variant = variant_label(explicit)

        if not seeds:
            raise ConfigError(f"case {node.nodeid} has no seeds; give seeds=(0, 1, 2) or --albench-seeds")
        if self._settings.embed_only:
            self._embed_only(config)
            return None  # type: ignore[return-value]
        # the embeddings first, outside a compute slot: an encoding takes a slot of its own, and a process
        # holding a slot must never wait for another's encoding (storage/cpu_slots.py)
        progress = self._progress_for(seeds[0])
        self._engine.problem_for(config, progress)
        slot_progress = progress if configured_slots() is not None else None
        if slot_progress is not None:
            slot_progress("slot", 0, 1)  # the controller shows "waiting for a CPU slot" until the slot is taken
        with compute_slot():
            if slot_progress is not None:
                slot_progress("slot", 1, 1)
            case = self._run(node, config, seeds, dataset, embedding, strategy, variant)
        node.stash[CASE_KEY] = case
        self._judge(case, node, judge)
        return case

    def _run(
        self,
        node: pytest.Item,
        config: Any,
        seeds: tuple[int, ...],
        dataset: str,
        embedding: str,
        strategy: str,
        variant: str,
    ) -> CaseRecord:
        """The case's seeds and its record (the problem is in the engine's memory by now)."""
        from ..engine.engine import run_experiment

        results = [run_experiment(config, int(seed), self._engine, self._progress_for(seed)) for seed in seeds]
        result = results[0]
        runs = [_run_summary(r) for r in results]
        return case_record(
            nodeid=node.nodeid,
            case_id=_case_id(node),
            dataset=dataset,
            embedding=embedding,
            strategy=strategy,
            variant=variant,
            profile=self._settings.profile,
            config=config.to_dict(),
            config_hash=result.config_hash,  # the loop's hash: every setting but the seed
            seeds=seeds,
            runs=runs,
            environment=result.environment,
            data=result.data,
            quality=self._quality(config),
            protocol=config.protocol,
        )

    def _embed_only(self, config: Any) -> None:
        """The embedding stage for this case: its (encoder, dataset) pair into the cache, no AL.

        The engine embeds each pair once per process (and the cache once per machine); the encoder is
        released when its embeddings are written (``embeddings.release_encoders``), so a worker holds
        at most one encoder, and only while it encodes. No case record is made: the stage has no
        results; the controller counts the pairs from what is stashed here.
        """
        from ..embeddings import release_encoders

        try:
            problem = self._engine.problem_for(config, self._progress_for(0))
        finally:
            release_encoders()
        self._request.node.stash[EMBEDDED_KEY] = {
            "pair": f"{config.dataset} × {config.embedding}",
            "rows": int(len(problem.y_pool) + len(problem.y_test)),
        }

    def _quality(self, config: Any) -> dict[str, Any]:
        """Embedding-quality measures of the case's problem (no AL): shared by all its strategy cases.

        They describe the (dataset, embedding) cell for the grid analysis and are never compared
        with baselines, which judge ``runs`` only.
        """
        from ..engine.quality import problem_quality

        try:
            problem = self._engine.problem_for(config)
            params = dict(config.head_params)  # the probe is the protocol's head, fitted on the whole pool
            probe = {k: params[k] for k in ("C", "feature_scaling") if k in params and config.head == "logistic"}
            if config.head != "logistic" and "feature_scaling" in params:
                probe["feature_scaling"] = params["feature_scaling"]
            measures = problem_quality(problem, cache_dir=getattr(self._engine, "cache_dir", None), probe=probe)
            quality: dict[str, Any] = json_safe(measures)
            return quality
        except (AlbenchError, ValueError, MemoryError, OSError) as exc:
            # a descriptive extra must not fail a case whose AL runs succeeded; the analysis skips it
            return {"error": f"{type(exc).__name__}: {exc}"}

    def _progress_for(self, seed: int) -> Callable[[str, int, int], None] | None:
        """The engine's progress callback for one seed: inline text, or events for the xdist controller."""
        return None if self._progress is None else self._progress.for_seed(self._request.node, seed)

    def _judge(self, case: CaseRecord, node: pytest.Item, judge: dict[str, Any]) -> None:
        settings = self._settings
        if settings.compare == "off" and settings.update == "none":
            return
        path = settings.baseline_dir_for(Path(str(node.path))) / case_file_name(case["case_id"])
        case["baseline_path"] = str(path)
        try:
            stored = read_baseline(path)
        except AlbenchError as exc:
            if settings.update != "all":
                raise
            stored, case["baseline_error"] = None, str(exc)
        compare_settings = replace(settings.compare_settings, family_size=self._family_size, **judge)
        verdict = compare(case, stored, compare_settings) if settings.compare != "off" else Verdict("-", "not compared")
        write = settings.update == "all" or (settings.update == "new" and stored is None)
        details = verdict.to_dict()
        details["written"] = "baseline written" if write else ""
        case["baseline"] = details
        case["write_baseline"] = write
        if verdict.status in settings.fail_on and not write:
            pytest.fail(f"[albench {verdict.status}] {case['case_id']}: {verdict.message}", pytrace=False)


def case_seeds(value: Any) -> tuple[int, ...]:
    """A case's ``seeds=`` (marker or call) read as ``--albench-seeds`` reads its value: a string in the
    option's forms ('0-4', '0,1,2'), one integer, or integers; sorted, each seed once (a seed given twice
    would be run and counted twice). A ConfigError for anything else."""
    from .options import MAX_SEEDS, parse_seeds

    where = "seeds="
    if isinstance(value, str):
        try:
            return parse_seeds(value, "seeds")
        except pytest.UsageError as exc:
            raise ConfigError(str(exc)) from None
    try:
        try:
            items = list(value)  # a list, a tuple, a range, a numpy array
        except TypeError:
            items = [value]  # one integer (or a numpy integer)
        if any(isinstance(seed, bool) for seed in items):
            raise TypeError
        seeds = [operator.index(seed) for seed in items]
    except TypeError:
        raise ConfigError(
            f"{where}{value!r}: give non-negative integers, e.g. seeds=(0, 1, 2) or seeds='0-4'"
        ) from None
    if any(seed < 0 for seed in seeds):
        raise ConfigError(f"{where}{value!r}: seeds must not be negative")
    if len(set(seeds)) > MAX_SEEDS:
        raise ConfigError(f"seeds: {len(set(seeds)):,} seeds, more than {MAX_SEEDS:,}")
    return tuple(sorted(set(seeds)))


def checked_judge_settings(judge: dict[str, Any]) -> dict[str, Any]:
    """The marker's ``tolerance`` and ``alpha``, checked as their options are (``options.is_tolerance``,
    ``options.is_level``); ``test`` is checked by the comparison itself."""
    from .options import is_level, is_tolerance

    checks = (
        ("tolerance", is_tolerance, "a number in [0, 1] (0.01 = 1 point)"),
        ("alpha", is_level, "strictly between 0 and 1 (e.g. 0.05)"),
    )
    for key, valid, bounds in checks:
        if key not in judge:
            continue
        value = judge[key]
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
        if not valid(number):
            raise ConfigError(f"@pytest.mark.albench({key}={value!r}): must be {bounds}")
        judge[key] = number
    return judge


def _case_id(node: pytest.Item) -> str:
    """The parametrization id (``dataset-embedding-strategy``), else the test name."""
    callspec = getattr(node, "callspec", None)
    return f"{node.originalname}[{callspec.id}]" if callspec is not None else node.name  # type: ignore[attr-defined]


def _run_summary(result: Any) -> RunSummary:
    """One seed's ``RunResult`` as the record's builtins: summaries, per-cycle curve and picks."""
    cycles = result.cycles
    return {
        "seed": int(result.seed),
        "aulc": float(result.aulc),
        "final_accuracy": float(result.final_accuracy),
        "aulc_macro_f1": float(result.aulc_macro_f1),
        "query_time_s": float(sum(c.query_time_s for c in cycles)),
        "train_time_s": float(sum(c.train_time_s for c in cycles)),
        "total_time_s": float(result.total_time_s),
        "curve": {
            "n_labeled": [int(c.n_labeled) for c in cycles],
            "accuracy": [float(c.test_accuracy) for c in cycles],
            "macro_f1": [float(c.test_macro_f1) for c in cycles],
        },
        "initial_pool": list(result.initial_pool),
        "selected": [list(c.selected) for c in cycles],
    }
