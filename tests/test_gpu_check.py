"""The GPU check (``benchmarks/gpu_check.sh``, ``python -m benchmarks.perf.gpu_check``) without a GPU.

No GPU has been available to this project, so what can be checked here is checked: the skip line on a
machine without CUDA, the script's syntax and argument checks, the in-process steps' code in the CPU dry
run (``--device cpu``, tiny sizes), and how the two subprocess steps read what their commands printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks.perf import gpu_check

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_check.sh"


def _script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=REPO,
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("cuda_build", [None, "12.8"], ids=["cpu-build", "cuda-build-no-gpu"])
def test_without_a_gpu_the_module_prints_one_skip_line_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cuda_build: str | None
) -> None:
    monkeypatch.setattr(torch.version, "cuda", cuda_build)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu check skipped: ")
    assert ("CPU-only build" in lines[0]) == (cuda_build is None)
    assert ("sees no CUDA GPU" in lines[0]) == (cuda_build is not None)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script would run the check")
def test_the_script_skips_with_the_reason_on_a_machine_without_cuda() -> None:
    done = _script()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu check skipped: "), done.stdout


def test_the_script_parses_and_refuses_unknown_steps_and_arguments() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    if shutil.which("shellcheck"):
        lint = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
    bad_step = _script(GPU_CHECK_STEPS="env nope")
    assert bad_step.returncode == 2 and "unknown step nope" in bad_step.stderr
    bad_arg = _script("--fast")
    assert bad_arg.returncode == 2 and "unknown argument --fast" in bad_arg.stderr
    assert gpu_check.STEPS == ("env", "device", "strategies", "embedding", "peers", "plugin")
    for step in gpu_check.STEPS:  # every step has a time limit in the script
        assert f"[{step}]=" in SCRIPT.read_text()


def test_cpu_dry_run_of_the_in_process_steps(capsys: pytest.CaptureFixture[str]) -> None:
    """Two strategies keep it short; ``benchmarks/gpu_check.sh --device cpu`` runs all of them."""
    from pytest_albench.engine.heads import head_names

    steps = ["env", "device", "strategies", "embedding"]
    strategies = ["margin", "badge"]
    argv = ["--device", "cpu", *(a for s in steps for a in ("--step", s)), "--strategies", *strategies]
    status = gpu_check.main(argv)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "DRY RUN" in out and out.count(": ok in ") == len(steps)
    assert "WRONG" not in out and "resolve_device('auto', worker_index=1)" in out
    rows = [line.split()[:2] for line in out.splitlines()]
    for strategy in strategies:
        for head in head_names():
            assert [strategy, head] in rows, (strategy, head)
    # the same device twice: the runs are deterministic, so every selection is the same
    assert f"{len(strategies) * len(head_names())} runs compared; selections differ from the CPU's in 0" in out
    assert "cpu half_precision_on_gpu (float32: half precision applies on CUDA only)" in out


def _completed(argv: list[str], stdout: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([sys.executable, *argv], returncode, stdout, "  ... progress\n")


def test_the_plugin_step_reads_workers_and_devices(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = gpu_check.Context("cpu", gpu_check.DRY)
    devices = {"gw0": "cpu (x86_64, 1 threads)", "gw1": "cpu (x86_64, 1 threads)"}

    def fake(ctx_: gpu_check.Context, step: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        assert step == "plugin" and argv[:2] == ["-m", "pytest"]
        assert argv[argv.index("--albench-device") + 1] == "cpu" and argv[argv.index("-n") + 1] == "2"
        nodeids = [a for a in argv if a.startswith("benchmarks/test_default.py::")]
        lines = [f"[gw{i % 2}] [ 50%] PASSED {nodeid} " for i, nodeid in enumerate(nodeids)]
        cases = [
            {
                "nodeid": nodeid,
                "case_id": nodeid.split("::")[1],
                "environment": {"device": devices[f"gw{i % 2}"]},
                "runs": [{"aulc": 0.5, "total_time_s": 1.0}, {"aulc": 0.7, "total_time_s": 1.5}],
                "baseline": {"status": "numeric"},
            }
            for i, nodeid in enumerate(nodeids)
        ]
        Path(argv[argv.index("--albench-json") + 1]).write_text(json.dumps({"cases": cases}))
        return _completed(argv, "\n".join(lines))

    monkeypatch.setattr(gpu_check, "_subprocess", fake)
    gpu_check.step_plugin(ctx)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("test_bbc[bbc_news-tfidf-lsa-random"))
    assert row.split()[1:4] == ["gw1", "PASSED", "cpu"] and "0.6000" in row and "numeric" in row
    devices["gw1"] = "cuda:0 (NVIDIA H200)"
    with pytest.raises(AssertionError, match="wrong device"):
        gpu_check.step_plugin(ctx)


def test_the_peers_step_fails_when_the_benchmark_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = gpu_check.Context("cuda", gpu_check.GPU)
    seen: list[list[str]] = []

    def fake(ctx_: gpu_check.Context, step: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        seen.append(argv)
        return _completed(argv, "N = 2,500 table", returncode=len(seen) - 1)

    monkeypatch.setattr(gpu_check, "_subprocess", fake)
    gpu_check.step_peers(ctx)
    assert seen[0][:4] == ["-m", "benchmarks.perf.peers", "--device", "cuda"] and "--sizes" in seen[0]
    assert "N = 2,500 table" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="exited 1"):
        gpu_check.step_peers(ctx)
