"""Choosing the torch device and keeping thread counts sane.

``auto`` means the GPU when there is one. Under ``pytest -n 8`` on a 2-core machine every worker
would otherwise start a full BLAS/torch thread pool; ``cap_threads`` divides the cores among workers.
"""

from __future__ import annotations

import os

from ..errors import ConfigError

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def resolve_device(device: str = "auto", worker_index: int | None = None) -> str:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a concrete device string, or explain why not.

    With several GPUs and an xdist worker index, ``auto`` and ``cuda`` spread workers round-robin
    over the devices so that each worker has its own GPU.
    """
    import torch

    device = (device or "auto").strip().lower()
    if device == "cpu":
        return "cpu"
    if device in ("auto", "cuda"):
        if not torch.cuda.is_available():
            if device == "cuda":
                raise ConfigError(
                    "device 'cuda' was requested but torch sees no CUDA GPU "
                    f"(torch {torch.__version__}); use --albench-device cpu or auto"
                )
            return "cpu"
        count = torch.cuda.device_count()
        return f"cuda:{(worker_index or 0) % count}"
    if device.startswith("cuda:"):
        try:
            index = int(device.split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"invalid device {device!r}; use auto, cpu, cuda or cuda:N") from None
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} is not available; torch sees {torch.cuda.device_count()} GPU(s)")
        return device
    raise ConfigError(f"invalid device {device!r}; use auto, cpu, cuda or cuda:N")


def threads_per_worker(n_workers: int, n_cores: int | None = None) -> int:
    cores = n_cores or os.cpu_count() or 1
    return max(1, cores // max(1, n_workers))


def cap_threads(n_threads: int) -> None:
    """Limit torch and BLAS pools in this process (env vars only help before numpy is imported)."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n_threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n_threads)
    except ImportError:  # pragma: no cover - shipped with scikit-learn
        pass
    import torch

    torch.set_num_threads(n_threads)
