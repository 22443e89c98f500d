"""Matrix products on CPU through numpy's BLAS, the faster of the two BLAS libraries a process holds.

Why: a torch CPU wheel does its GEMMs with MKL, numpy with OpenBLAS. On the AMD EPYC machine
measured (``benchmarks/perf/gemm_rates.py``), for the head's forward pass, (10k × 384) @ (384 × 77),
torch's ``addmm`` ran at about half the rate of numpy's ``matmul`` in the same process (15.7 ms
against 8.1 ms with one thread), and the (10k × 384) @ (384 × 770) distance block of a CoreSet query
took 79–90 ms against 56 ms. Every query strategy and every forward pass of the logistic head spends
most of its time in such products, so they all go through :func:`matmul` and :func:`addmm` here.
Where torch's BLAS is the faster one (``gemm_rates`` says), ``ALBENCH_CPU_GEMM=torch`` keeps the
products in torch; the choice is part of every result's recorded numerics.

The products are the same function of the same inputs on every run: OpenBLAS splits a GEMM over
threads by output blocks, never along the summed dimension, so the result does not depend on the
thread count (a test checks it). They may differ from MKL's in the last bits, as any two BLAS
libraries do; ``provenance`` records both libraries and :data:`CPU_BACKEND`.

Autograd and GPUs keep torch: a product that needs gradients (the head's training objective) or
that lives on a GPU is a plain torch product.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ..errors import ConfigError

#: The environment variable that chooses the library, and its accepted values.
BACKEND_ENV = "ALBENCH_CPU_GEMM"
BACKENDS = ("numpy", "torch")


def _backend() -> str:
    value = os.environ.get(BACKEND_ENV, "numpy").strip().lower() or "numpy"
    if value not in BACKENDS:
        raise ConfigError(f"{BACKEND_ENV}={value!r} is not a CPU GEMM library; use one of {', '.join(BACKENDS)}")
    return value


#: Which library runs CPU float products outside autograd; recorded with every result. Read once,
#: at import, so a process never mixes the two.
CPU_BACKEND = _backend()

_NUMPY_DTYPES = (torch.float32, torch.float64)


def _numpy_ok(*tensors: torch.Tensor) -> bool:
    """Whether numpy can take these tensors as views: same CPU float dtype, no autograd needed."""
    first = tensors[0]
    if CPU_BACKEND != "numpy" or first.device.type != "cpu" or first.dtype not in _NUMPY_DTYPES:
        return False
    grad = torch.is_grad_enabled()
    for t in tensors:
        if t.device.type != "cpu" or t.dtype != first.dtype or (grad and t.requires_grad):
            return False
        if t.is_conj() or t.is_neg():
            return False
    return True


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for 2-D ``a`` and 1-D or 2-D ``b``; transposed views are passed to BLAS without a copy."""
    if not _numpy_ok(a, b):
        return a @ b
    return torch.from_numpy(np.matmul(a.detach().numpy(), b.detach().numpy()))


def addmm(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, alpha: float = 1.0) -> torch.Tensor:
    """``bias + alpha · (a @ b)`` with ``bias`` broadcast over rows, as ``torch.addmm``; a fresh tensor."""
    if not _numpy_ok(a, b, bias):
        return torch.addmm(bias, a, b, alpha=alpha)
    out = np.matmul(a.detach().numpy(), b.detach().numpy())
    if alpha != 1.0:
        out *= out.dtype.type(alpha)
    out += bias.detach().numpy()
    return torch.from_numpy(out)
