"""Alfa-Mix: query points whose prediction flips when mixed a little toward a labeled class anchor.

For every unlabeled z and each class anchor z*_c (the mean labeled embedding of class c), the mix
z_α = α z*_c + (1 − α) z is classified by the head; a point is a candidate when some mix changes its
predicted label. Such points sit near a decision boundary *in the direction of labeled data*, which
is what the paper calls novel features the model has not learned to use yet. Candidates are then
spread out by k-means into ``batch_size`` clusters, taking the candidate closest to each centre.

Deviations from the paper, and why:

* α is a small grid of scalars in (0, 0.5] (default 0.125, 0.25, 0.375, 0.5) rather than the paper's
  per-feature closed form. The closed form needs gradients through the head, which the head
  interface does not promise (a scikit-learn head has none); the grid needs only
  ``predict_proba``, and α ≤ 0.5 keeps every mix nearer to z than to the anchor, as the paper's
  bound on ||α|| intends.
* Mixing happens on the head's input features (the embeddings). For the logistic head these are
  the features of its only (last) layer, exactly as in the paper; for an MLP head the paper mixes
  the penultimate features, which the interface does not expose as an input.
* Classes without labeled points have no anchor and are skipped.
* When fewer than ``batch_size`` points are candidates, all candidates are taken and the batch is
  filled with the non-candidates of smallest margin (the paper fills at random); the fill is still
  uncertainty-aware, which matters most in the first cycles where few predictions flip.

References
----------
Parvaneh et al. (2022), "Active learning by feature mixing", CVPR.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..errors import ConfigError
from ._common import as_indices, diverse_subset, margins, require, require_head
from .base import ProbaHead, QueryInputs, register_strategy
from .kernels import DEFAULT_CHUNK, top_k, torch_generator
from .params import Param

#: Interpolation weights toward the anchor, smallest first.
DEFAULT_ALPHAS = (0.125, 0.25, 0.375, 0.5)
#: What a case may set (``strategy_params``); α ≤ 0.5 keeps a mix nearer the point than the anchor.
PARAMS = (
    Param("alphas", "floats", low=0.0, high=0.5, low_inclusive=False, doc="interpolation weights toward the anchor"),
)


def class_anchors(inputs: QueryInputs) -> torch.Tensor:
    """(A, d) mean labeled embedding of each class that has at least one labeled point."""
    idx = inputs.labeled_indices()
    y = inputs.labels[idx].to(inputs.embeddings.device)
    x = inputs.embeddings[idx]
    sums = torch.zeros((inputs.n_classes, x.shape[1]), dtype=x.dtype, device=x.device).index_add_(0, y, x)
    counts = torch.bincount(y, minlength=inputs.n_classes)
    present = counts > 0
    return sums[present] / counts[present, None].to(x.dtype)


@torch.no_grad()
def count_flips(
    head: ProbaHead,
    x: torch.Tensor,
    rows: torch.Tensor,
    predicted: torch.Tensor,
    anchors: torch.Tensor,
    alphas: Sequence[float],
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """How many (anchor, α) mixes change each point's predicted label.

    Parameters
    ----------
    head : fitted head; only ``predict_proba`` is called.
    x : (N, d) pool embeddings.
    rows : (M,) indices of the points to test; gathered one chunk at a time, never copied whole.
    predicted : (M,) current predicted labels.
    anchors : (A, d) class anchors.
    alphas : interpolation weights toward the anchor.
    chunk : rows per forward pass, bounding memory to chunk × d per mix.

    Returns
    -------
    (M,) int64 flip counts in [0, A · len(alphas)].
    """
    if getattr(head, "is_affine", False):
        return _affine_flip_counts(head, x, rows, predicted, anchors, alphas)
    flips = torch.zeros(rows.shape[0], dtype=torch.long, device=x.device)
    for start in range(0, rows.shape[0], chunk):
        z, pred = x[rows[start : start + chunk]], predicted[start : start + chunk]
        for anchor in anchors:
            for alpha in alphas:
                mixed = torch.lerp(z, anchor.expand_as(z), alpha)
                flipped = head.predict_proba(mixed).argmax(dim=1).to(pred.device) != pred
                flips[start : start + chunk] += flipped.to(flips.device)
    return flips


@torch.no_grad()
def flip_candidates(
    head: ProbaHead,
    x: torch.Tensor,
    rows: torch.Tensor,
    predicted: torch.Tensor,
    anchors: torch.Tensor,
    alphas: Sequence[float],
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """(M,) bool: whether any (anchor, α) mix changes the point's predicted label.

    This is all Alfa-Mix selects from (``count_flips(...) > 0``). For an affine head it is much
    cheaper than counting: see ``_affine_flip_candidates``. Other heads count over the whole grid.
    """
    if not len(alphas):  # no mix at all: the affine path has no largest α and nothing could flip
        raise ConfigError("alfamix needs at least one interpolation weight α, got none")
    if getattr(head, "is_affine", False):
        return _affine_flip_candidates(head, x, rows, predicted, anchors, alphas)
    return count_flips(head, x, rows, predicted, anchors, alphas, chunk) > 0


def _logit_blocks(
    head: ProbaHead, x: torch.Tensor, rows: torch.Tensor, predicted: torch.Tensor, anchor_logits: torch.Tensor
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """(positions in ``rows``, their (b, C) logits, their predictions) in blocks of rows small enough
    that a (b, A, C) temporary of mixed logits stays near 2^22 entries."""
    size = max(1, 2**22 // max(1, anchor_logits.shape[0] * anchor_logits.shape[1]))
    for start in range(0, rows.shape[0], size):
        block = slice(start, start + size)
        yield block, head.logits(x[rows[block]]), predicted[block].to(x.device)  # type: ignore[attr-defined]


def _grid_flips(
    point_logits: torch.Tensor, anchor_logits: torch.Tensor, pred: torch.Tensor, alphas: Sequence[float]
) -> torch.Tensor:
    """(b,) flip counts over the anchors and the α grid, from (b, C) point and (A, C) anchor logits."""
    flips = torch.zeros(point_logits.shape[0], dtype=torch.long, device=point_logits.device)
    for alpha in alphas:
        mixed = torch.lerp(point_logits[:, None, :], anchor_logits[None, :, :], alpha)
        flips += (mixed.argmax(dim=2) != pred[:, None]).sum(dim=1)
    return flips


@torch.no_grad()
def _affine_flip_counts(
    head: ProbaHead,
    x: torch.Tensor,
    rows: torch.Tensor,
    predicted: torch.Tensor,
    anchors: torch.Tensor,
    alphas: Sequence[float],
) -> torch.Tensor:
    """``count_flips`` for a head whose logits are affine in its input (the logistic head).

    logits(α a + (1 − α) z) = α logits(a) + (1 − α) logits(z), so every mix is classified from
    the (M, C) logits of the points and the (A, C) logits of the anchors: O(M · A · C) per α
    instead of a (chunk × d) @ (d × C) forward pass per anchor and α.
    """
    anchor_logits = head.logits(anchors)  # type: ignore[attr-defined]
    flips = torch.zeros(rows.shape[0], dtype=torch.long, device=x.device)
    if anchors.shape[0] == 0:
        return flips
    for block, point_logits, pred in _logit_blocks(head, x, rows, predicted, anchor_logits):
        flips[block] = _grid_flips(point_logits, anchor_logits, pred, alphas)
    return flips


@torch.no_grad()
def _affine_flip_candidates(
    head: ProbaHead,
    x: torch.Tensor,
    rows: torch.Tensor,
    predicted: torch.Tensor,
    anchors: torch.Tensor,
    alphas: Sequence[float],
) -> torch.Tensor:
    """``flip_candidates`` for an affine head, with the same answer as counting over the grid.

    Why one α suffices: with p the point's top logit class, class c's lead over p in a mix,
    (1 − α)(l_c − l_p) + α(m_c − m_p), is linear in α and ≤ 0 at α = 0, so once a mix flips, every
    larger α flips too; only the largest α of the grid needs checking. That argument needs p to be
    the top *logit*; rows whose given prediction is not (softmax ties in float32) keep the full grid.
    Why most rows cost O(A), not O(A · C): a mix has flipped as soon as the anchor's own top class
    beats p in it, which is checked for every (row, anchor) pair at once; only rows where no anchor
    passes that test need the full (A, C) argmax.
    """
    anchor_logits = head.logits(anchors)  # type: ignore[attr-defined]
    candidate = torch.zeros(rows.shape[0], dtype=torch.bool, device=x.device)
    if anchors.shape[0] == 0 or rows.shape[0] == 0:
        return candidate
    alpha = max(alphas)
    anchor_top = anchor_logits.argmax(dim=1)  # (A,)
    anchor_top_logit = anchor_logits.gather(1, anchor_top[:, None]).T  # (1, A)
    for block, point_logits, pred in _logit_blocks(head, x, rows, predicted, anchor_logits):
        top_mix = torch.lerp(point_logits[:, anchor_top], anchor_top_logit, alpha)  # (b, A)
        pred_mix = torch.lerp(point_logits.gather(1, pred[:, None]), anchor_logits[:, pred].T, alpha)
        found = (top_mix > pred_mix).any(dim=1)
        irregular = point_logits.argmax(dim=1) != pred
        rest = torch.nonzero(~found & ~irregular).flatten()
        if rest.numel():
            found[rest] = _grid_flips(point_logits[rest], anchor_logits, pred[rest], (alpha,)) > 0
        odd = torch.nonzero(irregular & ~found).flatten()
        if odd.numel():
            found[odd] = _grid_flips(point_logits[odd], anchor_logits, pred[odd], alphas) > 0
        candidate[block] = found
    return candidate


@register_strategy("alfamix", needs={"head", "proba"}, params=PARAMS)
def alfamix(
    inputs: QueryInputs,
    batch_size: int,
    rng: np.random.Generator,
    *,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> np.ndarray:
    """Query diverse points whose label flips under mixing toward class anchors (Alfa-Mix).

    Parameters
    ----------
    inputs : needs ``head`` and ``proba`` (N, C); reads labeled ``embeddings`` and ``labels``.
    batch_size : number of points to return.
    rng : seeds the k-means that diversifies the candidates and the tie-breaks of the fill.
    alphas : interpolation weights in (0, 0.5].

    Returns
    -------
    (batch_size,) int64 pool indices.
    """
    head = require_head(inputs, "alfamix")
    unlabeled = inputs.unlabeled_indices()
    proba = require(inputs, "proba", "alfamix")[unlabeled]
    gen = torch_generator(rng)
    x = inputs.embeddings
    candidate = flip_candidates(head, x, unlabeled, proba.argmax(dim=1), class_anchors(inputs), alphas)
    local = _diverse_candidates(x[unlabeled[candidate]], candidate, margins(proba), batch_size, gen)
    return as_indices(unlabeled[local])


def _diverse_candidates(
    z_cand: torch.Tensor, candidate: torch.Tensor, margin: torch.Tensor, batch_size: int, gen: torch.Generator
) -> torch.Tensor:
    """``batch_size`` local indices: diverse candidates, or all of them plus the smallest margins."""
    cand = torch.nonzero(candidate).flatten()
    if cand.shape[0] >= batch_size:
        return cand[diverse_subset(z_cand, batch_size, gen)]
    rest = torch.nonzero(~candidate).flatten()
    fill = rest[top_k(margin[rest], batch_size - cand.shape[0], gen, largest=False)]
    return torch.cat([cand, fill])
