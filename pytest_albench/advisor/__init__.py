"""The advisor: which query strategy for an unlabeled pool, predicted from label-free measures.

* :mod:`.model` — per-strategy ridge regressions of the gain over random, with out-of-sample errors;
* :mod:`.training` — the training cells, read from saved results files;
* :mod:`.validate` — leave-one-dataset-out regret against "best on average" and "always random";
* :mod:`.advise` — :func:`advise`, for one (dataset, embedding) pool; :mod:`.cli` — ``albench-advise``.
"""

from __future__ import annotations

from .advise import Advice, advise
from .model import AdvisorModel, fit_model, load_model

__all__ = ["Advice", "AdvisorModel", "advise", "fit_model", "load_model"]
