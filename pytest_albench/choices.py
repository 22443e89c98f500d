"""The named choices that several layers share: one home each, and importing them costs nothing.

Why a module of its own: the plugin validates ``--albench-test``, ``--albench-plot-format`` and the
verdicts a policy fails on; ``albench-report`` offers ``--format``, ``--plots`` and ``--posthoc``; the
statistics, the baselines, the figures and the page act on the same names. When each layer kept its
own copy, the copies could drift apart (a new post-hoc test the command line did not offer). This
module holds each list once, imports nothing (not even numpy), and may be imported from every layer
— the plugin's import must stay cheap because every pytest run where the package is installed pays it.
"""

from __future__ import annotations

__all__ = [
    "CORRECTIONS",
    "DEFAULT_CORRECTION",
    "DEFAULT_PAGE_FORMAT",
    "DEFAULT_PAIRED_TEST",
    "DEFAULT_PLOT_FORMAT",
    "DEFAULT_POSTHOC",
    "DEFAULT_PROTOCOL",
    "DEFAULT_VALIDATION",
    "NO_PLOTS",
    "PAGE_FORMATS",
    "PAIRED_TESTS",
    "PLOT_FORMATS",
    "POSTHOC_LABELS",
    "POSTHOC_METHODS",
    "PROTOCOL_SUMMARIES",
    "STATUSES",
    "VALIDATIONS",
]

#: Named protocols (``--albench-protocol``), defined in :mod:`pytest_albench.engine.protocols`.
PROTOCOL_SUMMARIES: dict[str, str] = {
    "default": "pytest-albench's own: rows rescaled to unit scale, C=1, a carved validation split",
    "scikit-activeml": "scikit-activeml 1.0.1 with LogisticRegression(C=1, max_iter=1000) on raw rows, "
    "no validation, k0=C",
    "study": "arXiv 2506.01992: logistic regression on raw rows, no validation split (head settings inferred)",
}
DEFAULT_PROTOCOL = "default"

#: Whether a case carves a validation split from train (``validation=``): name -> what it does.
VALIDATIONS: dict[str, str] = {
    "carve": "the dataset's validation split, else 10 % of train carved (stratified, seed 0); the pool is the rest",
    "none": "no validation split: the whole train split is the pool (a dataset's own validation split is unused)",
}
DEFAULT_VALIDATION = "carve"

#: Verdicts of a case against its stored baseline (see :mod:`pytest_albench.analysis.verdict`).
STATUSES: tuple[str, ...] = ("ok", "improved", "regressed", "drift", "numeric", "stale", "new")

#: Session-wide error control of the regression gate (``--albench-correction``), by name.
CORRECTIONS: dict[str, str] = {
    "bh": "Benjamini-Hochberg: the expected share of false alarms among flagged cases stays <= alpha",
    "holm": "Holm: the chance of any false alarm in the session stays <= alpha",
    "none": "each case on its own at alpha (false alarms grow with the number of cases)",
}
DEFAULT_CORRECTION = "bh"

#: One-sided paired tests of current against baseline AULCs, by name, with what each one is.
PAIRED_TESTS: dict[str, str] = {
    "ttest": "one-sided paired t-test",
    "wilcoxon": "one-sided Wilcoxon signed-rank test (exact, zero differences split)",
    "sign": "one-sided sign test (exact binomial, ties split evenly, an odd one left out)",
}
DEFAULT_PAIRED_TEST = "ttest"

#: Post-hoc tests after the Friedman test: name -> (short label for figure titles, full description).
_POSTHOC: dict[str, tuple[str, str]] = {
    "wilcoxon-holm": (
        "pairwise Wilcoxon signed-rank tests, Holm-corrected",
        "pairwise two-sided Wilcoxon signed-rank tests, zero differences split (zsplit), Holm step-down adjusted",
    ),
    "nemenyi": (
        "Nemenyi test",
        "Nemenyi test on mean ranks (studentized range, infinite df)",
    ),
}
#: Post-hoc test name -> its full description (tables, notes, the page).
POSTHOC_METHODS: dict[str, str] = {name: text for name, (_, text) in _POSTHOC.items()}
#: Post-hoc test name -> a short label that fits a figure title.
POSTHOC_LABELS: dict[str, str] = {name: label for name, (label, _) in _POSTHOC.items()}
DEFAULT_POSTHOC = "wilcoxon-holm"

#: ``--albench-plot-format`` / ``albench-report --plots`` values and the image files each writes.
PLOT_FORMATS: dict[str, tuple[str, ...]] = {"png": ("png",), "svg": ("svg",), "both": ("png", "svg")}
DEFAULT_PLOT_FORMAT = "png"
#: The extra ``albench-report --plots`` value that writes tables only.
NO_PLOTS = "none"

#: ``albench-report --format`` values and the page files each writes.
PAGE_FORMATS: dict[str, tuple[str, ...]] = {"md": ("md",), "html": ("html",), "both": ("md", "html")}
DEFAULT_PAGE_FORMAT = "both"


#: How a torch device may be spelled on the command line (``--albench-device``, ``albench-advise
#: --device``): checked at start-up, before torch is imported; whether that GPU exists is checked later.
DEVICE_PATTERN = r"^(auto|cpu|cuda|cuda:\d+)$"
