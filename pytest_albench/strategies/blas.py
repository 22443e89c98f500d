"""Matrix products on CPU through numpy's BLAS, the faster of the two BLAS libraries a process holds.

Why: a torch CPU wheel does its GEMMs with MKL, numpy with OpenBLAS. On the AMD EPYC machine
measured (``benchmarks/perf/gemm_rates.py``), for the head's forward pass, (10k × 384) @ (384 × 77),
torch's ``addmm`` ran at about half the rate of numpy's ``matmul`` in the same process (15.7 ms
against 8.1 ms with one thread), and the (10k × 384) @ (384 × 770) distance block of a CoreSet query
took 79–90 ms against 56 ms. Every query strategy and every forward pass of the logistic head spends
most of its time in such products, so they all go through :func:`matmul` and :func:`addmm` here.
Where torch's BLAS is the faster one (``gemm_rates`` says), ``ALBENCH_CPU_GEMM=torch`` keeps the
products in torch; the choice is part of every result's recorded numerics.

The products are the same function of the same inputs on every run. With OpenBLAS's SkylakeX and
Sandybridge kernels they do not depend on the thread count either (a test checks it); with its
Haswell kernels (AVX2 CPUs without AVX-512, AMD Zen 1–3 included) a product's last bits change with
the thread count. :func:`thread_count_matters` checks which holds, once per process, and where it
does, every result's numerics record the BLAS thread count, so that a baseline made with another
count is compared as ``numeric``, not as ``drift``. They may differ from MKL's in the last bits, as
any two BLAS libraries do; ``provenance`` records both libraries and :data:`CPU_BACKEND`.

Autograd and GPUs keep torch: a product that needs gradients (the head's training objective) or
that lives on a GPU is a plain torch product.

A product whose output has a column count that is not a multiple of 16 runs its last columns through
OpenBLAS's edge kernels, at a lower rate: on the Intel Xeon VM measured, the (10k × 384) @ (384 × 77)
forward pass took 4.3 ms, and the same product padded with zero columns to 80 took 3.8 ms.
:func:`addmm_padded` computes the padded product for callers that can use the extra columns (the
head's softmax, with the padding's logits at −inf). It pads only where the first columns are the
same bits as :func:`addmm`'s, which a BLAS kernel does not promise: OpenBLAS's SkylakeX and
Sandybridge kernels give them, its Haswell kernels (AVX2 CPUs, AMD Zen 1–3 included) do not. So the
first padded product checks it once per process (:func:`padding_is_exact`, 13–22 ms measured) and
pads only if it holds; padding therefore never changes a result, on any CPU.
"""

from __future__ import annotations

import functools
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


def _next_block(n_cols: int) -> int:
    return -(-n_cols // COLUMN_BLOCK) * COLUMN_BLOCK


def pad_columns(b: np.ndarray, width: int) -> np.ndarray:
    """``b`` (d × C) with zero columns appended up to ``width``: the weights of a padded product."""
    wide = np.zeros((b.shape[0], width), dtype=b.dtype)
    wide[:, : b.shape[1]] = b
    return wide


@functools.cache
def padding_is_exact() -> bool:
    """Whether this process's BLAS and torch give the padded forward pass the unpadded bits.

    Checked on random float32 data for every column count from 17 to 31 (each remainder modulo
    :data:`COLUMN_BLOCK`, so every edge kernel) and 77: the product's first columns over 2,048 rows
    (above OpenBLAS's small-matrix paths), and the row softmax with the padding's logits at −inf over
    256 of them. The answer depends only on the libraries and the CPU they dispatch for, never on timing.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 256), dtype=np.float32)
    blocks = []
    for n_cols in (*range(COLUMN_BLOCK + 1, 2 * COLUMN_BLOCK), 77):
        b = np.ascontiguousarray(rng.standard_normal((n_cols, 256), dtype=np.float32) * np.float32(0.1)).T
        plain, wide = np.matmul(a, b), np.matmul(a, pad_columns(b, _next_block(n_cols)))
        if not np.array_equal(plain, wide[:, :n_cols]):
            return False
        head = wide[:256].copy()  # the softmax's rounding depends on the row's width only
        head[:, n_cols:] = -np.inf
        blocks.append((plain[:256].copy(), head))
    # the softmaxes after all the products: torch's threads then do not wait for BLAS's to go idle
    for plain_rows, wide_rows in blocks:
        padded_softmax = torch.softmax(torch.from_numpy(wide_rows), dim=1)[:, : plain_rows.shape[1]]
        if not np.array_equal(padded_softmax.numpy(), torch.softmax(torch.from_numpy(plain_rows), dim=1).numpy()):
            return False
    return True


@functools.cache
def thread_count_matters() -> bool:
    """Whether numpy's BLAS gives a product other last bits with one thread than with two.

    Checked once per process on one (4,000 × 384) @ (384 × 77) float32 product, the head's shape, large
    enough for OpenBLAS to split it over threads. False where ``threadpoolctl`` is missing (unknown).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - shipped with scikit-learn
        return False
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4000, 384), dtype=np.float32)
    b = rng.standard_normal((384, 77), dtype=np.float32)
    with threadpool_limits(1, user_api="blas"):
        one = np.matmul(a, b)
    with threadpool_limits(2, user_api="blas"):
        two = np.matmul(a, b)
    return not np.array_equal(one, two)


def numpy_blas_pool() -> dict[str, object] | None:
    """``threadpoolctl``'s description of the first BLAS this process loaded (numpy's); None if unknown."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - shipped with scikit-learn
        return None
    pools: list[dict[str, object]] = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return pools[0] if pools else None


def numpy_blas_threads() -> int | None:
    """The thread count numpy's BLAS uses now (``None`` when ``threadpoolctl`` cannot tell)."""
    pool = numpy_blas_pool()
    return None if pool is None else int(str(pool["num_threads"]))


def padded_width(n_cols: int, dtype: torch.dtype = torch.float32) -> int:
    """How many columns :func:`addmm_padded` computes for an output of ``n_cols`` columns.

    The next multiple of :data:`COLUMN_BLOCK` for float32 products on the numpy path with at least
    that many columns, where :func:`padding_is_exact`; ``n_cols`` itself everywhere else (torch's
    products and float64 were not measured to gain, and a row softmax over fewer than 16 columns
    rounds differently when padded).
    """
    if CPU_BACKEND != "numpy" or dtype != torch.float32 or n_cols < COLUMN_BLOCK or n_cols % COLUMN_BLOCK == 0:
        return n_cols
    return _next_block(n_cols) if padding_is_exact() else n_cols


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
    if bias.dim() != 1 or not _numpy_ok(a, b, bias):  # torch's product: never padded, nothing to check
        return addmm(bias, a, b)
    n_cols = b.shape[1]
    width = padded_width(n_cols, b.dtype)
    if width == n_cols:
        return addmm(bias, a, b)
    b_np = b.detach().numpy()
    wide_bias = np.full(width, fill, dtype=b_np.dtype)
    wide_bias[:n_cols] = bias.detach().numpy()
    out = np.matmul(a.detach().numpy(), pad_columns(b_np, width))
    out += wide_bias
    return torch.from_numpy(out)
