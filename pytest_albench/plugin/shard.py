"""``--albench-shard K/N``: run the K-th of N disjoint parts of the collected albench cases.

Why shards and not xdist's ``--tx``: cluster schedulers (Slurm arrays, Kubernetes indexed jobs, CI
matrices) start N independent processes that cannot reach each other; each runs one shard, writes its
``--albench-json`` file to a shared place, and ``albench-report --merge`` joins them into one verdict.

The assignment rule (documented in docs/scale-out.md):

* The unit is the **(encoder, dataset) pair** of a case (its ``embedding`` and ``dataset`` parameters),
  so a shard embeds only its own pairs; a case without both parameters is a unit of its own (its node id).
* Units are sorted by descending case count, then by the sha256 of their names (never Python's salted
  ``hash()``, never the collection order), and each goes to the shard with the fewest cases so far
  (the lowest index on a tie): greedy longest-processing-time scheduling, so no shard exceeds the mean
  by more than one unit's cases. The result depends only on the set of selected cases, which every
  shard of one command collects alike (``-k``/``-m`` are applied first: this hook runs last).
* Tests that are not albench cases run in shard 0 only, so every test runs once across the shards.

The shard's K/N, the digest of the whole grid, its pairs and its case ids are recorded in the results
file (:meth:`ShardSpec.record`), so the merge can check that shards 0..N-1 of one grid are all there
and complete. Under xdist each worker collects and deselects alike; the controller, which collects
nothing, receives the record from a worker's ``workeroutput``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

#: The ``config.workeroutput`` key a worker publishes its shard record under.
WORKEROUTPUT_KEY = "albench_shard"
PLUGIN_NAME = "albench-shard"
#: A pair's unit key: ("pair", embedding, dataset) or ("case", nodeid).
Unit = tuple[str, ...]
_OFF = ("off", "none", "no")


@dataclass
class ShardState:
    """What one shard learns after configuration: the collection's record and the cases that reported."""

    record: dict[str, Any] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    #: Cases that reported as skipped: they leave no case record, and the merge must know they ran.
    skipped: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ShardSpec:
    """Which shard this session runs (``index`` of ``count``) and where that was decided."""

    index: int
    count: int
    source: str
    state: ShardState = field(default_factory=ShardState, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def from_scheduler(self) -> bool:
        """Whether a cluster scheduler's variables chose the shard (Slurm, Kubernetes), not the user: then
        a session that selects no albench case at all is no shard of a grid, and runs its tests whole."""
        return self.source.startswith(("SLURM_", "JOB_COMPLETION_INDEX"))

    def grid_cases(self, default: int) -> int:
        """How many albench cases the whole grid holds (all shards): the regression gate's family size."""
        return int(self.state.record.get("grid_cases", default))

    def record(self) -> dict[str, Any]:
        """The results file's ``shard`` entry; ``unfinished`` lists the shard's cases that never reported
        (an interrupted session), so the merge can call the shard incomplete."""
        collected = self.state.record
        cases = list(collected.get("cases", []))
        return {
            "index": self.index,
            "count": self.count,
            "source": self.source,
            **collected,
            "collected": bool(collected),
            "unfinished": [nodeid for nodeid in cases if nodeid not in self.state.reported],
            "skipped": sorted(nodeid for nodeid in cases if nodeid in self.state.skipped),
        }


def parse_shard(text: str, where: str) -> tuple[int, int] | None:
    """``K/N`` (0 ≤ K < N) → (K, N); ``off`` → None; anything else is a usage error naming ``where``."""
    value = text.strip().lower()
    if value in _OFF:
        return None
    index, sep, count = value.partition("/")
    try:
        k, n = int(index), int(count)
    except ValueError:
        k = n = -1
    if not sep or n < 1 or not 0 <= k < n:
        raise pytest.UsageError(f"{where}: invalid shard {text!r}; use K/N with 0 <= K < N (e.g. 0/4), or off")
    return k, n


def _int_env(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"{name}={value!r} is not an integer; set ALBENCH_SHARD=K/N instead") from None


def _slurm(environ: Mapping[str, str]) -> tuple[str, str] | None:
    task = _int_env(environ, "SLURM_ARRAY_TASK_ID")
    if task is None:
        return None
    count = _int_env(environ, "SLURM_ARRAY_TASK_COUNT")
    low, high = _int_env(environ, "SLURM_ARRAY_TASK_MIN"), _int_env(environ, "SLURM_ARRAY_TASK_MAX")
    if low is not None and high is not None:
        span = high - low + 1
        if count is not None and count != span:
            raise pytest.UsageError(
                f"SLURM array {low}-{high} has {count} tasks, not {span}: a stepped or listed --array cannot be "
                "mapped to shards; use a contiguous range (sbatch --array=0-N) or set ALBENCH_SHARD=K/N"
            )
        return f"{task - low}/{span}", "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of MIN..MAX"
    if count is not None:
        return f"{task}/{count}", "SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT"
    raise pytest.UsageError(
        "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT or SLURM_ARRAY_TASK_MIN/MAX; "
        "set ALBENCH_SHARD=K/N (or ALBENCH_SHARD=off)"
    )


def _kubernetes(environ: Mapping[str, str]) -> tuple[str, str] | None:
    index = environ.get("JOB_COMPLETION_INDEX", "").strip()
    if not index:
        return None
    count = environ.get("ALBENCH_SHARD_COUNT", "").strip()
    if not count:
        raise pytest.UsageError(
            "JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but ALBENCH_SHARD_COUNT is "
            "not: set it to the Job's completions (or ALBENCH_SHARD=off)"
        )
    return f"{index}/{count}", "JOB_COMPLETION_INDEX of ALBENCH_SHARD_COUNT"


def shard_from_env(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The shard the environment asks for, as (text, source): ``ALBENCH_SHARD`` (CI matrices; ``off``
    switches sharding off), else a Slurm array task, else a Kubernetes Indexed Job's completion index."""
    explicit = environ.get("ALBENCH_SHARD", "").strip()
    if explicit:
        return explicit, "ALBENCH_SHARD"
    return _slurm(environ) or _kubernetes(environ)


def resolve_shard(option: str | None, ini: str | None, environ: Mapping[str, str]) -> ShardSpec | None:
    """The session's shard: ``--albench-shard`` wins, then the environment, then the ``albench_shard`` ini key."""
    if option:
        text, source = option, "--albench-shard"
    elif (from_env := shard_from_env(environ)) is not None:
        text, source = from_env
    elif ini:
        text, source = ini, "albench_shard (ini)"
    else:
        return None
    parsed = parse_shard(text, source)
    return None if parsed is None else ShardSpec(parsed[0], parsed[1], source)


def unit_of(item: pytest.Item) -> Unit:
    """The (encoder, dataset) pair of a case from its parameters, else the case itself."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "embedding" in params and "dataset" in params:
        return ("pair", str(params["embedding"]), str(params["dataset"]))
    return ("case", item.nodeid)


def _stable(unit: Unit) -> str:
    return hashlib.sha256("\x1f".join(unit).encode("utf-8")).hexdigest()


def assign(weights: Mapping[Unit, int], count: int) -> dict[Unit, int]:
    """Each unit's shard: heaviest first (ties by sha256 of the names), onto the least loaded shard."""
    loads = [0] * count
    shards: dict[Unit, int] = {}
    for unit in sorted(weights, key=lambda u: (-weights[u], _stable(u), u)):
        target = min(range(count), key=lambda k: (loads[k], k))
        shards[unit] = target
        loads[target] += weights[unit]
    return shards


def digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()


def is_case(item: pytest.Item) -> bool:
    return "albench" in getattr(item, "fixturenames", ())


def split_items(
    items: Sequence[pytest.Item], spec: ShardSpec
) -> tuple[list[pytest.Item], list[pytest.Item], dict[str, Any]]:
    """(kept, deselected, record) for shard ``spec`` of ``items``."""
    units = {item.nodeid: unit_of(item) for item in items if is_case(item)}
    weights = Counter(units.values())
    if weights and len(weights) < spec.count:
        raise pytest.UsageError(
            f"--albench-shard {spec.label} (from {spec.source}): the selected grid has only {len(weights)} "
            f"(encoder, dataset) pair(s), and a pair is never split; use at most {len(weights)} shards"
        )
    shards = assign(weights, spec.count)

    def mine(item: pytest.Item) -> bool:
        unit = units.get(item.nodeid)
        if unit is None:  # every other test runs in shard 0, or everywhere when a scheduler shards no grid
            return spec.index == 0 or (not units and spec.from_scheduler)
        return shards[unit] == spec.index

    kept = [item for item in items if mine(item)]
    dropped = [item for item in items if not mine(item)]
    loads = Counter(shards[unit] for unit in units.values())
    own = sorted(unit for unit, k in shards.items() if k == spec.index)
    record = {
        "grid": digest(units),
        "grid_cases": len(units),
        "grid_pairs": len(weights),
        "loads": [loads.get(k, 0) for k in range(spec.count)],
        "pairs": [list(unit[1:]) for unit in own],
        "pairs_digest": digest("\x1f".join(u) for u in own),
        "cases": sorted(nodeid for nodeid, unit in units.items() if shards[unit] == spec.index),
    }
    return kept, dropped, record


class ShardPlugin:
    """Deselects the other shards' cases, and carries the shard's record to the results file."""

    def __init__(self, config: pytest.Config, spec: ShardSpec) -> None:
        self.config = config
        self.spec = spec

    @pytest.hookimpl(trylast=True)  # after -k, -m and --deselect: the grid is what every shard selected alike
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        kept, dropped, record = split_items(items, self.spec)
        self.spec.state.record.update(record)
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKEROUTPUT_KEY] = record
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        record = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if record and not self.spec.state.record:
            self.spec.state.record.update(record)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or report.skipped or report.failed:
            self.spec.state.reported.add(report.nodeid)
        if report.skipped:
            self.spec.state.skipped.add(report.nodeid)

    def pytest_report_header(self) -> str:
        return f"albench: shard {self.spec.label} (from {self.spec.source})"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        terminalreporter.write_line(shard_line(self.spec.record()))
        if not hasattr(self.config, "workerinput"):
            for line in self._empty_results():
                terminalreporter.write_line(line)

    def _empty_results(self) -> list[str]:
        """A shard whose cases were all skipped is complete, and says so in its results file; the controller
        writes no file for a session without results, so the shard writes this one.

        Not in the embedding stage (``--albench-embed-only``: its cases have no results, and an empty file
        would replace the shard's real one), and not when the selection holds no albench case at all (a
        ``-k`` that matches nothing): there is nothing to record, and an existing file is left as it is.
        """
        from .hooks import SETTINGS_KEY, STATE_KEY

        state, settings = self.config.stash[STATE_KEY], self.config.stash[SETTINGS_KEY]
        if state.cases or state.missing or getattr(state, "warnings", None) or not settings.json_path:
            return []
        if settings.embed_only or not self.spec.state.record.get("grid_cases"):
            return []
        from ..report.outputs import write_outputs

        return write_outputs(settings, [], [])


def shard_line(record: Mapping[str, Any]) -> str:
    """The terminal's account of the shard: what it ran, what the other shards hold."""
    label = f"{record['index']}/{record['count']}"
    if not record.get("collected"):
        return f"albench: shard {label}: no collection record came back (did every worker crash?)"
    mine, total = len(record["cases"]), int(record["grid_cases"])
    line = (
        f"albench: shard {label}: {mine} of {total} albench case(s) in {len(record['pairs'])} of "
        f"{record['grid_pairs']} (encoder, dataset) pair(s); {total - mine} deselected for the other shards"
    )
    if record["unfinished"]:
        line += f"; {len(record['unfinished'])} case(s) did not run (the merge will call this shard incomplete)"
    return line


def register_shard(config: pytest.Config, spec: ShardSpec | None) -> None:
    """Register the shard plugin when the session runs a shard."""
    if spec is not None and not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(ShardPlugin(config, spec), PLUGIN_NAME)
