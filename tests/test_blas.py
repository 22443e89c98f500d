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

    if blas.thread_count_matters():
        pytest.skip("this BLAS kernel (OpenBLAS Haswell) rounds with the thread count; results record the count")

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


@pytest.mark.parametrize("n_cols", [16, 17, 31, 41, 77, 100, 150, 151])
@pytest.mark.parametrize("depth", [50, 384, 1024])
def test_the_padded_product_and_its_softmax_are_the_unpadded_ones_bit_for_bit(n_cols: int, depth: int) -> None:
    """The head's forward pass pads its columns to a multiple of 16 for speed; no stored number may move."""
    gen = torch.Generator().manual_seed(n_cols * depth)
    a = torch.randn(517, depth, generator=gen) * 3
    w = (torch.randn(n_cols, depth, generator=gen) * 0.1).T  # the head's layout: a transposed view
    bias = torch.randn(n_cols, generator=gen)
    wide = blas.addmm_padded(bias, a, w, fill=float("-inf"))
    assert wide.shape == (517, blas.padded_width(n_cols))
    if blas.padding_is_exact():  # this machine's kernels pad: the block is whole 16-column groups
        assert wide.shape[1] % blas.COLUMN_BLOCK == 0
    plain = blas.addmm(bias, a, w)
    assert torch.equal(wide[:, :n_cols], plain)
    assert bool(torch.isneginf(wide[:, n_cols:]).all())
    padded_softmax = torch.softmax(wide, dim=1)[:, :n_cols]
    assert torch.equal(padded_softmax, torch.softmax(plain, dim=1))


@pytest.mark.parametrize("n_cols", [1, 2, 7, 15, 32, 64])
def test_narrow_and_already_aligned_outputs_are_not_padded(n_cols: int) -> None:
    a, _, _ = _data()
    w = torch.randn(67, n_cols)
    bias = torch.randn(n_cols)
    assert blas.padded_width(n_cols) == n_cols
    assert torch.equal(blas.addmm_padded(bias, a, w, fill=float("-inf")), blas.addmm(bias, a, w))


def test_padding_applies_to_float32_on_the_numpy_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    assert blas.padded_width(77) == (80 if blas.padding_is_exact() else 77)
    assert blas.padded_width(77, torch.float64) == 77
    a, b, bias = _data(torch.float64)
    assert blas.addmm_padded(bias, a, b.T, fill=float("-inf")).shape == (513, 41)
    monkeypatch.setattr(blas, "CPU_BACKEND", "torch")
    assert blas.padded_width(77) == 77
    a, b, bias = _data()
    assert torch.equal(blas.addmm_padded(bias, a, b.T, fill=0.0), torch.addmm(bias, a, b.T))


def test_padded_products_that_need_gradients_stay_in_torch() -> None:
    a, b, bias = _data()
    w = b.T.clone().requires_grad_(True)
    out = blas.addmm_padded(bias, a, w, fill=float("-inf"))
    assert out.requires_grad and out.shape == (513, 41)


def test_where_padding_would_change_a_bit_nothing_is_padded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blas, "padding_is_exact", lambda: False)
    a, b, bias = _data()
    assert blas.padded_width(77) == 77
    assert torch.equal(blas.addmm_padded(bias, a, b.T, fill=float("-inf")), blas.addmm(bias, a, b.T))


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next((set(line.split(":", 1)[1].split()) for line in handle if line.startswith("flags")), set())
    except OSError:
        return set()


@pytest.mark.parametrize("coretype", ["", "Haswell", "Sandybridge"])
def test_the_heads_probabilities_are_the_unpadded_ones_under_every_openblas_kernel(coretype: str) -> None:
    """OpenBLAS's Haswell kernels (AVX2 CPUs, AMD Zen 1-3) give padded products other last bits than
    unpadded ones; the check at first use must then turn the padding off, so that no result moves."""
    import subprocess
    import sys

    needs = {"Haswell": {"avx2", "fma"}, "Sandybridge": {"avx"}}.get(coretype, set())
    if not needs <= _cpu_flags():
        pytest.skip(f"this CPU cannot run OpenBLAS's {coretype} kernels")
    code = """
import torch
from threadpoolctl import threadpool_info
from pytest_albench.engine.heads import LogisticHead
from pytest_albench.strategies import blas
gen = torch.Generator().manual_seed(1)
x, y = torch.randn(3000, 384, generator=gen), torch.arange(3000) % 77
head = LogisticHead(n_classes=77, max_iter=5).fit(x[:800], y[:800])
same = torch.equal(head.predict_proba(x), torch.softmax(head.logits(x), dim=1))
from pytest_albench.engine.provenance import environment_fingerprint
recorded = "numpy_blas_threads" in environment_fingerprint("cpu")["numerics"]
assert recorded == blas.thread_count_matters(), recorded
kernel = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
print(kernel, blas.padding_is_exact(), blas.thread_count_matters(), same)
"""
    env = {**os.environ, "OPENBLAS_CORETYPE": coretype} if coretype else dict(os.environ)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("True"), out.stdout


def test_results_record_the_blas_thread_count_only_where_it_changes_the_rounding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_albench.engine.provenance import environment_fingerprint

    monkeypatch.setattr(blas, "thread_count_matters", lambda: True)
    monkeypatch.setattr(blas, "numpy_blas_threads", lambda: 3)
    assert environment_fingerprint("cpu")["numerics"]["numpy_blas_threads"] == "3"
    monkeypatch.setattr(blas, "thread_count_matters", lambda: False)
    assert "numpy_blas_threads" not in environment_fingerprint("cpu")["numerics"]
