"""BADGE: the closed-form distances equal explicit gradient-embedding distances, the selection equals
a naive k-means++ on the explicit N × (C·d) matrix, and a realistic pool fits in bounded memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from pytest_albench.strategies import QueryInputs, query
from pytest_albench.strategies.badge import gradient_factors, gradient_sqdist_fn, gradient_sqnorms
from pytest_albench.strategies.kernels import sample_proportional, top_k, torch_generator


def small_problem(seed: int, dtype: torch.dtype = torch.float64) -> QueryInputs:
    gen = torch.Generator().manual_seed(seed)
    n, d, c = 40, 5, 4
    hidden = torch.randn(n, d, generator=gen, dtype=dtype)
    proba = torch.softmax(2.0 * torch.randn(n, c, generator=gen, dtype=dtype), dim=1)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[::7] = True
    labels = torch.where(labeled, torch.arange(n) % c, torch.full((n,), -1))
    return QueryInputs(hidden, labeled, labels, c, proba=proba, hidden=hidden)


def explicit_gradients(proba: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """g_i = (p_i − e_ŷi) ⊗ h_i as an (N, C·d) matrix — what BADGE avoids building."""
    onehot = torch.nn.functional.one_hot(proba.argmax(dim=1), proba.shape[1]).to(proba.dtype)
    return torch.einsum("nc,nd->ncd", proba - onehot, hidden).reshape(proba.shape[0], -1)


def naive_badge(inputs: QueryInputs, batch_size: int, rng: np.random.Generator) -> list[int]:
    """k-means++ on the explicit gradients with the same draws: first = largest norm, then D²."""
    assert inputs.proba is not None and inputs.hidden is not None
    g = explicit_gradients(inputs.proba, inputs.hidden)
    gen = torch_generator(rng)
    unlabeled = inputs.unlabeled_indices()
    norms = (g * g).sum(dim=1)
    chosen = [int(unlabeled[top_k(norms[unlabeled], 1, gen)])]
    for _ in range(1, batch_size):
        dist = torch.cdist(g, g[chosen]).square().min(dim=1).values
        dist[inputs.labeled] = 0.0
        dist[chosen] = 0.0
        chosen.append(sample_proportional(dist, gen))
    return chosen


def test_gradient_factor_is_probability_minus_onehot_of_prediction() -> None:
    p = torch.tensor([[0.2, 0.7, 0.1]])
    torch.testing.assert_close(gradient_factors(p), torch.tensor([[0.2, -0.3, 0.1]]))


@pytest.mark.parametrize("seed", range(3))
def test_closed_form_distances_equal_explicit_gradient_distances(seed: int) -> None:
    inputs = small_problem(seed)
    assert inputs.proba is not None and inputs.hidden is not None
    g = explicit_gradients(inputs.proba, inputs.hidden)
    sqdist_to = gradient_sqdist_fn(inputs.proba, inputs.hidden)
    for j in (0, 13, 39):
        torch.testing.assert_close(sqdist_to(j), ((g - g[j]) ** 2).sum(dim=1), atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(gradient_sqnorms(inputs.proba, inputs.hidden), (g * g).sum(dim=1))


@pytest.mark.parametrize("seed", range(5))
def test_selection_equals_naive_explicit_gradient_kmeans_pp(seed: int) -> None:
    inputs = small_problem(seed)
    picked = query("badge", inputs, 8, np.random.default_rng(seed))
    assert picked.tolist() == naive_badge(inputs, 8, np.random.default_rng(seed))


def test_first_centre_is_the_largest_gradient_norm() -> None:
    inputs = small_problem(0)
    assert inputs.proba is not None and inputs.hidden is not None
    norms = gradient_sqnorms(inputs.proba, inputs.hidden)
    norms[inputs.labeled] = -1.0
    assert query("badge", inputs, 3, np.random.default_rng(1))[0] == int(norms.argmax())


def test_identical_points_are_never_picked_twice() -> None:
    n = 12
    proba = torch.tensor([[0.6, 0.4]]).repeat(n, 1)
    hidden = torch.ones(n, 3)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[0] = True
    inputs = QueryInputs(hidden, labeled, torch.tensor([0] + [-1] * (n - 1)), 2, proba=proba, hidden=hidden)
    picked = query("badge", inputs, n - 1, np.random.default_rng(0))
    assert sorted(picked.tolist()) == list(range(1, n))


MEMORY_SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np, torch
    from pytest_albench.strategies import QueryInputs, query

    torch.set_num_threads(1)
    n, d, c = 50_000, 1_024, 77
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(n, d, generator=gen)
    proba = torch.softmax(torch.randn(n, c, generator=gen), dim=1)
    labeled = torch.zeros(n, dtype=torch.bool)
    labeled[:500] = True
    labels = torch.where(labeled, torch.arange(n) % c, torch.full((n,), -1))
    inputs = QueryInputs(hidden, labeled, labels, c, proba=proba, hidden=hidden)
    def status_kib(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS, so only the query's peak counts
    before = status_kib("VmRSS") * 1024
    picked = query("badge", inputs, 20, np.random.default_rng(0))
    peak = status_kib("VmHWM") * 1024
    assert len(set(picked.tolist())) == 20
    print((peak - before) / 2**20)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and ru_maxrss in KiB")
def test_large_pool_needs_far_less_than_the_explicit_gradient_matrix() -> None:
    """50,000 × 1,024 features, 77 classes: explicit gradients would take 15 GiB; BADGE stays < 1 GiB."""
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) < 1024
