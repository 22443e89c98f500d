"""The heads' two optimisers, L-BFGS and Adam, written without ``torch.optim``.

Why: ``torch.optim.Optimizer.__init__`` calls ``add_param_group``, which torch wraps in
``torch._disable_dynamo``; that wrapper imports ``torch._dynamo`` on its first call (and ``step``'s
``_use_grad_for_differentiable`` imports it again). In torch 2.13 that import costs 1.5–2.4 s of
a case's start-up (it pulls in sympy and parts of inductor), for optimisers that never compile
anything. There is no supported switch that skips it (``TORCH_COMPILE_DISABLE`` still imports
dynamo to build the disabled wrapper), so the heads use these two instead.

Both are written to produce **the same floating-point results as torch's** with the settings the
heads use: the same tensor operations, on the same tensors, in the same order, with the same mix of
Python floats and 0-d tensors for the scalars (the two-loop recursion's scalars are numpy scalars
of the parameters' dtype, which round as 0-d tensors of that dtype do; see ``_numpy_scalar``).
``tests/test_optim.py`` compares every iterate and the final weights bit for bit with
``torch.optim.LBFGS`` / ``torch.optim.Adam`` on real problems.

* :func:`minimize_lbfgs`: limited-memory BFGS, the two-loop recursion (Nocedal & Wright,
  *Numerical Optimization*, 2nd ed., Algorithm 7.4, with the initial scaling γ = sᵀy / yᵀy of
  eq. 7.20), and a line search for the strong Wolfe conditions by bracketing and zooming with cubic
  interpolation (ibid., Algorithms 3.5 and 3.6; eq. 3.59 for the cubic). The control flow, the
  constants and the stopping rules are those of ``torch.optim.LBFGS(line_search_fn="strong_wolfe")``
  (itself a port of minFunc and of Lua torch's ``optim.lbfgs``/``lswolfe``), which served as the
  reference implementation.
* :class:`Adam`: Kingma & Ba (2015), Algorithm 1, with L2 weight decay added to the gradient, as
  ``torch.optim.Adam(lr, weight_decay)`` runs it on CPU (its single-tensor path; the ``foreach``
  kernels that torch picks on CUDA round differently, so :class:`Adam` is for CPU tensors).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

#: A scalar of the line search: torch's LBFGS mixes Python floats (losses, constants) with 0-d
#: tensors (directional derivatives, the first step); keeping the same mix keeps the same rounding
#: (a 0-d float32 tensor times a Python float is a float32 product, two Python floats a double one).
Scalar = float | torch.Tensor

#: Sufficient-decrease (Armijo) and curvature constants of the strong Wolfe conditions.
WOLFE_C1 = 1e-4
WOLFE_C2 = 0.9
#: The line search stops zooming once its interval is this short (times the direction's largest entry).
#: torch's LBFGS does not hand its ``tolerance_change`` down to the line search; it uses this default.
LINE_SEARCH_TOLERANCE = 1e-9
#: Pairs (s, y) with sᵀy at or below this are not stored (the update would not stay positive definite).
CURVATURE_FLOOR = 1e-10


@dataclass(frozen=True)
class LBFGSResult:
    """What a :func:`minimize_lbfgs` call did: the loss at the start and at the end, the counts."""

    initial_loss: float
    loss: float
    n_iter: int
    n_evals: int


class _Problem:
    """The parameters as one flat vector: evaluate loss and gradient, step along a direction."""

    def __init__(self, objective: Callable[[], torch.Tensor], params: Sequence[torch.Tensor]) -> None:
        self.objective = objective
        self.params = list(params)
        self.numel = sum(p.numel() for p in self.params)

    def evaluate(self) -> tuple[float, torch.Tensor]:
        """Loss and flat gradient at the current parameters."""
        with torch.enable_grad():
            loss = self.objective()
            grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        flat = [
            p.new(p.numel()).zero_() if g is None else g.reshape(-1) for p, g in zip(self.params, grads, strict=True)
        ]
        return float(loss.detach()), torch.cat(flat, 0)

    def step(self, t: Scalar, direction: torch.Tensor) -> None:
        """params += t · direction, parameter by parameter."""
        offset = 0
        for p in self.params:
            n = p.numel()
            p.add_(direction[offset : offset + n].view_as(p), alpha=_number(t))
            offset += n

    def snapshot(self) -> list[torch.Tensor]:
        return [p.clone(memory_format=torch.contiguous_format) for p in self.params]

    def restore(self, saved: list[torch.Tensor]) -> None:
        for p, value in zip(self.params, saved, strict=True):
            p.copy_(value)

    def evaluate_at(self, origin: list[torch.Tensor], direction: torch.Tensor, t: Scalar) -> tuple[float, torch.Tensor]:
        """Loss and gradient at origin + t · direction; the parameters are back at ``origin`` after."""
        self.step(t, direction)
        found = self.evaluate()
        self.restore(origin)
        return found


def _abs(x: Scalar) -> Scalar:
    return x.abs() if isinstance(x, torch.Tensor) else abs(x)


def _number(x: Scalar) -> float:
    """``x`` as a Python float, for an ``alpha=`` argument (torch reads a 0-d tensor's value the same way)."""
    return float(x)


def _cubic_minimiser(
    x1: Scalar, f1: Scalar, g1: Scalar, x2: Scalar, f2: Scalar, g2: Scalar, bounds: tuple[Scalar, Scalar] | None = None
) -> Scalar:
    """Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to ``bounds``
    (default: the interval between the points); its midpoint when the cubic has no real minimiser.

    Nocedal & Wright eq. 3.59: d₁ = g₁ + g₂ − 3(f₁ − f₂)/(x₁ − x₂), d₂ = √(d₁² − g₁g₂),
    x = x₂ − (x₂ − x₁)(g₂ + d₂ − d₁)/(g₂ − g₁ + 2d₂), written from the smaller x.
    """
    if bounds is None:
        low, high = (x1, x2) if x1 <= x2 else (x2, x1)
    else:
        low, high = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    discriminant = d1**2 - g1 * g2
    if not discriminant >= 0:
        return (low + high) / 2.0
    d2 = discriminant.sqrt() if isinstance(discriminant, torch.Tensor) else math.sqrt(discriminant)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, low), high)


@dataclass
class _Point:
    """One trial step of the line search: step length, loss, gradient, directional derivative."""

    t: Scalar
    f: Scalar
    g: torch.Tensor
    gtd: Scalar


def _strong_wolfe_search(
    evaluate: Callable[[Scalar], tuple[float, torch.Tensor]],
    direction: torch.Tensor,
    t: Scalar,
    f: float,
    g: torch.Tensor,
    gtd: Scalar,
    max_evals: int,
    tolerance_change: float = LINE_SEARCH_TOLERANCE,
) -> tuple[float, torch.Tensor, Scalar, int]:
    """A step length t along ``direction`` meeting the strong Wolfe conditions (or the best found
    within ``max_evals`` evaluations): returns (loss, gradient, t, evaluations used).

    ``evaluate(t)`` gives loss and gradient at x + t·d; f, g, gtd are those at x (gtd = gᵀd < 0).
    Phase 1 grows the step until an interval holds an acceptable point (Nocedal & Wright, Alg. 3.5);
    phase 2 shrinks that interval by safeguarded cubic interpolation (Alg. 3.6, "zoom").
    """
    d_norm = direction.abs().max()
    start = _Point(0, f, g.clone(memory_format=torch.contiguous_format), gtd)
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = g_new.dot(direction)

    def sufficient_decrease_fails(t_trial: Scalar, f_trial: Scalar) -> bool:
        return bool(f_trial > (f + WOLFE_C1 * t_trial * gtd))

    def curvature_holds(gtd_trial: Scalar) -> bool:
        return bool(_abs(gtd_trial) <= -WOLFE_C2 * gtd)

    # Phase 1: bracket. ``low``/``high`` end up as the interval's ends, or ``found`` is set.
    previous = start
    bracket: list[_Point] = []
    found = False
    iters = 0
    while iters < max_evals:
        if sufficient_decrease_fails(t, f_new) or (iters > 1 and f_new >= previous.f):
            bracket = [previous, _Point(t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)]
            break
        if curvature_holds(gtd_new):
            bracket = [_Point(t, f_new, g_new, gtd_new)]
            found = True
            break
        if gtd_new >= 0:
            bracket = [previous, _Point(t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)]
            break
        # Extrapolate: a cubic step between 1.01·t − 0.01·t_prev and 10·t.
        t_next = _cubic_minimiser(
            previous.t, previous.f, previous.gtd, t, f_new, gtd_new, bounds=(t + 0.01 * (t - previous.t), t * 10)
        )
        previous = _Point(t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(direction)
        iters += 1
    if iters == max_evals:
        # Out of evaluations while still extrapolating: the interval from the start to the last trial.
        # (Its ends' slopes are never read: phase 2 cannot run with no evaluations left.)
        bracket = [_Point(0, f, start.g, gtd), _Point(t, f_new, g_new, gtd_new)]

    # Phase 2: zoom. ``lo`` is the end with the lower loss, ``hi`` the other.
    lo, hi = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    insufficient_progress = False
    while not found and iters < max_evals:
        a, b = bracket
        if _abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t = _cubic_minimiser(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        # Safeguard: a trial within 10 % of the interval's length from an end is moved to that 10 %
        # mark if the previous trial also was, or if it is at (or past) an end.
        t_max = max(a.t, b.t)
        t_min = min(a.t, b.t)
        eps = 0.1 * (t_max - t_min)
        if min(t_max - t, t - t_min) < eps:
            if insufficient_progress or t >= t_max or t <= t_min:
                t = t_max - eps if _abs(t - t_max) < _abs(t - t_min) else t_min + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(direction)
        iters += 1

        if sufficient_decrease_fails(t, f_new) or f_new >= bracket[lo].f:
            bracket[hi] = _Point(t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)
            lo, hi = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if curvature_holds(gtd_new):
                found = True
            elif gtd_new * (bracket[hi].t - bracket[lo].t) >= 0:
                bracket[hi] = bracket[lo]
            bracket[lo] = _Point(t, f_new, g_new.clone(memory_format=torch.contiguous_format), gtd_new)

    best = bracket[lo]
    return float(best.f), best.g, best.t, evals


def _numpy_scalar(params: Sequence[torch.Tensor]) -> type[np.floating]:
    """The numpy scalar type of the parameters' dtype, for the two-loop recursion's scalars.

    torch's LBFGS keeps them as 0-d tensors. A product or quotient of two 0-d tensors of one dtype
    is the correctly rounded result in that dtype, and so is the same operation on two numpy scalars
    of that dtype: the values are the same bit for bit, at a fraction of the cost (a 0-d tensor
    operation costs microseconds, and the recursion does four per stored pair and iteration).
    """
    dtypes = {p.dtype for p in params}
    types: dict[torch.dtype, type[np.floating]] = {torch.float64: np.float64, torch.float32: np.float32}
    if len(dtypes) != 1 or next(iter(dtypes)) not in types:
        raise ValueError(
            "minimize_lbfgs reproduces torch's LBFGS for parameters of one dtype, float32 or float64; "
            f"got {sorted(map(str, dtypes))}: convert the parameters to one of them"
        )
    return types[next(iter(dtypes))]


def _first_step(grad: torch.Tensor, lr: float) -> Scalar:
    """The first iteration's step: lr · min(1, 1/||g||₁) (no curvature is known yet); a 0-d tensor
    when 1/||g||₁ < 1, as in torch (``min`` keeps its first argument on a tie)."""
    inverse_norm = 1.0 / grad.abs().sum()
    smaller: Scalar = inverse_norm if inverse_norm < 1.0 else 1.0
    return smaller * lr


def minimize_lbfgs(
    objective: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    *,
    lr: float = 1.0,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
) -> LBFGSResult:
    """Minimise ``objective()`` over ``params`` (leaf tensors with ``requires_grad``, updated in place).

    The same as one ``torch.optim.LBFGS(params, lr, max_iter, max_eval, tolerance_grad,
    tolerance_change, history_size, line_search_fn="strong_wolfe").step(closure)`` on a fresh
    optimiser, bit for bit, where the closure zeroes the gradients, computes ``objective()`` and
    back-propagates it. ``objective`` only computes the loss; the gradients are taken here with
    ``torch.autograd.grad`` (the parameters' ``.grad`` is left alone). Stops after ``max_iter``
    iterations or ``max_eval`` evaluations (default ``max_iter · 5 // 4``), when the largest
    gradient entry is at most ``tolerance_grad``, or when the step, the loss change or the
    directional derivative fall below ``tolerance_change``.
    """
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    problem = _Problem(objective, params)
    scalar = _numpy_scalar(params)
    # numpy warns where a scalar overflows; torch's 0-d tensors give the same inf or nan silently
    with torch.no_grad(), np.errstate(all="ignore"):
        loss, flat_grad = problem.evaluate()
        initial_loss = loss
        evals = 1
        if flat_grad.abs().max() <= tolerance_grad:
            return LBFGSResult(initial_loss, loss, 0, evals)

        dirs: list[torch.Tensor] = []  # y_k = g_{k+1} − g_k
        steps: list[torch.Tensor] = []  # s_k = x_{k+1} − x_k
        rho: list[np.floating] = []  # 1 / y_kᵀs_k
        alpha: list[np.floating] = [scalar(0.0)] * history_size
        gamma: Scalar = 1  # initial inverse-Hessian scale yᵀs / yᵀy
        direction = flat_grad.neg()
        t: Scalar = 1.0
        prev_flat_grad: torch.Tensor | None = None
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            if n_iter > 1 and prev_flat_grad is not None:
                y = flat_grad.sub(prev_flat_grad)
                s = direction.mul(t)
                ys = y.dot(s)
                if ys > CURVATURE_FLOOR:
                    if len(dirs) == history_size:
                        dirs.pop(0)
                        steps.pop(0)
                        rho.pop(0)
                    dirs.append(y)
                    steps.append(s)
                    rho.append(scalar(1.0) / scalar(ys.item()))
                    gamma = ys / y.dot(y)
                # Two-loop recursion: direction = −H·g with H the L-BFGS inverse-Hessian estimate.
                q = flat_grad.neg()
                for i in range(len(dirs) - 1, -1, -1):
                    alpha[i] = scalar(steps[i].dot(q).item()) * rho[i]
                    q.add_(dirs[i], alpha=float(-alpha[i]))
                direction = r = torch.mul(q, gamma)
                for i in range(len(dirs)):
                    beta = scalar(dirs[i].dot(r).item()) * rho[i]
                    r.add_(steps[i], alpha=float(alpha[i] - beta))

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone(memory_format=torch.contiguous_format)
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss

            # First iteration: a step of at most lr / ||g||₁ (no curvature known yet); then lr.
            t = _first_step(flat_grad, lr) if n_iter == 1 else lr
            gtd = flat_grad.dot(direction)
            if gtd > -tolerance_change:
                break  # not a descent direction any more (to working precision)

            origin = problem.snapshot()
            loss, flat_grad, t, ls_evals = _strong_wolfe_search(
                partial(problem.evaluate_at, origin, direction),
                direction,
                t,
                loss,
                flat_grad,
                gtd,
                max_eval - evals,
            )
            problem.step(t, direction)
            evals += ls_evals

            if n_iter == max_iter or evals >= max_eval:
                break
            if flat_grad.abs().max() <= tolerance_grad:
                break
            if direction.mul(t).abs().max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break
    return LBFGSResult(initial_loss, loss, n_iter, evals)


class Adam:
    """Adam with L2 weight decay (added to the gradient), for CPU parameters, used like torch's.

    ``Adam(params, lr, weight_decay=wd)`` with ``zero_grad()``, ``loss.backward()``, ``step()`` does
    what ``torch.optim.Adam(params, lr=lr, weight_decay=wd)`` (default betas and eps, no amsgrad, not
    maximising) does on CPU, bit for bit: g ← g + wd·θ; m ← lerp(m, g, 1 − β₁);
    v ← β₂·v + (1 − β₂)·g²; θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε). A parameter without a
    gradient is skipped (its step count does not advance), as torch skips it.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        self.params = list(params)
        for p in self.params:
            if p.device.type != "cpu":
                raise ValueError(f"this Adam reproduces torch's CPU arithmetic; got a parameter on {p.device}")
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.steps = [0] * len(self.params)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        """Drop the parameters' gradients (torch's default ``set_to_none=True``)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            self.steps[i] += 1
            step = float(self.steps[i])  # torch counts in a float32 tensor and reads it back as a float
            if self.weight_decay != 0:
                grad = grad.add(param, alpha=self.weight_decay)
            self.exp_avg[i].lerp_(grad, 1 - self.beta1)
            self.exp_avg_sq[i].mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            bias_correction1 = 1 - self.beta1**step
            bias_correction2 = 1 - self.beta2**step
            step_size = self.lr / bias_correction1
            denom = (self.exp_avg_sq[i].sqrt() / bias_correction2**0.5).add_(self.eps)
            param.addcdiv_(self.exp_avg[i], denom, value=-step_size)
