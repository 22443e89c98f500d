"""``@pytest.mark.albench_requires(...)``: cases that need what this machine lacks are deselected at collection.

A suite says what its cases need, and the plugin decides once per session whether that is here::

    pytestmark = pytest.mark.albench_requires(data_dir=True, label="local-suite")
    pytestmark = pytest.mark.albench_requires(packages={"datasets": "pip install 'pytest-albench[hub]'"},
                                              hub=True, cuda=True, label="paper-suite")
    pytest.param("mpnet-base", marks=pytest.mark.albench_requires(encoder="mpnet-base"))

The requirements: ``data_dir`` (``--albench-data-dir``, ``ALBENCH_DATA_DIR`` or the ini key), ``hub``
(Hugging Face Hub access: missing only when ``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE`` switch it off),
``cuda`` (a CUDA GPU; torch is imported only if some selected case asks), ``packages`` (importable
module names, or a mapping of module name to its install command) and ``encoder`` (the encoder's own
packages, by :func:`pytest_albench.embeddings.missing_requirement`). ``label`` names the cases in the line.

The rules:

* A case whose requirement is missing is **deselected** (``pytest_deselected``: pytest's summary counts
  it as deselected), and the session prints one line per missing requirement, after collection::

      albench: deselected 1,100 local-suite cases: need --albench-data-dir DIR (or ALBENCH_DATA_DIR)

  A case with several missing requirements is counted once, under the outermost (module before function
  before parameter), so the lines add up to the number deselected.
* A case **named by node id** on the command line (an argument with ``::``, e.g.
  ``benchmarks/test_paper.py::test_paper`` or one parametrization of it) is kept and *skipped* with the
  same reason, so ``-rs`` says why instead of the case silently vanishing. Directories, files, ``-k``
  and ``-m`` select broadly and get the deselection.
* It runs after ``-k``/``-m``/``--deselect`` (the counts are of what the user selected) and before
  ``--albench-shard`` (the shards split what can run).
* Under xdist every worker collects and deselects alike: the answer depends only on the options, the
  environment and the machine, never on the worker. The controller, which collects nothing, prints the
  lines of the first worker once (see :mod:`.workers`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

MARKER = "albench_requires"
PLUGIN_NAME = "albench-requirements"
#: The ``config.workeroutput`` key a worker publishes its deselection lines under.
WORKEROUTPUT_KEY = "albench_deselected"
#: The stash key of this process's deselection lines (what :func:`deselection_lines` returns).
LINES_KEY = pytest.StashKey[list[str]]()

_FLAGS = ("data_dir", "hub", "cuda")
_KEYWORDS = (*_FLAGS, "packages", "encoder", "label")
_OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@dataclass(frozen=True)
class Requirement:
    """One ``albench_requires`` marker, validated: what its cases need and how the line names them."""

    label: str = ""
    data_dir: bool = False
    hub: bool = False
    cuda: bool = False
    packages: tuple[tuple[str, str], ...] = ()
    encoder: str | None = None

    @classmethod
    def from_mark(cls, mark: pytest.Mark, where: str) -> Requirement:
        unknown = sorted(set(mark.kwargs) - set(_KEYWORDS))
        if mark.args or unknown:
            raise pytest.UsageError(
                f"{where}: @pytest.mark.{MARKER} takes keywords only ({', '.join(_KEYWORDS)}); "
                f"got {list(mark.args) + unknown}"
            )
        packages = mark.kwargs.get("packages", ())
        if isinstance(packages, str):
            packages = (packages,)
        pairs = (
            tuple((str(k), str(v)) for k, v in packages.items())
            if isinstance(packages, Mapping)
            else tuple((str(name), "") for name in packages)
        )
        encoder = mark.kwargs.get("encoder")
        return cls(
            label=str(mark.kwargs.get("label", encoder or "")),
            packages=pairs,
            encoder=None if encoder is None else str(encoder),
            **{flag: bool(mark.kwargs.get(flag, False)) for flag in _FLAGS},
        )


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def missing(requirement: Requirement, data_dir: str | None, cuda: Callable[[], bool] = _cuda_available) -> str | None:
    """What the cases of ``requirement`` lack here, as the end of the deselection line, or None."""
    if requirement.encoder is not None:
        from ..embeddings import missing_requirement

        reason = missing_requirement(requirement.encoder)
        if reason is not None:
            return reason
    needs = []
    if requirement.data_dir and not data_dir:
        needs.append("--albench-data-dir DIR (or ALBENCH_DATA_DIR)")
    for module, hint in requirement.packages:
        if importlib.util.find_spec(module) is None:
            needs.append(f"the {module!r} package" + (f" ({hint})" if hint else ""))
    if requirement.hub:
        offline = [
            var for var in _OFFLINE_VARS if os.environ.get(var, "").strip().lower() in {"1", "true", "yes", "on"}
        ]
        if offline:
            needs.append(f"Hugging Face Hub access ({' and '.join(offline)} set in your environment: unset it)")
    if requirement.cuda and not cuda():
        needs.append("a CUDA GPU")
    return "need " + ", ".join(needs) if needs else None


def named_prefixes(config: pytest.Config) -> list[str]:
    """The node ids the command line names (its ``::`` arguments), relative to the rootdir like node ids."""
    root = Path(str(config.rootpath))
    prefixes = []
    for arg in config.args:
        if "::" not in arg:
            continue
        path, _, rest = arg.partition("::")
        for anchor in (Path(config.invocation_params.dir), root):
            candidate = (anchor / path).resolve()
            if candidate.exists():
                with contextlib.suppress(ValueError):  # outside the rootdir: pytest's node id keeps the arg
                    path = candidate.relative_to(root.resolve()).as_posix()
                break
        prefixes.append(f"{path}::{rest}")
    return prefixes


def is_named(nodeid: str, prefixes: Sequence[str]) -> bool:
    return any(nodeid == p or nodeid.startswith((p + "[", p + "::")) for p in prefixes)


def line(label: str, count: int, why: str) -> str:
    what = f"{label} case" if label else "case"
    return f"albench: deselected {count:,} {what}{'' if count == 1 else 's'}: {why}"


class RequirementsPlugin:
    """Deselects (or, for cases named by node id, skips) the cases whose ``albench_requires`` is missing."""

    def __init__(self, config: pytest.Config, data_dir: str | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._answers: dict[Requirement, str | None] = {}

    def _why(self, item: pytest.Item) -> tuple[str, str] | None:
        """(label, reason) of the outermost missing requirement of ``item``, or None when it can run."""
        for mark in reversed(list(item.iter_markers(MARKER))):  # iter_markers is closest first
            requirement = Requirement.from_mark(mark, item.nodeid)
            if requirement not in self._answers:
                self._answers[requirement] = missing(requirement, self.data_dir)
            reason = self._answers[requirement]
            if reason is not None:
                return requirement.label, reason
        return None

    @pytest.hookimpl(trylast=True)  # after -k/-m/--deselect; registered before the shard plugin, so before it
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        named = named_prefixes(config)
        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        counts: dict[tuple[str, str], int] = {}
        for item in items:
            why = self._why(item)
            if why is None:
                kept.append(item)
            elif is_named(item.nodeid, named):
                item.add_marker(pytest.mark.skip(reason=f"albench: {why[1]}"))
                kept.append(item)
            else:
                dropped.append(item)
                counts[why] = counts.get(why, 0) + 1
        lines = [line(label, count, why) for (label, why), count in counts.items()]
        config.stash[LINES_KEY] = lines
        workeroutput = getattr(config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[WORKEROUTPUT_KEY] = lines
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        """Printed after pytest's "collected N items / M deselected" line (not under xdist, where the
        controller collects nothing: it prints the first worker's lines, see :mod:`.workers`)."""
        return deselection_lines(config)


def deselection_lines(config: pytest.Config) -> list[str]:
    """This process's deselection lines (empty before collection and on the xdist controller)."""
    if LINES_KEY not in config.stash:
        return []
    lines: list[str] = config.stash[LINES_KEY]
    return lines.copy()


def register_requirements(config: pytest.Config, data_dir: str | None) -> None:
    """Register the marker and the plugin; call it before the shard plugin is registered (pluggy calls
    trylast implementations in the order they were registered)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(data_dir=, hub=, cuda=, packages=, encoder=, label=): what the cases need; where it is "
        "missing they are deselected at collection with one line per requirement (skipped with the reason "
        "when named by node id)",
    )
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(RequirementsPlugin(config, data_dir), PLUGIN_NAME)
