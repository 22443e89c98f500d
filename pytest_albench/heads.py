"""Classifier heads trained on frozen embeddings each AL cycle, in torch on the run's device.

The study trains a logistic regression on the embeddings; we add a small MLP because reviewers asked
whether the findings survive a non-linear head. Both are deterministic for a seed on a given device:
full-batch L-BFGS (logistic) or full-batch Adam with a seeded initialisation (MLP), no data shuffling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from .errors import ConfigError
from .registry import Registry


class Head(Protocol):
    """What the loop and the strategies use from a fitted head."""

    n_classes: int

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> Head: ...

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor: ...

    def hidden(self, x: torch.Tensor) -> torch.Tensor: ...

    def sampled_proba(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor: ...


def _seed_generator(seed: int) -> torch.Generator:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed)
    return gen


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    return torch.cat([fn(x[i : i + chunk]) for i in range(0, x.shape[0], chunk)]) if x.shape[0] else fn(x)


@dataclass
class LogisticHead:
    """Multinomial logistic regression with an L2 penalty, matching scikit-learn's objective.

    scikit-learn minimises ``0.5·||W||² + C·Σ_i CE_i`` (bias unpenalised); we minimise the same
    objective divided by ``C·n`` so the optimum, and hence the accuracy, is the same, and the scale
    of the loss stays comparable across labeled-set sizes. The problem is strictly convex, so full-batch
    L-BFGS reaches the same optimum from a zero start without any randomness.
    ``sampled_proba`` is a bootstrap ensemble (BALD's "ensemble" estimator): a linear model has no
    dropout to sample.
    """

    n_classes: int
    C: float = 1.0
    max_iter: int = 200
    tol: float = 1e-6
    seed: int = 0
    n_bootstrap: int = 8
    weight: Any = None
    bias: Any = None
    _train: tuple[Any, Any] | None = None

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> LogisticHead:
        self._train = (x, y)
        self.weight, self.bias = self._solve(x, y)
        return self

    def _solve(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, d = x.shape
        x64 = x.to(torch.float64)
        w = torch.zeros(d, self.n_classes, dtype=torch.float64, device=x.device, requires_grad=True)
        b = torch.zeros(self.n_classes, dtype=torch.float64, device=x.device, requires_grad=True)
        reg = 0.5 / (self.C * n)
        opt = torch.optim.LBFGS(
            [w, b], lr=1.0, max_iter=self.max_iter, tolerance_grad=self.tol,
            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe",
        )

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(x64 @ w + b, y) + reg * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return w.detach().to(x.dtype), b.detach().to(x.dtype)

    def _logits(self, x: torch.Tensor, w: torch.Tensor | None = None, b: torch.Tensor | None = None) -> torch.Tensor:
        if self.weight is None:
            raise ConfigError("the head must be fitted before it can predict; call fit(x, y) first")
        return x @ (self.weight if w is None else w) + (self.bias if b is None else b)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return _batched(lambda c: torch.softmax(self._logits(c), dim=1), x)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def sampled_proba(self, x: torch.Tensor, n_samples: int, gen: torch.Generator) -> torch.Tensor:
        """Probabilities of ``n_samples`` heads fitted on bootstrap resamples of the labeled set."""
        if self._train is None:
            raise ConfigError("the head must be fitted before sampling; call fit(x, y) first")
        tx, ty = self._train
        out = []
        for _ in range(n_samples):
            idx = torch.randint(tx.shape[0], (tx.shape[0],), generator=gen).to(tx.device)
            w, b = self._solve(tx[idx], ty[idx])
            with torch.no_grad():
                out.append(_batched(lambda c, w=w, b=b: torch.softmax(self._logits(c, w, b), dim=1), x))
        return torch.stack(out)


class _MLP(torch.nn.Module):
    def __init__(self, d: int, hidden: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout))
        self.out = torch.nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


@dataclass
class MLPHead:
    """One hidden layer with ReLU and dropout, trained full-batch with Adam and weight decay.

    Full-batch training avoids data-order randomness; the only random choices are the initial weights
    (seeded) and dropout masks (seeded per step), so a seed gives the same head on a given device.
    ``sampled_proba`` is MC dropout; ``hidden`` is the post-ReLU layer that the output layer sees,
    which is what BADGE's gradient embedding needs.
    """

    n_classes: int
    hidden_dim: int = 256
    dropout: float = 0.2
    epochs: int = 200
    lr: float = 1e-2
    weight_decay: float = 1e-4
    seed: int = 0
    model: Any = None

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> MLPHead:
        torch_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(self.seed)  # module init reads the global generator; restored below
            model = _MLP(x.shape[1], self.hidden_dim, self.n_classes, self.dropout).to(x.device)
        finally:
            torch.random.set_rng_state(torch_state)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
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
        return torch.stack(
            [torch.softmax(model.out(h * _dropout_mask(h.shape, self.dropout, gen).to(h.device)), dim=1) for _ in range(n_samples)]
        )


def _dropout_mask(shape: torch.Size, p: float, gen: torch.Generator) -> torch.Tensor:
    """Inverted-dropout mask drawn from an explicit generator (nn.Dropout would use the global one)."""
    if p <= 0.0:
        return torch.ones(shape)
    return (torch.rand(shape, generator=gen) >= p).to(torch.float32) / (1.0 - p)


HeadFactory = Callable[..., Head]
HEADS: Registry[HeadFactory] = Registry("head", entry_point_group="pytest_albench.heads")
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
