"""Learning-curve metrics: accuracy, macro-F1 and the normalised area under the learning curve."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred``.

    Classes absent from both contribute nothing (scikit-learn's convention with labels inferred),
    so a test split without some rare class is not penalised for it.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    tp = np.bincount(y_true[y_true == y_pred], minlength=n_classes).astype(float)
    support = np.bincount(y_true, minlength=n_classes).astype(float)
    predicted = np.bincount(y_pred, minlength=n_classes).astype(float)
    present = (support + predicted) > 0
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[present].mean()) if present.any() else float("nan")


def normalized_aulc(n_labeled: Sequence[int], scores: Sequence[float]) -> float:
    """Trapezoidal area under score-vs-labels, divided by the label range: a mean score in [0, 1].

    Normalising by the x-range (not the number of cycles) keeps uneven budget schedules comparable;
    a curve with a single point has the score itself as its area.
    """
    x = np.asarray(n_labeled, dtype=float)
    y = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ValueError("a learning curve needs at least one point")
    if x.size == 1 or x[-1] == x[0]:
        return float(y.mean())
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"labeled counts must increase along the curve, got {x.tolist()}")
    area = float(np.sum((y[1:] + y[:-1]) * np.diff(x) / 2.0))
    return area / float(x[-1] - x[0])
