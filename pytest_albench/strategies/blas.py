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

A product whose output has a column count that is not a multiple of 16 runs its last columns through
OpenBLAS's edge kernels, at a lower rate: on the Intel Xeon VM measured, the (10k × 384) @ (384 × 77)
forward pass took 4.3 ms, and the same product padded with zero columns to 80 took 3.8 ms.
:func:`addmm_padded` computes the padded product for callers that can use the extra columns (the
head's softmax, with the padding's logits at −inf). The first columns are the same bits as
:func:`addmm`'s: each output element is the same dot product in the same order (a test checks it).
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


#: Output columns the numpy path pads to a multiple of (16 float32 lanes: one AVX-512 register, two
#: AVX2 ones); narrower outputs are left alone, their products are not faster padded.
COLUMN_BLOCK = 16


def padded_width(n_cols: int, dtype: torch.dtype = torch.float32) -> int:
    """How many columns :func:`addmm_padded` computes for an output of ``n_cols`` columns.

    The next multiple of :data:`COLUMN_BLOCK` for float32 products on the numpy path with at least
    that many columns; ``n_cols`` itself everywhere else (torch's products and float64 were not
    measured to gain, and a row softmax over fewer than 16 columns rounds differently when padded).
    """
    if CPU_BACKEND != "numpy" or dtype != torch.float32 or n_cols < COLUMN_BLOCK or n_cols % COLUMN_BLOCK == 0:
        return n_cols
    return -(-n_cols // COLUMN_BLOCK) * COLUMN_BLOCK


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


def addmm_padded(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor, *, fill: float) -> torch.Tensor:
    """``bias + a @ b`` for a 1-D ``bias``, in a block of :func:`padded_width` columns; a fresh tensor.

    The first ``b.shape[1]`` columns are :func:`addmm`'s result bit for bit; the padding columns hold
    ``fill`` (−inf makes them vanish from a row softmax). Where nothing is padded, this is
    :func:`addmm`. The zero-padded copy of ``b`` (d × 16 columns at most more) is made per call.
    """
    n_cols = b.shape[1]
    width = padded_width(n_cols, b.dtype)
    if width == n_cols or bias.dim() != 1 or not _numpy_ok(a, b, bias):
        return addmm(bias, a, b)
    b_np = b.detach().numpy()
    wide_b = np.zeros((b_np.shape[0], width), dtype=b_np.dtype)
    wide_b[:, :n_cols] = b_np
    wide_bias = np.full(width, fill, dtype=b_np.dtype)
    wide_bias[:n_cols] = bias.detach().numpy()
    out = np.matmul(a.detach().numpy(), wide_b)
    out += wide_bias
    return torch.from_numpy(out)
