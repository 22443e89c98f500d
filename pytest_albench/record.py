"""The case record: what one albench case produces, in one definition every layer reads.

A record travels from the worker that ran the case to the controller (xdist ships JSON builtins), is
stored in results files and baselines, and is read back by ``albench-report``. So it stays a plain
dict of JSON builtins; the TypedDicts below say what it holds, :func:`case_record` is the one place
that builds it, :func:`check_record` the one place that checks a record read from outside, and the
functions at the end the only place that derives a case's labels from it.

Required keys are those every reader may index; the others are written by the plugin on every case
but may be absent from older, trimmed or hand-made results files, so readers use ``.get`` for them.
A key this module does not know is kept and not checked: a newer record read by an older reader
still loads, and its version number says what changed.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, Union, cast, get_args, get_origin, get_type_hints, is_typeddict

from .errors import AlbenchError

#: Version of the record's shape, stored in each record as ``record_version``. Records written before
#: the field existed (results files up to pytest-albench 0.1.0, e.g. docs/local-suite/results.json.gz)
#: have the same shape as version 1, so a record without the field is read as version 1. Bump this when
#: a field changes meaning or type, and teach :func:`check_record` to read the older versions.
RECORD_VERSION = 1
UNVERSIONED = 1

#: Treatments that split rank tables when a case sets them (sizes such as k0 do not: they are scaled
#: per dataset and must not separate datasets that are ranked together), with their short names.
VARIANT_KEYS = {"protocol": "protocol", "initial_pool_method": "ips", "head": "head"}
#: The treatments' values when a case does not set them.
DEFAULT_IPS = "random"
DEFAULT_HEAD = "logistic"


class RecordError(AlbenchError):
    """A case record that lacks a field, has one of the wrong type, or is of an unknown version."""


# ------------------------------------------------------------------------------------------- the shape


class _CurveRequired(TypedDict):
    n_labeled: list[int]
    accuracy: list[float]


class Curve(_CurveRequired, total=False):
    """The learning curve of one run: one value per cycle (the first is the initial pool)."""

    macro_f1: list[float]


class _RunRequired(TypedDict):
    seed: int
    aulc: float
    final_accuracy: float


class RunSummary(_RunRequired, total=False):
    """One seed's run: the summaries baselines compare, the curve, timings and the points picked."""

    aulc_macro_f1: float
    query_time_s: float
    train_time_s: float
    total_time_s: float
    curve: Curve
    initial_pool: list[int]
    selected: list[list[int]]  # per cycle; the first entry is empty (cycle 0 labels the initial pool)


class _VerdictRequired(TypedDict):
    status: str
    message: str


class BaselineVerdict(_VerdictRequired, total=False):
    """The comparison with the stored baseline (``analysis.verdict.compare``), the session gate's decision
    (``analysis.gate``) and what was written."""

    seeds: list[int]
    baseline_aulc: list[float]
    current_aulc: list[float]
    mean_delta: float
    p_worse: float
    p_better: float
    tolerance: float
    alpha: float
    case_alpha: float  # the level this case had to reach on its own (alpha / cases under a correction)
    correction: str  # bh, holm or none
    test: str
    mde: float | None  # the smallest drop its seeds could detect (None: too few seeds to estimate)
    candidate: bool  # p below alpha but not below case_alpha: the session gate decides
    p_adjusted: float  # the session's adjusted p (set by the gate on the controller)
    family_size: int  # how many compared cases the gate adjusted together
    baseline_config: Mapping[str, Any] | None  # on "stale": the configuration the baseline was run with
    changed: list[str]  # on "stale": which inputs changed
    numerics_changed: str  # on "numeric": how the CPU/BLAS differ
    written: str


class Quality(TypedDict, total=False):
    """Embedding-quality measures of the case's problem (``engine.quality``), or the error that stopped them.

    An undefined measure is ``None`` (NaN is not JSON); a future measure is an extra key.
    """

    n_pool: int
    n_test: int
    n_classes: int
    dim: int
    linear_probe_accuracy: float | None
    knn_accuracy: float | None
    kmeans_purity: float | None
    silhouette: float | None
    error: str


class DataDescription(TypedDict, total=False):
    """What the pool problem was made of (``PoolProblem.description``): provenance, sizes, source rows."""

    name: str
    dataset: str
    dataset_source: str
    dataset_fingerprint: str
    embedding: str
    embedding_identity: Mapping[str, Any]  # open-ended: each encoder backend says what identifies it
    pool_size: int
    test_size: int
    dim: int
    n_classes: int
    pool_source_rows: list[int] | None  # None when the whole training split is the pool


class Environment(TypedDict, total=False):
    """Everything besides the configuration that can change a number (``engine.provenance``)."""

    versions: Mapping[str, str]
    platform: str
    python_implementation: str
    device: str


class _CaseRequired(TypedDict):
    nodeid: str
    case_id: str
    dataset: str
    embedding: str
    strategy: str
    runs: list[RunSummary]


class CaseRecord(_CaseRequired, total=False):
    """One case over its seeds. The judging keys (``baseline``…) exist only when baselines were on."""

    record_version: int
    variant: str
    profile: str
    config: Mapping[str, Any]  # ALConfig.to_dict(); open-ended as new settings appear
    config_hash: str  # the loop's hash: every setting but the seed
    seeds: list[int]
    environment: Environment
    data: DataDescription
    quality: Quality
    protocol: str  # the named protocol (engine/protocols.py); records written before it existed: "default"
    baseline: BaselineVerdict
    baseline_path: str
    baseline_error: str
    write_baseline: bool
    run_label: str  # set by ``albench-report --label``: the results file the case came from


# ------------------------------------------------------------------------------------------- building


def case_record(
    *,
    nodeid: str,
    case_id: str,
    dataset: str,
    embedding: str,
    strategy: str,
    variant: str,
    profile: str,
    config: Mapping[str, Any],
    config_hash: str,
    seeds: Sequence[int],
    runs: Sequence[RunSummary],
    environment: Mapping[str, Any],
    data: Mapping[str, Any],
    quality: Mapping[str, Any],
    protocol: str = "default",
) -> CaseRecord:
    """The record of a finished case, checked: a value of the wrong type fails here, naming the field,
    rather than in xdist's report transfer, the JSON writer or a table. ``data`` and ``quality`` come
    from numpy code and are made builtins here; the other parts are builtins already."""
    raw = {
        "record_version": RECORD_VERSION,
        "nodeid": nodeid,
        "case_id": case_id,
        "dataset": dataset,
        "embedding": embedding,
        "strategy": strategy,
        "variant": variant,
        "profile": profile,
        "config": dict(config),
        "config_hash": config_hash,
        "seeds": [int(s) for s in seeds],
        "runs": list(runs),
        "environment": dict(environment),
        "data": json_safe(data),
        "quality": json_safe(quality),
        "protocol": str(protocol),
    }
    return check_record(raw, f"the record pytest-albench built for {nodeid}")


def json_safe(value: Any) -> Any:
    """Builtins only: numpy scalars, Paths and str subclasses break xdist's report transfer."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if hasattr(value, "item"):
        return json_safe(value.item())
    return str(value)


# ------------------------------------------------------------------------------------------- reading


def check_record(raw: object, where: str, *, index: int | None = None) -> CaseRecord:
    """``raw`` as a :class:`CaseRecord`, or a :class:`RecordError` naming ``where`` (e.g. the results
    file), the case and the field that is missing or of the wrong type. ``index`` names a case that
    has no ``case_id``. The record is returned as it is (not copied, nothing added)."""
    name = raw.get("case_id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
    if not isinstance(raw, dict):
        raise RecordError(f"{where}: case {name} is {describe(raw)}, not an object")
    try:
        _check(raw, CaseRecord, "")
    except _Mismatch as exc:
        at = f"case {name}: {exc.path}" if exc.path else f"case {name}"
        raise RecordError(f"{where}: {at} {exc.problem}") from None
    version = raw.get("record_version", UNVERSIONED)
    if version > RECORD_VERSION:
        raise RecordError(
            f"{where}: case {name} has record_version {version}, newer than this pytest-albench "
            f"reads ({RECORD_VERSION}); upgrade pytest-albench to read it"
        )
    if version < UNVERSIONED:
        raise RecordError(f"{where}: case {name} has record_version {version}; versions start at {UNVERSIONED}")
    if not raw["runs"]:
        raise RecordError(f"{where}: case {name} has no runs")
    for i, run in enumerate(raw["runs"]):
        problem = _run_problem(run)
        if problem:
            raise RecordError(f"{where}: case {name}: runs[{i}]{problem}")
    return cast(CaseRecord, raw)


#: The run's summaries that are scores, so within [0, 1] (a trapezoid of scores over their label range)
#: up to rounding; NaN is a run whose score was undefined, which readers skip with a note.
_SCORES = ("aulc", "final_accuracy", "aulc_macro_f1")
_ROUNDING = 1e-9


def is_score(value: float) -> bool:
    """Whether ``value`` lies in [0, 1], up to the rounding of a trapezoid's sum (false for NaN)."""
    return -_ROUNDING <= value <= 1 + _ROUNDING


def _run_problem(run: Mapping[str, Any]) -> str:
    """What is wrong with a well-typed run beyond its types, as the text after ``runs[i]``, else "".

    A curve whose lists differ in length would crash the figures' ``zip(strict=True)`` long after the
    file was accepted, and an AULC of ``Infinity`` or 5.0 (JSON written by Python allows the first) would
    rank the case first or pass a baseline comparison it has no business passing."""
    for key in _SCORES:
        value = run.get(key)
        if isinstance(value, (int, float)) and not math.isnan(value) and not is_score(value):
            return f".{key} is {value!r}, expected a score in [0, 1] (or NaN when it is undefined)"
    curve = run.get("curve")
    if isinstance(curve, dict):
        lengths = {key: len(curve[key]) for key in ("n_labeled", "accuracy", "macro_f1") if key in curve}
        if len(set(lengths.values())) > 1:
            n = lengths["n_labeled"]
            other = next(key for key, length in lengths.items() if length != n)
            return f".curve has {n} n_labeled but {lengths[other]} {other} values; each cycle needs one of each"
    return ""


def version_of(record: Mapping[str, Any]) -> int:
    """The record's shape version; a record written before the field existed is version 1."""
    return int(record.get("record_version", UNVERSIONED))


class _Mismatch(Exception):
    """Where in a record a value does not fit its declared type (``path`` is ``""`` for the record)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(path, problem)
        self.path, self.problem = path, problem


def _check(value: object, hint: Any, path: str) -> None:
    """Raise :class:`_Mismatch` unless ``value`` fits ``hint``, one of the JSON types the record uses."""
    if hint is Any:
        return
    if is_typeddict(hint):
        _check_fields(value, hint, path)
        return
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        _check_union(value, hint, path)
        return
    if origin is list:
        if not isinstance(value, list):
            raise _Mismatch(path, f"is {describe(value)}, expected {_expected(hint)}")
        (item_hint,) = get_args(hint)
        if item_hint in _SCALAR_TYPES and {type(item) for item in value} <= _SCALAR_TYPES[item_hint]:
            return  # the common case, without a path per item: pools and selections are long lists
        for i, item in enumerate(value):
            _check(item, item_hint, f"{path}[{i}]")
        return
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise _Mismatch(path, f"is {describe(value)}, expected {_expected(hint)}")
        for key, item in value.items():
            _check(item, get_args(hint)[1], _join(path, str(key)))
        return
    if not _is_scalar(value, hint):
        raise _Mismatch(path, f"is {describe(value)}, expected {_expected(hint)}")


def _check_fields(value: object, typed: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise _Mismatch(path, f"is {describe(value)}, expected an object")
    hints = _hints(typed)
    lacking = [key for key in hints if key in typed.__required_keys__ and key not in value]
    if lacking:
        raise _Mismatch(path, "lacks " + ", ".join(map(repr, lacking)))
    for key, hint in hints.items():
        if key in value:
            _check(value[key], hint, _join(path, key))


@functools.cache
def _hints(typed: Any) -> dict[str, Any]:
    """A TypedDict's fields in the order they are declared (required bases first)."""
    return get_type_hints(typed)


def _check_union(value: object, hint: Any, path: str) -> None:
    """``X | None``: null, else the check of ``X`` (whose message names the item inside a list)."""
    options = [option for option in get_args(hint) if option is not type(None)]
    if value is None and len(options) < len(get_args(hint)):
        return
    if len(options) == 1:
        try:
            _check(value, options[0], path)
        except _Mismatch as exc:
            if exc.path != path:  # a wrong item inside the value: that item is the news
                raise
            raise _Mismatch(path, f"is {describe(value)}, expected {_expected(hint)}") from None
        return
    for option in options:
        try:
            _check(value, option, path)
            return
        except _Mismatch:
            continue
    raise _Mismatch(path, f"is {describe(value)}, expected {_expected(hint)}")


#: The Python types JSON gives each declared scalar (exact: a bool is no number, an int a fine float).
_SCALAR_TYPES: dict[Any, set[type]] = {
    str: {str},
    int: {int},
    float: {int, float},
    bool: {bool},
    type(None): {type(None)},
}


def _is_scalar(value: object, hint: Any) -> bool:
    """JSON's scalars; a bool is not a number here, and an integer is a fine float (``1`` for ``1.0``)."""
    if hint is type(None):
        return value is None
    if hint is bool or hint is str:
        return isinstance(value, hint)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    raise TypeError(f"the case record declares a type it cannot check: {hint!r}")  # a bug in this module


def _expected(hint: Any) -> str:
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_expected(option) for option in get_args(hint))
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}
    if hint in names:
        return names[hint]
    return "a list" if get_origin(hint) is list else "an object"


def describe(value: object) -> str:
    """A value's JSON kind, with the value when it is a short scalar (``a string ('0.8')``); the
    storage readers word their own errors with it, so every file error reads the same way."""
    kinds = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    kind = kinds.get(type(value), f"a {type(value).__name__}")
    shown = repr(value)
    scalar = isinstance(value, (str, int, float)) or hasattr(value, "item")  # numpy scalars have .item()
    return f"{kind} ({shown})" if scalar and len(shown) <= 40 else kind


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# ------------------------------------------------------------------------------------------- labels


def variant_label(settings: Mapping[str, Any]) -> str:
    """The variant a case's explicit run settings make: ``"ips=typiclust head=mlp"``, or ``""``.

    Strategy parameters are a treatment too (a TypiClust with 5 neighbours is not the default one), so
    non-empty ``strategy_params`` add ``k_neighbors=5``-style parts, sorted by name."""
    parts = [f"{short}={settings[key]}" for key, short in VARIANT_KEYS.items() if key in settings]
    params = settings.get("strategy_params") or {}
    parts += [f"{name}={_param_text(value)}" for name, value in sorted(dict(params).items())]
    return " ".join(parts)


def _param_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def variant_of(record: Mapping[str, Any]) -> str:
    """The stored variant of a case record (``""`` when the case ran with the default treatments)."""
    return str(record.get("variant") or "")


def with_variant(label: str, record: Mapping[str, Any]) -> str:
    """``label`` with the case's variant appended: cases of another treatment are ranked apart."""
    variant = variant_of(record)
    return f"{label} [{variant}]" if variant else label


def protocol_of(record: Mapping[str, Any]) -> str:
    """The named protocol the case ran under (``"default"`` for records that predate protocols)."""
    return str(record.get("protocol") or record.get("config", {}).get("protocol") or "default")


def ips_of(record: Mapping[str, Any]) -> str:
    """The initial-pool method the case ran with."""
    return str(record.get("config", {}).get("initial_pool_method", DEFAULT_IPS))


def head_of(record: Mapping[str, Any]) -> str:
    """The classifier head the case ran with."""
    return str(record.get("config", {}).get("head", DEFAULT_HEAD))


def cell_embedding(record: Mapping[str, Any]) -> str:
    """The embedding as a cell key; runs merged with ``--label`` stay apart (never pair across runs)."""
    label = record.get("run_label")
    return f"{record['embedding']} [run={label}]" if label else str(record["embedding"])
