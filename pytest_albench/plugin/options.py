"""Command-line options, ini keys and profiles, resolved once into :class:`AlbenchSettings`.

Each setting has a ``--albench-*`` option and an ``albench_*`` ini key; the command line wins, then
(where one exists) an environment variable, then the ini file, then the default. Option values stay
plain strings until resolved so that xdist can ship them to workers.

Every pytest run where the package is installed imports this module, so it imports nothing heavy:
the choice lists come from the numpy-free :mod:`pytest_albench.choices`, and the baselines' settings
object is built only when a case is judged.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..choices import (
    CORRECTIONS,
    DEFAULT_CORRECTION,
    DEFAULT_PAIRED_TEST,
    DEFAULT_PLOT_FORMAT,
    DEFAULT_PROTOCOL,
    DEVICE_PATTERN,
    PAIRED_TESTS,
    PLOT_FORMATS,
    PROTOCOL_SUMMARIES,
    STATUSES,
)
from .shard import ShardSpec, resolve_shard

if TYPE_CHECKING:  # pragma: no cover - the import pulls in numpy, which the plugin's import must not
    from ..analysis.verdict import CompareSettings

#: What each profile changes; explicit per-case settings (marker or call arguments) win.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"seeds": (0, 1, 2), "cycles": 5, "max_pool": 1000, "max_test": 1000},
    "default": {"seeds": (0, 1, 2), "cycles": 10, "max_pool": None, "max_test": None},
    "full": {"seeds": (0, 1, 2, 3, 4), "cycles": 20, "max_pool": None, "max_test": None},
}

COMPARE_POLICIES = {
    "off": "do not read baselines",
    "report": "compare and report every verdict, never fail a test",
    "regressions": "fail a case that regressed (default)",
    "strict": "fail regressed, drift, numeric, stale and new cases: nothing unverified passes",
}
FAIL_ON: dict[str, frozenset[str]] = {
    "off": frozenset(),
    "report": frozenset(),
    "regressions": frozenset({"regressed"}),
    "strict": frozenset({"regressed", "drift", "numeric", "stale", "new"}),
}
#: ``--albench-schedule``: how ``pytest -n N`` hands cases to workers (see ``plugin/workers.py``).
SCHEDULES = ("pairs", "xdist")
UPDATE_MODES = {
    "none": "never write baselines (default)",
    "new": "write baselines only for cases that have none",
    "all": "rewrite the baselines of every case that ran",
}

# (option suffix, ini type, default, help)
_OPTIONS: list[tuple[str, str, str | None, str]] = [
    (
        "data-dir",
        "string",
        None,
        "root of local datasets <root>/<name>/{train,validation,test}.csv (env ALBENCH_DATA_DIR)",
    ),
    ("cache-dir", "string", None, "embedding cache directory (env ALBENCH_CACHE_DIR; default ~/.cache/pytest-albench)"),
    ("profile", "string", "default", "run size: smoke (CI), default, full; see README for what each sets"),
    (
        "protocol",
        "string",
        DEFAULT_PROTOCOL,
        "named protocol of every case that sets none (a case's own protocol= wins): "
        + "; ".join(f"{k}: {v}" for k, v in PROTOCOL_SUMMARIES.items()),
    ),
    ("seeds", "string", None, "seeds for every case, e.g. '0,1,2' or '0-4' (default: the profile's)"),
    ("device", "string", "auto", "torch device: auto (GPU when present), cpu, cuda, cuda:N"),
    ("baseline-dir", "string", None, "baseline directory (default: baselines/<profile>/ beside each test file)"),
    (
        "compare",
        "string",
        "regressions",
        "baseline policy: " + "; ".join(f"{k}: {v}" for k, v in COMPARE_POLICIES.items()),
    ),
    ("update", "string", "none", "baseline writes: " + "; ".join(f"{k}: {v}" for k, v in UPDATE_MODES.items())),
    ("tolerance", "string", "0.01", "smallest mean AULC drop that can count as a regression (0.01 = 1 point)"),
    ("alpha", "string", "0.05", "significance level of the regression gate (after the session-wide correction)"),
    (
        "correction",
        "string",
        DEFAULT_CORRECTION,
        "error control over the session's cases: " + "; ".join(f"{k}: {v}" for k, v in CORRECTIONS.items()),
    ),
    ("test", "string", DEFAULT_PAIRED_TEST, "paired test for regressions: " + ", ".join(PAIRED_TESTS)),
    ("json", "string", None, "write all results (with curves) as JSON to this path"),
    ("csv", "string", None, "write one row per (case, seed) as CSV to this path"),
    ("markdown", "string", None, "write the rank tables as Markdown (e.g. $GITHUB_STEP_SUMMARY)"),
    ("plots", "string", None, "write figures and a one-page report (report.md, report.html) into this folder"),
    ("plot-format", "string", DEFAULT_PLOT_FORMAT, "figure files of --albench-plots: " + ", ".join(PLOT_FORMATS)),
    (
        "schedule",
        "string",
        "pairs",
        "under pytest -n: pairs (an (encoder, dataset) pair's first case runs before its other cases are "
        "spread over the workers, so no worker waits on an embedding another computes while there is other "
        "work) or xdist (xdist's --dist as given; a pair's cases carry an xdist_group mark for --dist loadgroup)",
    ),
    (
        "cpu-slots",
        "string",
        "auto",
        "under pytest -n: how many workers compute at once (an AL case or an encoding; an encoding waiting for a "
        "slot goes first). auto: on CPU, the usable cores when there are more workers than cores, else no "
        "limit; N; or off",
    ),
    (
        "progress-every",
        "string",
        "10",
        "under pytest -n: print a line on a case running longer than this many seconds, at most this often",
    ),
    (
        "shard",
        "string",
        None,
        "run shard K of N (K/N, 0-based) of the albench cases, or off; env ALBENCH_SHARD, "
        "else SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX with ALBENCH_SHARD_COUNT (see docs/scale-out.md)",
    ),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("albench", "active-learning benchmarks (pytest-albench)")
    for suffix, ini_type, default, help_text in _OPTIONS:
        dest = "albench_" + suffix.replace("-", "_")
        group.addoption(
            f"--albench-{suffix}",
            dest=dest,
            default=None,
            metavar=suffix.split("-")[-1].upper(),
            help=help_text + (f" [default: {default}]" if default else ""),
        )
        parser.addini(dest, help=help_text, type=ini_type, default=default)  # type: ignore[arg-type]
    group.addoption(
        "--albench-trust-remote-code",
        dest="albench_trust_remote_code",
        action="store_true",
        default=None,
        help="allow encoders that need trust_remote_code (runs code from the hub)",
    )
    parser.addini(
        "albench_trust_remote_code", help="allow encoders that need trust_remote_code", type="bool", default=False
    )
    group.addoption(
        "--albench-embed-only",
        dest="albench_embed_only",
        action="store_true",
        default=False,
        help="the embedding stage: embed every (encoder, dataset) pair the selected cases need into the cache, "
        "one encoder at a time per GPU, and run no AL; a later run only reads the cache",
    )
    group.addoption(
        "--albench-no-progress",
        dest="albench_no_progress",
        action="store_true",
        default=False,
        help="do not show per-case progress (embedding, seed, cycle)",
    )


#: More seeds than this per case is a typo ('0-100000000' for '0-10'), not a plan: each seed is a whole AL
#: run of every case, and even collecting a range that large takes minutes and gigabytes.
MAX_SEEDS = 1000


def parse_seeds(text: str, name: str = "--albench-seeds") -> tuple[int, ...]:
    """'0,1,2' or '0-4' or '3,7-9' → sorted unique seeds; raises UsageError with the accepted forms."""
    seeds: set[int] = set()
    try:
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = (int(end) for end in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                if hi - lo + 1 > MAX_SEEDS:
                    raise pytest.UsageError(
                        f"{name}: {part!r} is {hi - lo + 1:,} seeds, more than {MAX_SEEDS:,}; did you mean a "
                        "shorter range (e.g. '0-9')?"
                    )
                seeds.update(range(lo, hi + 1))
            else:
                seeds.add(int(part))
            if len(seeds) > MAX_SEEDS:
                raise pytest.UsageError(f"{name}: {text!r} holds more than {MAX_SEEDS:,} seeds")
    except ValueError:
        raise pytest.UsageError(f"{name}: cannot parse {text!r}; use e.g. '0,1,2' or '0-4'") from None
    if not seeds or min(seeds) < 0:
        raise pytest.UsageError(f"{name}: need at least one non-negative seed, got {text!r}")
    return tuple(sorted(seeds))


def _choice(name: str, value: str, choices: dict[str, str] | tuple[str, ...]) -> str:
    if value not in choices:
        raise pytest.UsageError(f"--albench-{name}: invalid value {value!r}; choose one of {', '.join(choices)}")
    return value


def _slots(value: str) -> int | None:
    """``--albench-cpu-slots``: None for auto, 0 for off, else the number of slots."""
    text = value.strip().lower()
    if text == "auto":
        return None
    if text in ("off", "0"):
        return 0
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 1:
        raise pytest.UsageError(f"--albench-cpu-slots: {value!r} is not auto, off or a positive number of slots")
    return number


def _seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise pytest.UsageError(f"--albench-{name}: {value!r} is not a number of seconds") from None
    if math.isnan(number):
        raise pytest.UsageError(f"--albench-{name}: {value!r} is not a number of seconds")
    if not number >= 0:
        raise pytest.UsageError(f"--albench-{name}: {number} must not be negative")
    return number


def is_tolerance(number: float) -> bool:
    """A mean AULC drop that may count as a regression: in [0, 1] (the AULC's whole range)."""
    return 0.0 <= number <= 1.0


def is_level(number: float) -> bool:
    """A significance level, in the open interval (0, 1): at 0 the gate could never flag a regression,
    at 1 it would flag every case."""
    return 0.0 < number < 1.0


def _probability(name: str, value: str) -> float:
    """A tolerance (:func:`is_tolerance`)."""
    try:
        number = float(value)
    except ValueError:
        raise pytest.UsageError(f"--albench-{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise pytest.UsageError(f"--albench-{name}: {value!r} is not a finite number")
    if not is_tolerance(number):
        raise pytest.UsageError(f"--albench-{name}: {number} must lie in [0, 1.0]")
    return number


def _level(name: str, value: str) -> float:
    """A significance level (:func:`is_level`)."""
    try:
        number = float(value)
    except ValueError:
        raise pytest.UsageError(f"--albench-{name}: {value!r} is not a number") from None
    if not is_level(number):
        raise pytest.UsageError(
            f"--albench-{name}: {value!r} must lie strictly between 0 and 1 (e.g. 0.05); at 0 no regression "
            "could ever be flagged, at 1 every case would be"
        )
    return number


@dataclass(frozen=True)
class AlbenchSettings:
    """The resolved, read-only settings of one session."""

    profile: str
    seeds: tuple[int, ...]
    data_dir: str | None
    cache_dir: str | None
    device: str
    baseline_dir: str | None
    compare: str
    update: str
    tolerance: float
    alpha: float
    test: str
    correction: str
    json_path: str | None
    csv_path: str | None
    markdown_path: str | None
    trust_remote_code: bool
    progress: bool
    rootdir: str = field(default=".")
    plots_dir: str | None = None
    plot_format: str = DEFAULT_PLOT_FORMAT
    shard: ShardSpec | None = None
    protocol: str = DEFAULT_PROTOCOL
    #: ``--albench-embed-only``: cases embed what they need and run no AL (the embedding stage).
    embed_only: bool = False
    schedule: str = "pairs"
    progress_every: float = 10.0
    #: ``--albench-cpu-slots``: None auto, 0 off, N slots (see :func:`cpu_slots_for`).
    cpu_slots: int | None = None

    @property
    def shard_record(self) -> dict[str, Any] | None:
        """The results file's ``shard`` entry (K/N, the grid's digest, this shard's pairs and cases), or None."""
        return self.shard.record() if self.shard is not None else None

    @property
    def compare_settings(self) -> CompareSettings:
        """The baselines' comparison settings, imported on first use: only judging a case needs them."""
        from ..analysis.verdict import CompareSettings

        return CompareSettings(tolerance=self.tolerance, alpha=self.alpha, test=self.test, correction=self.correction)

    @property
    def fail_on(self) -> frozenset[str]:
        return FAIL_ON[self.compare]

    @property
    def profile_defaults(self) -> dict[str, Any]:
        return {k: v for k, v in PROFILES[self.profile].items() if k != "seeds"}

    def baseline_dir_for(self, test_file: Path) -> Path:
        if self.baseline_dir:
            base = Path(self.baseline_dir)
            base = base if base.is_absolute() else Path(self.rootdir) / base
            return base / self.profile / test_file.stem
        return test_file.parent / "baselines" / self.profile / test_file.stem

    def header(self) -> str:
        return (
            f"albench: profile={self.profile} protocol={self.protocol} seeds={','.join(map(str, self.seeds))} "
            f"device={self.device} "
            f"compare={self.compare} update={self.update} tolerance={self.tolerance} "
            f"alpha={self.alpha} correction={self.correction} test={self.test} "
            f"data-dir={self.data_dir or '-'}"
        )


def _raw_with_source(config: pytest.Config, suffix: str, env: str | None = None) -> tuple[Any, str]:
    """The setting's value and where it came from: ``cli``, ``env``, ``ini`` (or ``default``)."""
    dest = "albench_" + suffix.replace("-", "_")
    if config.getoption(dest) == "":  # e.g. --albench-json=$OUT with OUT unset: say so, do not drop the output
        raise pytest.UsageError(f"--albench-{suffix}: the value is empty; give one, or leave the option out")
    candidates = (
        (config.getoption(dest), "cli"),
        ((os.environ.get(env) or None) if env else None, "env"),
        (config.getini(dest), "ini"),
    )
    for value, source in candidates:
        if value not in ("", None):
            return value, source
    return None, "default"


def given_on_command_line(config: pytest.Config, *suffixes: str) -> frozenset[str]:
    """Which of the settings ``suffixes`` (``data-dir``, ...) this session's command line gave."""
    return frozenset(suffix for suffix in suffixes if _raw_with_source(config, suffix)[1] == "cli")


def _raw(config: pytest.Config, suffix: str, env: str | None = None) -> Any:
    return _raw_with_source(config, suffix, env)[0]


def _path(config: pytest.Config, suffix: str, env: str | None = None) -> str | None:
    """Relative paths from the command line or environment are relative to the invocation dir, from
    the ini file to the rootdir (where the ini file lives)."""
    value, source = _raw_with_source(config, suffix, env)
    if value is None:
        return None
    path = Path(os.path.expanduser(str(value)))
    if not path.is_absolute():
        anchor = Path(str(config.rootpath)) if source == "ini" else Path(config.invocation_params.dir)
        path = anchor / path
    return str(path)


_DEVICE = re.compile(DEVICE_PATTERN)


def _device(value: str) -> str:
    """The device's spelling is checked at start-up, once, not at every case's setup; whether a GPU of
    that index exists is checked when the first case is collected (that needs torch)."""
    device = value.strip().lower()
    if not _DEVICE.match(device):
        raise pytest.UsageError(f"--albench-device: {value!r} is not a device; use auto, cpu, cuda or cuda:N")
    return device


def resolve_settings(config: pytest.Config) -> AlbenchSettings:
    profile = _choice("profile", str(_raw(config, "profile")), tuple(PROFILES))
    seeds_raw = _raw(config, "seeds")
    seeds = parse_seeds(str(seeds_raw)) if seeds_raw is not None else tuple(PROFILES[profile]["seeds"])
    trust = config.getoption("albench_trust_remote_code")
    return AlbenchSettings(
        profile=profile,
        seeds=seeds,
        data_dir=_path(config, "data-dir", "ALBENCH_DATA_DIR"),
        cache_dir=_path(config, "cache-dir", "ALBENCH_CACHE_DIR"),
        device=_device(str(_raw(config, "device"))),
        baseline_dir=_path(config, "baseline-dir"),
        compare=_choice("compare", str(_raw(config, "compare")), COMPARE_POLICIES),
        update=_choice("update", str(_raw(config, "update")), UPDATE_MODES),
        tolerance=_probability("tolerance", str(_raw(config, "tolerance"))),
        alpha=_level("alpha", str(_raw(config, "alpha"))),
        test=_choice("test", str(_raw(config, "test")), tuple(PAIRED_TESTS)),
        correction=_choice("correction", str(_raw(config, "correction")), tuple(CORRECTIONS)),
        json_path=_path(config, "json"),
        csv_path=_path(config, "csv"),
        markdown_path=_path(config, "markdown"),
        trust_remote_code=bool(trust if trust is not None else config.getini("albench_trust_remote_code")),
        progress=not config.getoption("albench_no_progress"),
        embed_only=bool(config.getoption("albench_embed_only")),
        rootdir=str(config.rootpath),
        plots_dir=_path(config, "plots"),
        plot_format=_choice("plot-format", str(_raw(config, "plot-format")), tuple(PLOT_FORMATS)),
        shard=resolve_shard(config.getoption("albench_shard"), config.getini("albench_shard"), os.environ),
        protocol=_choice("protocol", str(_raw(config, "protocol")), tuple(PROTOCOL_SUMMARIES)),
        schedule=_choice("schedule", str(_raw(config, "schedule")), SCHEDULES),
        progress_every=_seconds("progress-every", str(_raw(config, "progress-every"))),
        cpu_slots=_slots(str(_raw(config, "cpu-slots"))),
    )


def cpu_slots_for(setting: int | None, workers: int, cores: int, on_gpu: bool = False) -> int:
    """How many of ``workers`` processes may compute at once on ``cores`` cores (0: no limit).

    ``auto`` (None) limits CPU cases to the cores only when there are more workers than cores: fewer
    would leave cores idle, and with a core per worker the slots would change nothing. Cases on a GPU
    spend their time waiting for it, so ``auto`` does not limit them.
    """
    if setting is None:
        return cores if workers > cores and not on_gpu else 0
    return setting if setting < workers else 0


__all__ = ["PROFILES", "STATUSES", "AlbenchSettings", "add_options", "cpu_slots_for", "parse_seeds", "resolve_settings"]
