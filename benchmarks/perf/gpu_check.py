"""``python -m benchmarks.perf.gpu_check``: run the CUDA paths once and print what they measured.

Why: the project's sessions have had no GPU, so the device selection, the AL loop on ``cuda``, the
half-precision encoder path, the peer benchmark's CUDA side and the plugin's per-worker device were
written but not run. This module runs each of them once, at sizes meant to fit in a few minutes on one GPU,
and prints timings and the differences from the same work on the CPU. ``benchmarks/gpu_check.sh`` runs
its steps one by one, each under its own timeout.

Steps (``--step``, default all, in this order):

- ``env``: the GPU(s), their memory, torch / CUDA / cuDNN versions, the driver (``nvidia-smi``);
- ``device``: ``resolve_device`` for ``auto``, ``cuda``, ``cuda:N`` and an index past the last GPU, the
  round-robin spread of xdist workers over the GPUs, and a GEMM's throughput on each GPU;
- ``strategies``: every registered strategy with every registered head through ``run_active_learning``
  on a synthetic clustered pool, on the GPU and on the CPU: time, AULC, and whether the selections match;
- ``embedding``: ``minilm-l6`` encoding a few hundred BBC News texts on the CPU, on the GPU in float32 and
  with the encoder's half-precision setting: throughput and the difference from the CPU's vectors;
- ``peers``: ``python -m benchmarks.perf.peers --device cuda`` at one small size;
- ``plugin``: a few smoke-profile cases of ``benchmarks/test_default.py`` under ``-n 2`` with
  ``--albench-device cuda``: which device each xdist worker's cases ran on.

Where torch sees no CUDA GPU it prints one line, ``gpu check skipped: <reason>``, and exits 0.
``--device cpu`` is a dry run: every step runs on the CPU at tiny sizes, so that the code of each step
has run once before it meets a GPU (its figures measure nothing). Exit status: 0 when every step ran
(or the check was skipped), 1 when any step failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .common.machine import machine_lines
from .common.pools import REPO_ROOT, gaussian_pool

STEPS = ("env", "device", "strategies", "embedding", "peers", "plugin")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work each step does: ``GPU`` on a CUDA machine, ``DRY`` for the CPU dry run."""

    pool: int
    test: int
    dim: int
    classes: int
    initial: int
    schedule: tuple[int, ...]
    head_params: dict[str, dict[str, Any]]
    texts: int
    gemm: int
    peers_args: str  # options of python -m benchmarks.perf.peers besides --device
    plugin_cases: tuple[str, ...]  # <embedding>-<strategy> of benchmarks/test_default.py, ips_random
    subprocess_timeout_s: dict[str, float]  # per step; below gpu_check.sh's limit for that step


GPU = Sizes(
    pool=4000,
    test=1000,
    dim=128,
    classes=10,
    initial=20,
    schedule=(20,) * 5,
    head_params={},
    texts=256,
    gemm=4096,
    # One size below banking77's 10,003 rows (a synthetic pool when the data folder is absent); a short
    # peer cap so that a slow peer call is timed once (the caps' rule is in benchmarks/perf/README.md).
    peers_args="--sizes 2500 --al-cycles 0 --repeats 3 --peer-time-cap 3 --threads 1",
    # Two (encoder, dataset) pairs: the plugin sends each cold pair's first case to a worker of its own.
    plugin_cases=tuple(f"{e}-{s}" for e in ("tfidf-lsa", "minilm-l6") for s in ("margin", "badge", "typiclust")),
    subprocess_timeout_s={"peers": 120.0, "plugin": 110.0},
)
DRY = Sizes(
    pool=300,
    test=100,
    dim=8,
    classes=3,
    initial=6,
    schedule=(5,),
    head_params={"mlp": {"epochs": 5, "hidden_dim": 16}},
    texts=8,
    gemm=256,
    peers_args=(
        "--synthetic --synthetic-rows 240 --dim 8 --classes 3 --per-class 4 --batch 5 --strategies margin "
        "--repeats 1 --al-cycles 0 --threads 1"
    ),
    plugin_cases=("tfidf-lsa-margin", "tfidf-lsa-random"),
    subprocess_timeout_s={"peers": 120.0, "plugin": 110.0},
)


@dataclasses.dataclass
class Context:
    device: str  # what was asked: cuda, cuda:N, or cpu for the dry run
    sizes: Sizes
    strategies: Sequence[str] | None = None  # the strategies step's; None: every registered one
    heads: Sequence[str] | None = None  # likewise for the heads

    @property
    def dry(self) -> bool:
        return self.device == "cpu"


def no_cuda_reason() -> str | None:
    """Why torch cannot run on a GPU here, or None when it can."""
    import torch

    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build (no CUDA runtime): no GPU to check"
    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f"; CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else ""
        return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA GPU{where}"
    return None


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from tabulate import tabulate

    print(tabulate(rows, headers=list(headers), tablefmt="simple", disable_numparse=True), flush=True)


# ------------------------------------------------------------------------------------------- steps


def step_env(ctx: Context) -> None:
    import torch

    for line in machine_lines(ctx.device if not ctx.dry else "cpu"):
        print(line)
    print(f"torch {torch.__version__} | CUDA runtime {torch.version.cuda} | cuDNN {torch.backends.cudnn.version()}")
    if ctx.dry:
        print("dry run on the CPU: no GPU properties to show")
        return
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        print(
            f"cuda:{i}: {p.name}, {p.total_memory / 2**30:.1f} GiB, compute capability {p.major}.{p.minor}, "
            f"{p.multi_processor_count} SMs"
        )
    print(
        f"bfloat16 supported: {torch.cuda.is_bf16_supported()} | TF32 matmul: {torch.backends.cuda.matmul.allow_tf32}"
    )
    smi = shutil.which("nvidia-smi")
    if smi:
        query = "--query-gpu=index,name,driver_version,memory.used,memory.total,utilization.gpu"
        out = subprocess.run([smi, query, "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        print("nvidia-smi: " + (out.stdout.strip() or out.stderr.strip()).replace("\n", "\n            "))
    else:
        print("nvidia-smi: not on PATH")


def _expect(rows: list[list[str]], call: str, got: Callable[[], str], want: str) -> bool:
    from pytest_albench.errors import ConfigError

    try:
        value = got()
    except ConfigError as exc:
        value = f"ConfigError: {exc}"
    ok = value == want or (want == "ConfigError" and value.startswith("ConfigError"))
    rows.append([call, value if len(value) < 90 else value[:87] + "...", want, "ok" if ok else "WRONG"])
    return ok


def step_device(ctx: Context) -> None:
    import torch

    from pytest_albench.embeddings import resolve_device as embedding_device
    from pytest_albench.engine.device import resolve_device

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    gpu = [f"cuda:{i}" for i in range(count)]
    rows: list[list[str]] = []
    checks = [
        ("resolve_device('cpu')", lambda: resolve_device("cpu"), "cpu"),
        ("resolve_device('auto')", lambda: resolve_device("auto"), gpu[0] if gpu else "cpu"),
        ("resolve_device('cuda')", lambda: resolve_device("cuda"), gpu[0] if gpu else "ConfigError"),
        ("resolve_device('cuda:0')", lambda: resolve_device("cuda:0"), "cuda:0" if gpu else "ConfigError"),
        ("embeddings.resolve_device('auto')", lambda: embedding_device("auto"), "cuda" if gpu else "cpu"),
    ]
    if count:  # one past the last GPU
        checks.append((f"resolve_device('cuda:{count}')", lambda: resolve_device(f"cuda:{count}"), "ConfigError"))
    for worker in range(max(2, 2 * count)):  # xdist worker gwN: round-robin over the GPUs
        for asked in ("auto", "cuda"):
            want = gpu[worker % count] if gpu else ("cpu" if asked == "auto" else "ConfigError")
            checks.append(
                (
                    f"resolve_device({asked!r}, worker_index={worker})",
                    lambda a=asked, w=worker: resolve_device(a, w),
                    want,
                )
            )
    wrong = [call for call, got, want in checks if not _expect(rows, call, got, want)]
    print(f"GPUs seen by torch: {count}")
    _table(["call", "returned", "expected", ""], rows)
    n = ctx.sizes.gemm
    gemm_rows = []
    for dev in gpu or ["cpu"]:
        for dtype in (torch.float32, torch.bfloat16) if gpu else (torch.float32,):
            a = torch.randn(n, n, device=dev, dtype=dtype)
            b = torch.randn(n, n, device=dev, dtype=dtype)
            (a @ b).sum().item()  # warm-up, and a check that the device computes
            reps = 20 if gpu else 3
            if gpu:
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            for _ in range(reps):
                c = a @ b
            if gpu:
                torch.cuda.synchronize(dev)
            dt = (time.perf_counter() - t0) / reps
            assert c.device.type == torch.device(dev).type
            gemm_rows.append(
                [dev, str(dtype).replace("torch.", ""), f"{n}×{n}", f"{dt * 1e3:.2f}", f"{2 * n**3 / dt / 1e12:.1f}"]
            )
    _table(["device", "dtype", "GEMM", "ms per call", "TFLOP/s"], gemm_rows)
    if wrong:
        raise AssertionError(f"resolve_device returned something unexpected for: {', '.join(wrong)}")


def _first_difference(a: Any, b: Any) -> str:
    if list(a.initial_pool) != list(b.initial_pool):
        return "initial pool"
    for ca, cb in zip(a.cycles, b.cycles, strict=True):
        if list(ca.selected) != list(cb.selected):
            return f"cycle {ca.cycle}"
    return ""


def step_strategies(ctx: Context) -> None:
    from pytest_albench.engine.heads import head_names
    from pytest_albench.engine.loop import PoolProblem, run_active_learning
    from pytest_albench.strategies import strategy_names

    s = ctx.sizes
    x, y = gaussian_pool(s.pool + s.test, s.dim, s.classes, seed=0, spread=0.3)
    problem = PoolProblem(
        x[: s.pool], y[: s.pool], x[s.pool :], y[s.pool :], s.classes, description={"name": "gpu check"}
    )
    print(
        f"pool: synthetic class-clustered Gaussians, {s.pool} × {s.dim}, {s.classes} classes, test {s.test}; "
        f"k0 = {s.initial} (random), {len(s.schedule)} queries of {s.schedule[0]}; seed 0; reference: cpu"
    )

    def run(strategy: str, head: str, device: str) -> tuple[Any, float]:
        t0 = time.perf_counter()
        result = run_active_learning(
            problem,
            strategy=strategy,
            seed=0,
            initial_pool_size=s.initial,
            schedule=list(s.schedule),
            head=head,
            head_params=dict(s.head_params.get(head, {})),
            device=device,
        )
        return result, time.perf_counter() - t0

    run("random", "logistic", ctx.device)  # warm-up: CUDA context, cuBLAS handles, kernels
    rows, errors, differ, seen = [], [], 0, set()
    for head in ctx.heads or head_names():
        for strategy in ctx.strategies or strategy_names():
            try:
                on_device, t_dev = run(strategy, head, ctx.device)
                on_cpu, t_cpu = run(strategy, head, "cpu")
            except Exception as exc:  # noqa: BLE001 - one broken pair is reported, the others still run
                errors.append(f"{strategy} / {head}: {type(exc).__name__}: {exc}")
                rows.append([strategy, head, "ERROR", "", "", "", "", "", f"{type(exc).__name__}: {exc}"[:60]])
                continue
            where = on_device.environment.get("device", "?")
            seen.add(where)
            if not ctx.dry and not where.startswith("cuda"):
                errors.append(f"{strategy} / {head}: ran on {where}, not on the GPU")
            diff = _first_difference(on_device, on_cpu)
            differ += bool(diff)
            rows.append(
                [
                    strategy,
                    head,
                    f"{t_dev:.2f}",
                    f"{t_cpu:.2f}",
                    f"{t_cpu / t_dev:.1f}×",
                    f"{on_device.aulc:.4f}",
                    f"{on_cpu.aulc:.4f}",
                    f"{on_device.aulc - on_cpu.aulc:+.4f}",
                    "identical" if not diff else f"differ from {diff}",
                ]
            )
    dev = ctx.device
    _table(
        ["strategy", "head", f"{dev} (s)", "cpu (s)", "cpu / " + dev, f"AULC {dev}", "AULC cpu", "ΔAULC", "selections"],
        rows,
    )
    print(f"{len(rows) - len(errors)} runs compared; selections differ from the CPU's in {differ}")
    print(f"device recorded by the {dev} runs: {', '.join(sorted(seen)) or '-'}")
    if errors:
        raise AssertionError("; ".join(errors))


def step_embedding(ctx: Context) -> None:
    import torch

    from pytest_albench.data import load_dataset
    from pytest_albench.embeddings import LoadContext, get_encoder_spec
    from pytest_albench.embeddings._backends import get_backend

    texts = [str(t) for t in load_dataset("bbc_news").train.texts[: ctx.sizes.texts]]
    spec = get_encoder_spec("minilm-l6")
    cuda = ctx.device.startswith("cuda")
    variants: list[tuple[str, str, Any]] = [("cpu float32", "cpu", spec), (f"{ctx.device} float32", ctx.device, spec)]
    if not hasattr(spec, "half_precision_on_gpu"):
        print("half precision: not supported yet (EncoderSpec has no half_precision_on_gpu)")
    else:
        half = spec if spec.half_precision_on_gpu else dataclasses.replace(spec, half_precision_on_gpu=True)
        if cuda:
            label = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            label = "float32: half precision applies on CUDA only"
        variants.append((f"{ctx.device} half_precision_on_gpu ({label})", ctx.device, half))
    print(f"minilm-l6 (max_seq_length {spec.max_seq_length}) on {len(texts)} BBC News train texts, batches of 32")
    reference: np.ndarray | None = None
    rows = []
    loaded: dict[tuple[str, Any], Any] = {}  # the dry run's second cpu float32 row reuses the first's model
    with tempfile.TemporaryDirectory(prefix="albench-gpu-check-") as tmp:
        for name, device, variant in variants:
            if (device, variant) not in loaded:
                loaded[device, variant] = get_backend(variant).load(variant, LoadContext(device, Path(tmp), False, ()))
            encode = loaded[device, variant]
            encode(texts[:32])  # warm-up
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            out = np.concatenate([np.asarray(encode(texts[i : i + 32])) for i in range(0, len(texts), 32)])
            dt = time.perf_counter() - t0
            peak = f"{torch.cuda.max_memory_allocated(device) / 2**20:,.0f}" if device.startswith("cuda") else "–"
            if reference is None:
                reference = out.astype(np.float64)
            got = out.astype(np.float64)
            cos = (got * reference).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(reference, axis=1))
            rows.append(
                [
                    name,
                    str(out.dtype),
                    f"{dt:.2f}",
                    f"{len(texts) / dt:,.0f}",
                    f"{np.abs(got - reference).max():.2e}",
                    f"{cos.min():.6f}",
                    f"{1 - cos.mean():.2e}",
                    peak,
                ]
            )
    loaded.clear()
    _table(
        ["encoder run", "output", "s", "texts/s", "max |Δ| vs cpu", "min cos vs cpu", "1 − mean cos", "GPU peak MiB"],
        rows,
    )


def _subprocess(ctx: Context, step: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    print("$ " + " ".join(argv), flush=True)
    try:
        return subprocess.run(
            [sys.executable, *argv],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=ctx.sizes.subprocess_timeout_s[step],
        )
    except subprocess.TimeoutExpired as exc:  # show what it had printed, then fail the step
        for part in (exc.stdout, exc.stderr):
            if part:
                print(part if isinstance(part, str) else part.decode(errors="replace"))
        raise


def step_peers(ctx: Context) -> None:
    t0 = time.perf_counter()
    done = _subprocess(
        ctx, "peers", ["-m", "benchmarks.perf.peers", "--device", ctx.device, *ctx.sizes.peers_args.split()]
    )
    print(done.stdout.rstrip())
    progress = [line for line in done.stderr.splitlines() if line.strip()]
    print("\n".join(progress[-40:]))
    print(f"peer benchmark: exit {done.returncode} in {time.perf_counter() - t0:.1f} s")
    if done.returncode != 0:
        raise AssertionError(f"python -m benchmarks.perf.peers exited {done.returncode}")


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == "albench" for ep in entry_points(group="pytest11"))


_WORKER_LINE = re.compile(r"^\[(gw\d+)\] \[\s*\d+%\] (\w+) (\S+)")


def step_plugin(ctx: Context) -> None:
    import torch

    nodeids = [f"benchmarks/test_default.py::test_bbc[bbc_news-{case}-ips_random]" for case in ctx.sizes.plugin_cases]
    with tempfile.TemporaryDirectory(prefix="albench-gpu-check-") as tmp:
        results = Path(tmp) / "results.json"
        argv = ["-m", "pytest", *nodeids, "-n", "2", "-v", "-p", "no:cacheprovider", "--albench-profile=smoke"]
        argv += ["--albench-device", ctx.device, "--albench-compare=report", "--albench-json", str(results)]
        if not _plugin_installed():  # a checkout that was not pip-installed: load the plugin by name
            argv += ["-p", "pytest_albench.plugin.hooks"]
        t0 = time.perf_counter()
        done = _subprocess(ctx, "plugin", argv)
        wall = time.perf_counter() - t0
        cases = json.loads(results.read_text())["cases"] if results.is_file() else []
    tail = done.stdout.rstrip().splitlines()
    print("\n".join(tail))
    if done.returncode != 0:
        print(done.stderr.rstrip()[-3000:])
    workers = {m.group(3): (m.group(1), m.group(2)) for m in map(_WORKER_LINE.match, tail) if m}
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    rows, wrong = [], []
    for case in cases:
        worker, outcome = workers.get(case["nodeid"], ("?", "?"))
        device = case.get("environment", {}).get("device", "?")
        want = "cpu" if ctx.dry else (f"cuda:{int(worker[2:]) % count}" if worker[2:].isdigit() else "cuda")
        if not device.startswith(want):
            wrong.append(f"{case['case_id']}: {device} (expected {want})")
        runs = case["runs"]
        rows.append(
            [
                case["case_id"],
                worker,
                outcome,
                device,
                f"{np.mean([r['aulc'] for r in runs]):.4f}",
                f"{sum(r.get('total_time_s', 0.0) for r in runs):.1f}",
                case.get("baseline", {}).get("status", "–"),
            ]
        )
    _table(["case", "worker", "outcome", "device", "mean AULC", "run time (s)", "baseline"], rows)
    print(
        f"pytest -n 2: exit {done.returncode} in {wall:.1f} s; {len(cases)} of {len(nodeids)} cases in the results file"
    )
    problems = []
    if done.returncode != 0:
        problems.append(f"pytest exited {done.returncode}")
    if len(cases) != len(nodeids):
        problems.append(f"{len(cases)} of {len(nodeids)} cases recorded")
    if wrong:
        problems.append("cases on the wrong device: " + "; ".join(wrong))
    if problems:
        raise AssertionError("; ".join(problems))


STEP_FUNCTIONS: dict[str, Callable[[Context], None]] = {
    "env": step_env,
    "device": step_device,
    "strategies": step_strategies,
    "embedding": step_embedding,
    "peers": step_peers,
    "plugin": step_plugin,
}


# --------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.perf.gpu_check",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument(
        "--device",
        default="cuda",
        help="cuda or cuda:N (default cuda); cpu: a dry run of every step on the CPU at tiny sizes",
    )
    p.add_argument("--step", action="append", choices=STEPS, help="run only this step (repeatable); default all")
    p.add_argument(
        "--strategies", nargs="+", metavar="NAME", help="strategies step: these only (default: all registered)"
    )
    p.add_argument(
        "--heads", nargs="+", metavar="NAME", help="strategies step: these heads only (default: all registered)"
    )
    args = p.parse_args(argv)
    args.device = args.device.strip().lower()
    if args.device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", args.device):
        p.error(f"--device is cuda, cuda:N or cpu, got {args.device!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.device != "cpu":
        reason = no_cuda_reason()
        if reason is not None:
            print(f"gpu check skipped: {reason}")
            return 0
    ctx = Context(args.device, DRY if args.device == "cpu" else GPU, args.strategies, args.heads)
    steps = args.step or list(STEPS)
    if ctx.dry:
        print("gpu check DRY RUN on the CPU at tiny sizes: it checks the steps' code; its figures measure nothing")
    failed = []
    for name in steps:
        print(f"\n== gpu check step: {name} (device {ctx.device})", flush=True)
        t0 = time.perf_counter()
        try:
            STEP_FUNCTIONS[name](ctx)
        except Exception as exc:  # noqa: BLE001 - a failed step is reported and the next one runs
            traceback.print_exc(file=sys.stdout)
            print(f"== step {name}: FAILED after {time.perf_counter() - t0:.1f} s: {type(exc).__name__}: {exc}")
            failed.append(name)
        else:
            print(f"== step {name}: ok in {time.perf_counter() - t0:.1f} s", flush=True)
    if len(steps) > 1:
        print(
            f"\ngpu check: {len(steps) - len(failed)} of {len(steps)} steps ok"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
