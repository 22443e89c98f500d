"""Our side of the peer benchmark: our strategy called exactly as ``run_active_learning`` calls it.

Why an adapter like the peers': the harness times every side through the same four methods (see
``adapters``), so ours must accept the shared ``CycleInputs`` and pay what one of our AL cycles pays
for a query: building ``QueryInputs``, the engine's public ``fill_needs`` and ``query()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..common.memory import nbytes
from . import adapters as pa


def peer_settings(strategy: str, scale: float) -> dict[str, Any]:
    """Our strategy's parameters that make it do the work scikit-activeml 1.0.1 does by default.

    TypiClust: |L| + B clusters, not our cap of 500. ProbCover: δ from scikit-activeml's grid
    (0.2, 0.4, ..., 2.0, times the feature scale the pool was multiplied by) instead of our exact
    purity search; the pseudo-labels are C clusters on both sides. The ball graph stays ours (sparse,
    built once): that difference is the implementation, not a setting.
    """
    from pytest_albench.strategies.probcover import SKACTIVEML_DELTA_GRID

    if strategy == "typiclust":
        return {"max_clusters": None}
    if strategy == "probcover":
        return {"delta_grid": [round(v * scale, 6) for v in SKACTIVEML_DELTA_GRID]}
    raise ValueError(f"no peer settings for {strategy!r}; only typiclust and probcover have them")


class OursAdapter:
    """Our strategy, fed exactly as ``run_active_learning`` feeds it (see module doc).

    The head is our ``LogisticHead`` with the scikit-learn estimator's weights loaded (in the
    features' dtype, on the run's device), and ``_train`` set to the labeled set for strategies
    that refit it (``sampled_proba``).
    """

    library = "ours"

    def __init__(
        self,
        strategy: str,
        x: np.ndarray,
        labels: np.ndarray,
        device: str,
        n_samples: int,
        params: dict[str, Any] | None = None,
    ) -> None:
        import torch

        from pytest_albench.engine.loop import fill_needs
        from pytest_albench.strategies import QueryInputs, get_strategy, query

        self.spec = get_strategy(strategy)
        self.params = dict(params or {})
        self.device = device
        self.cuda = device.startswith("cuda")
        self.n_samples = n_samples
        self._torch = torch
        self._fill_needs = fill_needs
        self._inputs = QueryInputs
        self._query = query
        self.x = torch.from_numpy(x).to(device)  # shares memory with x on CPU
        self.y = torch.from_numpy(labels.astype(np.int64)).to(device)
        self.head: Any = None
        self.labeled: Any = None
        self.known: Any = None

    def new_state(self, cycle: pa.CycleInputs) -> dict[str, Any]:
        return {}

    def bind(self, cycle: pa.CycleInputs) -> None:
        from pytest_albench.engine.heads import LogisticHead

        torch = self._torch
        clf = cycle.clf
        if not np.array_equal(clf.classes_, np.arange(cycle.n_classes)):
            raise ValueError(
                f"the fitted classifier knows classes {clf.classes_.tolist()[:10]}..., "
                f"expected 0..{cycle.n_classes - 1}; every class needs a labeled point"
            )
        head = LogisticHead(n_classes=cycle.n_classes)
        # (d, C) as the transpose of the contiguous (C, d) coef_: the layout LogisticHead.fit stores
        head.weight = torch.tensor(clf.coef_, dtype=self.x.dtype, device=self.device).T
        head.bias = torch.tensor(clf.intercept_, dtype=self.x.dtype, device=self.device)
        idx = torch.from_numpy(np.flatnonzero(cycle.labeled)).to(self.device)
        head._train = (self.x[idx], self.y[idx])
        self.head = head
        self.labeled = torch.from_numpy(cycle.labeled.copy()).to(self.device)
        self.known = torch.where(self.labeled, self.y, torch.full_like(self.y, -1))

    def sync(self) -> None:
        if self.cuda:
            self._torch.cuda.synchronize(self.device)

    def select(self, state: dict[str, Any], cycle: pa.CycleInputs, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        inputs = self.filled_inputs(state, cycle, rng)
        picked = self._query(self.spec, inputs, cycle.batch, rng, self.params)
        self.sync()
        return np.asarray(picked, dtype=np.int64)

    def filled_inputs(self, state: dict[str, Any], cycle: pa.CycleInputs, rng: np.random.Generator) -> Any:
        """The ``QueryInputs`` a cycle hands the strategy, its needs computed from the bound head."""
        inputs = self._inputs(self.x, self.labeled.clone(), self.known.clone(), cycle.n_classes, memo=state)
        self._fill_needs(inputs, self.spec.needs, self.head, self.x, self.n_samples, rng)
        return inputs

    def accuracy(self, x_test: Any, y_test: np.ndarray) -> float:
        pred = self.head.predict_proba(x_test).argmax(dim=1).cpu().numpy()
        return float((pred == y_test).mean())

    @staticmethod
    def memo_filled(state: dict[str, Any]) -> bool:
        return bool(state)

    @staticmethod
    def memo_bytes(state: dict[str, Any]) -> int:
        return nbytes(state)
