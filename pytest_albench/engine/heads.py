"""Classifier heads trained on frozen embeddings each AL cycle, in torch on the run's device.

The study trains a logistic regression on the embeddings; we add a small MLP because reviewers asked
whether the findings survive a non-linear head. Both are deterministic for a seed on a given device:
full-batch L-BFGS (logistic) or full-batch Adam with a seeded initialisation (MLP), no data shuffling.
The optimisers are :mod:`.optim`'s, which reproduce ``torch.optim.LBFGS`` and (on CPU)
``torch.optim.Adam`` bit for bit without importing ``torch._dynamo``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import ConfigError
from ..registry import Registry
from ..strategies import blas
from .optim import Adam, minimize_lbfgs


class Head(Protocol):
    """What the loop and the strategies use from a fitted head."""

    n_classes: int

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Head: ...

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor: ...

    def hidden(self, x: torch.Tensor) -> torch.Tensor: ...

    def sampled_proba(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor: ...


#: How the loop scales the rows before a head (and the strategies) see them: a protocol setting, given
#: to the head as ``feature_scaling`` (see :func:`pytest_albench.engine.loop.feature_scale`).
FEATURE_SCALINGS: dict[str, str] = {
    "pool_norm": "every row times sqrt(d) / the pool's mean row norm (one scalar from the pool, never the test "
    "split): features of unit scale, so one C suits every encoder (the default)",
    "none": "the rows as the encoder wrote them: scikit-learn's LogisticRegression(C=...) on the same rows is "
    "then the same model",
}
DEFAULT_FEATURE_SCALING = "pool_norm"


def check_feature_scaling(value: object) -> str:
    """``value`` if it names a feature scaling, else a ConfigError listing the valid ones."""
    if not isinstance(value, str) or value not in FEATURE_SCALINGS:
        valid = "; ".join(f"{k!r}: {v}" for k, v in FEATURE_SCALINGS.items())
        raise ConfigError(f"unknown feature_scaling {value!r} for the head; valid values: {valid}")
    return value


def _seed_generator(seed: int) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


def _softmax_rows(logits: torch.Tensor) -> torch.Tensor:
    """Row softmax of a fresh logits block, written over it on CPU (same values, one N × C buffer less)."""
    if logits.device.type == "cpu":
        return torch.softmax(logits, dim=1, out=logits)
    return torch.softmax(logits, dim=1)


def _stack_draws(n_samples: int, draw: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``n_samples`` draws of an (N, C) block in one preallocated (n_samples, N, C) tensor.

    Why not ``torch.stack`` of a list: the list and its stacked copy hold every draw twice, 2 × 8 ×
    N × C floats (5 GB at a million rows × 77 classes); here one draw is in flight at a time. The
    draws are made in the same order, so the generator's stream and the values are unchanged.
    """
    if n_samples < 1:
        raise ConfigError(f"n_samples must be >= 1, got {n_samples}")
    first = draw()
    out = torch.empty((n_samples, *first.shape), dtype=first.dtype, device=first.device)
    out[0] = first
    del first
    for s in range(1, n_samples):
        out[s] = draw()
    return out


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    if x.shape[0] <= chunk:
        return fn(x)  # no concatenation copy for the usual single chunk
    return torch.cat([fn(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)])


@dataclass
class LogisticHead:
    """Multinomial logistic regression with an L2 penalty, matching scikit-learn's objective.

    The parameters mean what they mean in scikit-learn's ``LogisticRegression(solver="lbfgs")``:
    ``C`` is the inverse L2 strength, ``max_iter`` the L-BFGS iteration cap (scikit-learn's default
    is 100, the study's code used 1,000; ours is 200 because a warm-started fit rarely needs more),
    ``tol`` the stopping tolerance on the gradient. scikit-learn minimises ``0.5·||W||² + C·Σ_i CE_i``
    (bias unpenalised); we minimise the same objective divided by ``C·n`` (as scikit-learn's lbfgs
    does internally), so the optimum, and hence the accuracy, is the same, and the scale of the loss
    stays comparable across labeled-set sizes. The stopping rule is scikit-learn's too (lbfgs stops
    when the largest gradient entry of that objective is below ``tol`` = 1e-4).

    ``feature_scaling`` is applied by the loop to every row before this head sees it (see
    :data:`FEATURE_SCALINGS`): with the default ``"pool_norm"`` the rows are multiplied by one scalar
    s (about 19.6 for unit-norm 384-d rows), which acts like ``C·s²`` on the raw rows; with
    ``"none"``, ``LogisticHead(C=1.0, max_iter=1000)`` and ``LogisticRegression(C=1.0, max_iter=1000)``
    fitted on the same rows predict the same test labels (``tests/test_head_equivalence.py``).
    The problem is strictly convex, so full-batch L-BFGS reaches the same optimum from any start
    without randomness; the loop therefore starts each cycle from the previous cycle's weights
    (``warm_start_from``), where the optimum barely moves, which cuts the iterations several-fold.
    ``sampled_proba`` draws heads from an approximate posterior, since a linear model has no dropout
    to sample. The default (``posterior="laplace"``) is the diagonal Laplace approximation around the
    fitted weights — the objective is a negative log-posterior with a unit Gaussian prior, whose
    Hessian diagonal is 1 + C·Σᵢ pᵢ꜀(1 − pᵢ꜀)·xᵢⱼ² — so a sample costs one forward pass. The
    alternative ``posterior="bootstrap"`` refits on ``n_samples`` bootstrap resamples (BALD's
    "ensemble" estimator; each fit starts from the full-data optimum); it was 8 L-BFGS fits per
    query, most of a BALD run's time, and on 10–100 labels a resample often drops whole classes.
    """

    n_classes: int
    C: float = 1.0
    max_iter: int = 200
    tol: float = 1e-4
    seed: int = 0
    posterior: str = "laplace"
    feature_scaling: str = DEFAULT_FEATURE_SCALING
    #: Start each cycle's fit from the previous cycle's optimum (see above). The optimum is the same
    #: within ``tol``, but not bit for bit: a test point near a class boundary can flip. The
    #: scikit-activeml and study protocols therefore refit from zero, as scikit-learn does.
    warm_start: bool = True
    weight: Any = None
    bias: Any = None
    _train: tuple[Any, Any] | None = None
    _start: tuple[Any, Any] | None = None

    def __post_init__(self) -> None:
        check_feature_scaling(self.feature_scaling)
        if self.posterior not in ("laplace", "bootstrap"):
            raise ConfigError(
                f"unknown posterior {self.posterior!r} for the logistic head; use 'laplace' or 'bootstrap'"
            )

    def warm_start_from(self, previous: object) -> None:
        """Start the next ``fit`` from a fitted head's weights when it is a compatible LogisticHead
        (and ``warm_start`` is on)."""
        if (
            self.warm_start
            and isinstance(previous, LogisticHead)
            and previous.weight is not None
            and previous.n_classes == self.n_classes
        ):
            self._start = (previous.weight, previous.bias)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> LogisticHead:
        self._train = (x, y)
        start, self._start = self._start, None
        if start is not None and start[0].shape[0] != x.shape[1]:
            start = None
        self.weight, self.bias = self._solve(x, y, start)
        return self

    def _solve(
        self, x: torch.Tensor, y: torch.Tensor, start: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n, d = x.shape
        x64 = x.to(torch.float64)
        if start is None:
            w = torch.zeros(d, self.n_classes, dtype=torch.float64, device=x.device, requires_grad=True)
            b = torch.zeros(self.n_classes, dtype=torch.float64, device=x.device, requires_grad=True)
        else:
            w = start[0].to(torch.float64).clone(memory_format=torch.contiguous_format).requires_grad_(True)
            b = start[1].to(torch.float64).clone().requires_grad_(True)
        reg = 0.5 / (self.C * n)

        def objective() -> torch.Tensor:
            return torch.nn.functional.cross_entropy(x64 @ w + b, y) + reg * (w * w).sum()

        # torch.optim.LBFGS(lr=1, history_size=20, line_search_fn="strong_wolfe") step for step, without
        # the torch._dynamo import that constructing any torch.optim optimiser costs (see optim.py).
        minimize_lbfgs(
            objective,
            [w, b],
            lr=1.0,
            max_iter=self.max_iter,
            tolerance_grad=self.tol,
            tolerance_change=1e-12,
            history_size=20,
        )
        # (d, C) weights kept as the transpose of a contiguous (C, d) block: the pool's forward pass
        # is then an "NT" GEMM, which MKL (ALBENCH_CPU_GEMM=torch) ran ~30 % faster than "NN" for a
        # narrow C on an Intel CPU; numpy's OpenBLAS runs both layouts at the same rate.
        return w.detach().to(x.dtype).T.contiguous().T, b.detach().to(x.dtype)

    def _params(self, w: torch.Tensor | None, b: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w, b)``, or the fitted weights and bias for those not given (a ConfigError before a fit)."""
        if self.weight is None or self.bias is None:
            raise ConfigError("the head must be fitted before it can predict; call fit(x, y) first")
        return (self.weight if w is None else w), (self.bias if b is None else b)

    def _logits(self, x: torch.Tensor, w: torch.Tensor | None = None, b: torch.Tensor | None = None) -> torch.Tensor:
        weight, bias = self._params(w, b)
        # blas.addmm: numpy's BLAS outside autograd on CPU (see strategies.blas), torch otherwise
        return blas.addmm(bias, x, weight)

    def _proba(self, x: torch.Tensor, w: torch.Tensor | None = None, b: torch.Tensor | None = None) -> torch.Tensor:
        """Row softmax of the logits; on CPU computed over columns padded to the BLAS's width.

        The padding columns' logits are −inf, so they add exact zeros to each row's sum and the
        probabilities are the unpadded ones bit for bit (``tests/test_blas.py``); the result is then
        the (N, C) view of an (N, padded) block, about 15 % faster for 77 classes (``blas.addmm_padded``).
        """
        weight, bias = self._params(w, b)
        wide = blas.addmm_padded(bias, x, weight, fill=float("-inf"))
        return _softmax_rows(wide)[:, : weight.shape[1]]

    #: The logits are an affine function of the input, so the logits of a mix of inputs are the
    #: same mix of their logits (Alfa-Mix uses this to avoid a forward pass per mix).
    is_affine = True

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return _batched(self._logits, x)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return _batched(self._proba, x)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def sampled_proba(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor:
        """(n_samples, N, C) probabilities of heads drawn from the approximate posterior."""
        if self._train is None:
            raise ConfigError("the head must be fitted before sampling; call fit(x, y) first")
        if self.posterior == "laplace":
            return self._laplace_samples(x, n_samples, gen)
        if self.posterior != "bootstrap":
            raise ConfigError(
                f"unknown posterior {self.posterior!r} for the logistic head; use 'laplace' or 'bootstrap'"
            )
        tx, ty = self._train

        def draw() -> torch.Tensor:
            idx = torch.randint(tx.shape[0], (tx.shape[0],), generator=gen).to(tx.device)
            w, b = self._solve(tx[idx], ty[idx], (self.weight, self.bias))
            with torch.no_grad():
                return _batched(partial(self._proba, w=w, b=b), x)

        return _stack_draws(n_samples, draw)

    @torch.no_grad()
    def laplace_precision(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Diagonal of the Hessian of ``0.5·||W||² + C·Σᵢ CEᵢ`` at the fitted weights: (d, C), (C,).

        The unpenalised bias gets a tiny prior precision so that its variance stays finite.
        """
        if self._train is None:
            raise ConfigError("the head must be fitted first; call fit(x, y)")
        tx = self._train[0].to(torch.float64)
        p = torch.softmax(tx @ self.weight.to(torch.float64) + self.bias.to(torch.float64), dim=1)
        curvature = p * (1.0 - p)  # (n, C): diagonal of each point's softmax Hessian block
        return 1.0 + self.C * (tx * tx).T @ curvature, 1e-6 + self.C * curvature.sum(dim=0)

    @torch.no_grad()
    def _laplace_samples(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor:
        w_precision, b_precision = self.laplace_precision()
        w_scale = w_precision.rsqrt().to(x.dtype)
        b_scale = b_precision.rsqrt().to(x.dtype)

        def draw() -> torch.Tensor:
            dw = torch.randn(w_scale.shape, generator=gen, dtype=x.dtype).to(x.device) * w_scale
            db = torch.randn(b_scale.shape, generator=gen, dtype=x.dtype).to(x.device) * b_scale
            return _batched(partial(self._proba, w=self.weight + dw, b=self.bias + db), x)

        return _stack_draws(n_samples, draw)


class _MLP(torch.nn.Module):
    def __init__(self, d: int, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout))
        self.out = torch.nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.out(self.body(x))
        return logits


@dataclass
class MLPHead:
    """One hidden layer with ReLU and dropout, trained full-batch with Adam and weight decay.

    Full-batch training avoids data-order randomness; the only random choices are the initial weights
    (seeded) and dropout masks (seeded per step), so a seed gives the same head on a given device.
    ``sampled_proba`` is MC dropout; ``hidden`` is the post-ReLU layer that the output layer sees,
    which is what BADGE's gradient embedding needs. ``feature_scaling`` is applied by the loop, as for
    the logistic head (:data:`FEATURE_SCALINGS`).
    """

    n_classes: int
    hidden_dim: int = 256
    dropout: float = 0.2
    epochs: int = 200
    lr: float = 1e-2
    weight_decay: float = 1e-4
    seed: int = 0
    feature_scaling: str = DEFAULT_FEATURE_SCALING
    model: Any = None

    def __post_init__(self) -> None:
        check_feature_scaling(self.feature_scaling)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> MLPHead:
        torch_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(self.seed)  # module init reads the global generator; restored below
            model = _MLP(x.shape[1], self.hidden_dim, self.n_classes, self.dropout).to(x.device)
        finally:
            torch.random.set_rng_state(torch_state)
        opt = _adam(list(model.parameters()), self.lr, self.weight_decay)
        gen = _seed_generator(self.seed + 1)
        model.train()
        for _ in range(self.epochs):
            opt.zero_grad()
            h = model.body[1](model.body[0](x))
            mask = _dropout_mask(h.shape, self.dropout, gen).to(x.device)
            loss = torch.nn.functional.cross_entropy(model.out(h * mask), y)
            loss.backward()
            opt.step()
        model.eval()
        self.model = model
        return self

    def _require(self) -> Any:
        if self.model is None:
            raise ConfigError("the head must be fitted before it can predict; call fit(x, y) first")
        return self.model

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        model = self._require()
        return _batched(lambda c: torch.softmax(model(c), dim=1), x)

    @torch.no_grad()
    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        model = self._require()
        return _batched(lambda c: model.body[1](model.body[0](c)), x)

    @torch.no_grad()
    def sampled_proba(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor:
        model = self._require()
        h = self.hidden(x)
        return _stack_draws(
            n_samples,
            lambda: torch.softmax(model.out(h * _dropout_mask(h.shape, self.dropout, gen).to(h.device)), dim=1),
        )


def _adam(params: list[torch.Tensor], lr: float, weight_decay: float) -> Adam | torch.optim.Adam:
    """Adam for the MLP: on CPU :class:`~.optim.Adam`, torch's CPU arithmetic without its
    ``torch._dynamo`` import; elsewhere ``torch.optim.Adam`` itself (it runs its ``foreach`` kernels
    there, which round differently, and the results on a GPU stay what they were)."""
    if all(p.device.type == "cpu" for p in params):
        return Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _dropout_mask(shape: torch.Size, p: float, gen: torch.Generator) -> torch.Tensor:
    """Inverted-dropout mask drawn from an explicit generator (nn.Dropout would use the global one)."""
    if p <= 0.0:
        return torch.ones(shape)
    return (torch.rand(shape, generator=gen) >= p).to(torch.float32) / (1.0 - p)


HeadFactory = Callable[..., Head]
HEADS: Registry[HeadFactory] = Registry("head", entry_point_group="pytest_albench.engine.heads")
HEADS.add("logistic", LogisticHead)
HEADS.add("mlp", MLPHead)


def register_head(name: str, *, replace: bool = False) -> Callable[[HeadFactory], HeadFactory]:
    """Register a head factory ``(n_classes=..., seed=..., **params) -> Head`` under ``name``."""
    return HEADS.decorator(name, replace=replace)


def make_head(name: str, n_classes: int, seed: int, **params: Any) -> Head:
    factory = HEADS.get(name)
    try:
        return factory(n_classes=n_classes, seed=seed, **params)
    except TypeError as exc:
        raise ConfigError(f"invalid parameters {sorted(params)} for head {name!r}: {exc}") from exc


def head_names() -> list[str]:
    return HEADS.names()


def numpy_seed(rng: np.random.Generator) -> int:
    """A 63-bit seed drawn from a numpy stream, for components that take an integer seed."""
    return int(rng.integers(0, 2**63 - 1))
