"""The machine a measurement ran on, and the warm-up that keeps start-up cost out of it.

Why: every time in ``benchmarks/perf`` depends on the CPU, the thread count and how loaded a shared
machine was, so each script prints these lines first (and again as load lines after each task).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (falls back to platform.processor() elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_lines(device: str) -> list[str]:
    """Lines describing the machine, printed first because every number below depends on it."""
    import torch

    lines = [
        f"CPU: {cpu_model()} | logical cores: {os.cpu_count()} | "
        f"usable by this process: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}",
        f"torch {torch.__version__} | intra-op threads: {torch.get_num_threads()} | "
        f"numpy {np.__version__} | Python {platform.python_version()} | {platform.system()} {platform.release()}",
    ]
    lines.append(blas_line())
    mem = _meminfo_total()
    if mem:
        lines.append(f"RAM: {mem / 2**30:.1f} GiB")
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        lines.append(f"GPU: {props.name}, {props.total_memory / 2**30:.1f} GiB, CUDA {torch.version.cuda}")
    lines.append(f"device for queries: {device} | {load_line()}")
    return lines


def blas_line() -> str:
    """The BLAS of numpy and of torch: the GEMM rate, and so every ratio here, depends on them."""
    from pytest_albench.engine.provenance import numerics_identity
    from pytest_albench.strategies.blas import CPU_BACKEND

    found = dict(numerics_identity())
    return (
        f"BLAS: numpy {found.get('numpy_blas', 'unknown')} | torch {found.get('torch_blas', 'unknown')} | "
        f"our CPU products through {CPU_BACKEND}"
    )


def load_line() -> str:
    """The 1/5/15-minute load average: on a shared machine it says how much the timings were squeezed."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average: unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


def _meminfo_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def warm_torch(device: str) -> None:
    """Touch the kernels every strategy uses, so thread-pool and allocator start-up is not billed
    to whichever strategy happens to call them first."""
    import torch

    a = torch.randn(512, 256, device=device)
    p = torch.softmax(a @ a.T, dim=1)
    p.topk(5, dim=1)
    torch.cdist(a[:64], a).min()
    torch.multinomial(p[0], 1)
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
