"""The benchmark suites stay collectable everywhere, so the paper grid cannot rot on CPU machines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytest_albench.embeddings import LADDER

REPO = Path(__file__).resolve().parents[1]


def collect(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


#: Each suite's test functions by node id: named so, the cases of a suite whose requirements are missing
#: here are kept (skipped with the reason) instead of deselected, so the whole grid is listed.
SUITE_FUNCTIONS = (
    "benchmarks/test_paper.py::test_paper",
    "benchmarks/test_local.py::test_local",
    "benchmarks/test_local.py::test_local_ips",
    "benchmarks/test_default.py::test_bbc",
)
#: Where neither the data dir nor the Hub is to be had (tests/conftest.py switches the Hub off too).
NOTHING_HERE = {"HF_HUB_OFFLINE": "1", "ALBENCH_DATA_DIR": ""}


def test_every_suite_collects_its_full_grid() -> None:
    out = collect(*SUITE_FUNCTIONS)
    assert out.count("test_paper.py::test_paper[") == 10 * 7 * 7 * 3
    rungs = len(LADDER)
    assert out.count("test_local.py::test_local[") == 10 * rungs * 11
    assert out.count("test_local.py::test_local_ips[") == 10 * rungs * 3 * 2  # 3 strategies × 2 IPS methods
    assert out.count("test_default.py::test_bbc[") == rungs * 11 * 2
    assert "test_paper[glue/mnli-nvidia/NV-Embed-v2-badge-ips_typiclust]" in out


def test_the_main_job_deselects_the_suites_it_cannot_run_with_one_line_each() -> None:
    """``pytest benchmarks`` without a data dir, the Hub or a GPU runs the default suite only, and says why."""
    out = collect("benchmarks", env=NOTHING_HERE)
    lines = [line for line in out.splitlines() if line.startswith("albench: deselected")]
    local = [line for line in lines if " local-suite cases: " in line]
    paper = [line for line in lines if " paper-suite cases: " in line]
    assert len(local) == 1 and local[0].endswith("cases: need --albench-data-dir DIR (or ALBENCH_DATA_DIR)")
    assert len(paper) == 1 and "Hugging Face Hub access (HF_HUB_OFFLINE" in paper[0]
    assert "test_local.py::" not in out and "test_paper.py::" not in out and "test_default.py::" in out


def test_paper_and_local_suites_named_by_node_id_skip_with_a_reason_that_says_what_is_needed() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-rs",
            "-q",
            "-p",
            "no:cacheprovider",
            "benchmarks/test_paper.py::test_paper",
            "benchmarks/test_local.py::test_local",
            "-k",
            "ag_news and margin and (tfidf or bert)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **NOTHING_HERE},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "albench: need " in done.stdout and "Hugging Face Hub access (HF_HUB_OFFLINE" in done.stdout
    assert "albench: need --albench-data-dir DIR (or ALBENCH_DATA_DIR)" in done.stdout


def collected_ids(test: str) -> list[list[str]]:
    """The parameter ids of every collected case of one suite's test function (named by node id, so that
    the rungs missing here are listed too), split at the dashes of the id."""
    out = collect(f"benchmarks/{test}")
    return [line.split("[", 1)[1].rstrip("]").split("-") for line in out.splitlines() if "::" in line and "[" in line]


def test_the_default_suite_is_the_registries_ladder_times_every_registered_strategy() -> None:
    """The suites copy neither the ladder nor the strategy list: both come from the registries."""
    from pytest_albench.embeddings import LADDER
    from pytest_albench.strategies import strategy_names

    ids = ["-".join(parts) for parts in collected_ids("test_default.py::test_bbc")]
    expected = [f"bbc_news-{e}-{s}-ips_{m}" for e in LADDER for s in strategy_names() for m in ("random", "typiclust")]
    assert ids == expected


def test_a_rung_is_skipped_by_what_its_spec_says_it_needs() -> None:
    from pytest_albench.embeddings import EncoderSpec, missing_requirement

    installed = EncoderSpec("here", "callable", packages=("pytest",), modules=("json",))
    assert missing_requirement(installed) is None
    # A distribution whose folder is not an importable module is found by its name (the mpnet parts).
    absent = EncoderSpec(
        "gone",
        "callable",
        packages=("pytest", "no-such-dist-albench"),
        modules=("json", "no_such_module_albench"),
        pip_hint="pip install gone-weights",
    )
    assert missing_requirement(absent) == (
        "gone is not installed (missing no-such-dist-albench and 1 more): pip install gone-weights"
    )
