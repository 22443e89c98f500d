"""CPU products through numpy's BLAS (``strategies.blas``): same values as torch, independent of the
thread count, and torch wherever autograd or a GPU is involved.

Why: every forward pass of the logistic head and every distance block of the strategies goes
through these two functions, so a wrong bias broadcast, a lost ``alpha`` or a result that changes
with the thread count would move every stored number.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from pytest_albench.strategies import blas


def _data(dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(513, 67, generator=gen, dtype=dtype)
    b = torch.randn(41, 67, generator=gen, dtype=dtype)
    bias = torch.randn(41, generator=gen, dtype=dtype)
    return a, b, bias


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matmul_and_addmm_equal_torch_for_plain_and_transposed_operands(dtype: torch.dtype) -> None:
    a, b, bias = _data(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-4} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-10}
    torch.testing.assert_close(blas.matmul(a, b.T), a @ b.T, **tol)
    torch.testing.assert_close(blas.matmul(a, b.T.contiguous()), a @ b.T, **tol)
    torch.testing.assert_close(blas.matmul(a, a[3]), a @ a[3], **tol)
    torch.testing.assert_close(blas.addmm(bias, a, b.T), torch.addmm(bias, a, b.T), **tol)
    torch.testing.assert_close(
        blas.addmm(bias[None, :], a, b.T, alpha=-2.0), torch.addmm(bias[None, :], a, b.T, alpha=-2.0), **tol
    )
    out = blas.addmm(bias, a, b.T)
    assert out.dtype == dtype and out.shape == (513, 41) and out.is_contiguous()


def test_the_result_does_not_depend_on_the_blas_thread_count() -> None:
    from threadpoolctl import threadpool_limits

    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(4000, 384, generator=gen), torch.randn(384, 77, generator=gen)
    with threadpool_limits(1):
        one = blas.matmul(a, b)
    with threadpool_limits(2):
        two = blas.matmul(a, b)
    assert torch.equal(one, two)


def test_products_that_need_gradients_stay_in_torch_and_keep_the_graph() -> None:
    a, b, bias = _data()
    w = b.T.clone().requires_grad_(True)
    out = blas.addmm(bias, a, w)
    assert out.requires_grad
    out.sum().backward()
    assert w.grad is not None and w.grad.shape == w.shape
    with torch.no_grad():  # no graph wanted: numpy may take it
        assert not blas.addmm(bias, a, w).requires_grad


def test_mixed_dtypes_and_integer_tensors_fall_back_to_torch() -> None:
    a, b, _ = _data()
    ints = torch.arange(12).reshape(3, 4)
    assert torch.equal(blas.matmul(ints, ints.T), ints @ ints.T)
    with pytest.raises(RuntimeError):  # torch's own error for mixed dtypes, not a silent upcast
        blas.matmul(a, b.T.double())


def test_the_result_is_a_torch_tensor_that_owns_fresh_memory() -> None:
    a, b, bias = _data()
    out = blas.addmm(bias, a, b.T)
    out.add_(1.0)  # writable, and writing it leaves the inputs alone
    torch.testing.assert_close(a, _data()[0])
    assert isinstance(out, torch.Tensor) and not np.shares_memory(out.numpy(), a.numpy())


def test_the_backend_is_chosen_by_the_environment_and_a_bad_value_is_refused() -> None:
    import subprocess
    import sys

    code = "from pytest_albench.strategies import blas; print(blas.CPU_BACKEND)"
    for value, expected in (("", "numpy"), ("torch", "torch"), ("NumPy", "numpy")):
        env = {**os.environ, blas.BACKEND_ENV: value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected
    env = {**os.environ, blas.BACKEND_ENV: "mkl"}
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "ALBENCH_CPU_GEMM='mkl' is not a CPU GEMM library" in bad.stderr


def test_with_the_torch_backend_the_products_are_torchs(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, bias = _data()
    monkeypatch.setattr(blas, "CPU_BACKEND", "torch")
    assert torch.equal(blas.addmm(bias, a, b.T), torch.addmm(bias, a, b.T))
    assert torch.equal(blas.matmul(a, b.T), a @ b.T)
