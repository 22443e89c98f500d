"""The heads' optimisers equal torch.optim's bit for bit: every evaluated point, every loss, the end.

``pytest_albench.engine.optim`` replaces ``torch.optim.LBFGS`` and (on CPU) ``torch.optim.Adam`` so
that a case never imports ``torch._dynamo``; the runs must not change by a single bit. Each test
runs torch's optimiser and ours on the same problem and compares, with ``torch.equal``, the
parameters at every objective evaluation (the whole path of the line search, not only the end) and
the losses, on the heads' real objectives and on harder ones that reach every branch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from pytest_albench.engine.heads import _MLP, LogisticHead, MLPHead, _dropout_mask, _seed_generator
from pytest_albench.engine.optim import Adam, minimize_lbfgs

Trace = list[tuple[float, list[torch.Tensor]]]


def _clustered(
    n: int, d: int, c: int, seed: int, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = np.random.default_rng(seed)
    centres = gen.normal(size=(c, d)) * 1.5
    y = np.arange(n) % c
    x = centres[y] + gen.normal(size=(n, d))
    return torch.tensor(x, dtype=dtype), torch.tensor(y)


def _logistic(x: torch.Tensor, y: torch.Tensor, c: int, C: float) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """The logistic head's objective: mean cross-entropy + 0.5/(C·n)·||W||²."""
    reg = 0.5 / (C * x.shape[0])
    return lambda p: torch.nn.functional.cross_entropy(x @ p[0] + p[1], y) + reg * (p[0] * p[0]).sum()


def _rosenbrock(p: list[torch.Tensor]) -> torch.Tensor:
    """Non-convex, badly scaled: the line search extrapolates, zooms and hits its safeguards."""
    z = p[0]
    return (100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2).sum()


def _run_both(
    fn: Callable[[list[torch.Tensor]], torch.Tensor], start: list[torch.Tensor], **options: object
) -> tuple[Trace, Trace, list[torch.Tensor], list[torch.Tensor]]:
    """Torch's LBFGS and ours from copies of ``start``: each evaluation's (loss, parameters), and the ends."""
    ours = [s.clone().requires_grad_(True) for s in start]
    theirs = [s.clone().requires_grad_(True) for s in start]
    our_trace: Trace = []
    their_trace: Trace = []

    def objective() -> torch.Tensor:
        loss = fn(ours)
        our_trace.append((float(loss.detach()), [p.detach().clone() for p in ours]))
        return loss

    opt = torch.optim.LBFGS(theirs, line_search_fn="strong_wolfe", **options)  # type: ignore[arg-type]

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = fn(theirs)
        their_trace.append((float(loss.detach()), [p.detach().clone() for p in theirs]))
        loss.backward()
        return loss

    opt.step(closure)
    minimize_lbfgs(objective, ours, **options)  # type: ignore[arg-type]
    return our_trace, their_trace, [p.detach() for p in ours], [p.detach() for p in theirs]


def _assert_same(ours: Trace, theirs: Trace, end_ours: list[torch.Tensor], end_theirs: list[torch.Tensor]) -> None:
    assert len(ours) == len(theirs), f"{len(ours)} evaluations against torch's {len(theirs)}"
    for k, ((f1, p1), (f2, p2)) in enumerate(zip(ours, theirs, strict=True)):
        assert f1.hex() == f2.hex(), f"loss differs at evaluation {k}: {f1!r} vs {f2!r}"
        assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True)), f"parameters differ at evaluation {k}"
    assert all(torch.equal(a, b) for a, b in zip(end_ours, end_theirs, strict=True)), "final parameters differ"


HEAD_OPTIONS = {"lr": 1.0, "max_iter": 200, "tolerance_grad": 1e-4, "tolerance_change": 1e-12, "history_size": 20}


@pytest.mark.parametrize(
    ("n", "d", "c", "C"), [(10, 48, 5, 1.0), (40, 384, 4, 1.0), (300, 32, 10, 10.0), (60, 16, 2, 0.05)]
)
@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_lbfgs_equals_torch_on_the_logistic_objective(n: int, d: int, c: int, C: float, warm: bool) -> None:
    x, y = _clustered(n, d, c, seed=n + d)
    start = [torch.zeros(d, c, dtype=torch.float64), torch.zeros(c, dtype=torch.float64)]
    if warm:  # from the optimum on the first half, as the loop's warm start does cycle after cycle
        half = _run_both(_logistic(x[: n // 2], y[: n // 2], c, C), start, **HEAD_OPTIONS)[2]  # type: ignore[arg-type]
        start = [p.clone() for p in half]
    traces = _run_both(_logistic(x, y, c, C), start, **HEAD_OPTIONS)  # type: ignore[arg-type]
    assert len(traces[0]) > 3, "the problem should take several iterations"
    _assert_same(*traces)


def _kinked(p: list[torch.Tensor]) -> torch.Tensor:
    """Non-smooth (|z| terms): the Wolfe conditions often cannot hold, so zooming runs until the
    bracket is shorter than the line search's own tolerance."""
    z = p[0]
    return z.abs().sum() + 0.1 * (z * z).sum() + (z[0] - 3) ** 2


def _steep(p: list[torch.Tensor]) -> torch.Tensor:
    """A flat-bottomed z⁸ valley: cubic trial steps land next to the bracket's ends (the safeguard)."""
    z = p[0]
    return (z**8).sum() + (z[0] - 1) ** 2


PROBLEMS = {
    "rosenbrock": (_rosenbrock, [-1.2, 1.0, -0.5, 2.0, 0.3, -1.7]),
    "kinked": (_kinked, [1.0, -2.0, 0.5, 3.0]),
    "steep": (_steep, [2.0, -1.5, 0.7, 1.1]),
}


@pytest.mark.parametrize(
    "options",
    [
        {"max_iter": 200, "tolerance_grad": 1e-9, "tolerance_change": 1e-12, "history_size": 20},
        {"max_iter": 100, "tolerance_grad": 1e-12, "tolerance_change": 1e-14, "history_size": 10},
        {"max_iter": 60, "tolerance_grad": 1e-7, "tolerance_change": 1e-9, "history_size": 3},  # history full
        {"max_iter": 30, "max_eval": 12, "history_size": 5},  # the evaluation budget ends the line search
        {"max_iter": 4, "history_size": 20, "lr": 0.5},  # max_iter ends the run
    ],
    ids=["long", "tight", "short-history", "eval-budget", "max-iter"],
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_lbfgs_equals_torch_on_harder_problems(problem: str, options: dict[str, object], dtype: torch.dtype) -> None:
    fn, start = PROBLEMS[problem]
    _assert_same(*_run_both(fn, [torch.tensor(start, dtype=dtype)], **options))


def test_lbfgs_stops_at_once_at_an_optimum_and_reports_its_work() -> None:
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    assert minimize_lbfgs(lambda: (w * w).sum(), [w]).n_evals == 1
    x, y = _clustered(50, 8, 3, seed=1)
    params = [
        torch.zeros(8, 3, dtype=torch.float64, requires_grad=True),
        torch.zeros(3, dtype=torch.float64, requires_grad=True),
    ]
    fn = _logistic(x, y, 3, 1.0)
    result = minimize_lbfgs(lambda: fn(params), params, **HEAD_OPTIONS)  # type: ignore[arg-type]
    assert 1 <= result.n_iter <= 200 and result.n_evals >= result.n_iter and result.loss < result.initial_loss


@pytest.mark.parametrize(
    "dtypes",
    [(torch.float16,), (torch.bfloat16,), (torch.float32, torch.float64)],
    ids=["float16", "bfloat16", "mixed"],
)
def test_lbfgs_refuses_dtypes_whose_rounding_it_does_not_reproduce(dtypes: tuple[torch.dtype, ...]) -> None:
    params = [torch.ones(3, dtype=dt, requires_grad=True) for dt in dtypes]
    with pytest.raises(ValueError, match=r"one dtype, float32 or float64.*convert"):
        minimize_lbfgs(lambda: sum((p.float() ** 2).sum() for p in params), params)  # type: ignore[arg-type, return-value]


def _torch_logistic_solve(
    head: LogisticHead, x: torch.Tensor, y: torch.Tensor, start: tuple[torch.Tensor, torch.Tensor] | None
):
    """LogisticHead._solve as it was, with torch.optim.LBFGS."""
    n, d = x.shape
    x64 = x.to(torch.float64)
    if start is None:
        w = torch.zeros(d, head.n_classes, dtype=torch.float64, requires_grad=True)
        b = torch.zeros(head.n_classes, dtype=torch.float64, requires_grad=True)
    else:
        w = start[0].to(torch.float64).clone(memory_format=torch.contiguous_format).requires_grad_(True)
        b = start[1].to(torch.float64).clone().requires_grad_(True)
    reg = 0.5 / (head.C * n)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=head.max_iter,
        tolerance_grad=head.tol,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x64 @ w + b, y) + reg * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().to(x.dtype).T.contiguous().T, b.detach().to(x.dtype)


def test_the_logistic_head_fits_what_torch_lbfgs_fitted() -> None:
    """Float32 rows as the loop gives them, cold start then a warm start on a bigger labeled set."""
    x, y = _clustered(120, 64, 6, seed=7, dtype=torch.float32)
    head = LogisticHead(n_classes=6, C=1.0)
    first = head._solve(x[:30], y[:30])
    assert all(torch.equal(a, b) for a, b in zip(first, _torch_logistic_solve(head, x[:30], y[:30], None), strict=True))
    second = head._solve(x, y, first)
    assert all(torch.equal(a, b) for a, b in zip(second, _torch_logistic_solve(head, x, y, first), strict=True))


def _torch_mlp_fit(head: MLPHead, x: torch.Tensor, y: torch.Tensor) -> _MLP:
    """MLPHead.fit as it was, with torch.optim.Adam."""
    state = torch.random.get_rng_state()
    torch.manual_seed(head.seed)
    model = _MLP(x.shape[1], head.hidden_dim, head.n_classes, head.dropout)
    torch.random.set_rng_state(state)
    opt = torch.optim.Adam(model.parameters(), lr=head.lr, weight_decay=head.weight_decay)
    gen = _seed_generator(head.seed + 1)
    for _ in range(head.epochs):
        opt.zero_grad()
        h = model.body[1](model.body[0](x))
        loss = torch.nn.functional.cross_entropy(model.out(h * _dropout_mask(h.shape, head.dropout, gen)), y)
        loss.backward()
        opt.step()
    return model


@pytest.mark.parametrize(("epochs", "dropout", "weight_decay"), [(120, 0.2, 1e-4), (40, 0.0, 0.0), (60, 0.5, 1e-2)])
def test_the_mlp_head_trains_what_torch_adam_trained(epochs: int, dropout: float, weight_decay: float) -> None:
    x, y = _clustered(80, 48, 4, seed=3, dtype=torch.float32)
    head = MLPHead(n_classes=4, hidden_dim=32, epochs=epochs, dropout=dropout, weight_decay=weight_decay, seed=5)
    ours = head.fit(x, y).model.state_dict()
    theirs = _torch_mlp_fit(head, x, y).state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_adam_equals_torch_step_by_step_and_skips_a_parameter_without_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(7, 5, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen), torch.randn(3)]
    ours = [s.clone().requires_grad_(True) for s in start]
    theirs = [s.clone().requires_grad_(True) for s in start]
    mine, ref = Adam(ours, lr=3e-2, weight_decay=1e-3), torch.optim.Adam(theirs, lr=3e-2, weight_decay=1e-3)
    for step in range(30):
        for params, opt in ((ours, mine), (theirs, ref)):
            opt.zero_grad()
            loss = (params[0].sin() ** 2).sum() + (params[1] - 1.0).abs().sum()
            if step % 3 == 0:
                loss = loss + params[2].pow(2).sum()  # the third parameter has a gradient every 3rd step only
            loss.backward()
            opt.step()
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)), f"step {step}"


def test_adam_refuses_a_parameter_off_the_cpu() -> None:
    p = torch.zeros(2, device="meta", requires_grad=True)
    with pytest.raises(ValueError, match="CPU"):
        Adam([p])
