"""The leave-one-dataset-out tables as Markdown (for the README and ``albench-advise validate``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .model import TrainingCell
from .validate import PICKERS, Validation

__all__ = ["correlations_markdown", "validation_markdown"]


def validation_markdown(result: Validation, notes: Sequence[str] = ()) -> str:
    """Mean regret per embedding for the advisor and the two fixed choices, then every pick."""
    lines = [
        "Mean regret (best strategy's mean AULC − the pick's; lower is better), leave one dataset out:",
        "",
        "| embedding | cells | " + " | ".join(PICKERS) + " | advisor vs best-on-average (better/same/worse) |",
        "|---|---|" + "---|" * len(PICKERS) + "---|",
    ]
    for embedding in [*result.embeddings, None]:
        regrets = [result.mean_regret(picker, embedding) for picker in PICKERS]
        better, same, worse = result.wins(embedding)
        name = _cell(embedding) if embedding is not None else "**all**"
        shown = " | ".join(_num(value) for value, _ in regrets)
        lines.append(f"| {name} | {regrets[0][1]} | {shown} | {better}/{same}/{worse} |")
    lines += ["", "| dataset | embedding | best | advisor | best on average | regret (advisor / average / random) |"]
    lines.append("|---|---|---|---|---|---|")
    for pick in sorted(result.picks, key=lambda p: (p.embedding, p.dataset)):
        each = " / ".join(_num(pick.regrets[p]) for p in PICKERS)
        lines.append(
            f"| {pick.dataset} | {_cell(pick.embedding)} | {pick.best} | {pick.picks['advisor']} | "
            f"{pick.picks['best on average']} | {each} |"
        )
    footer = [f"Features: {', '.join(result.features)}; ridge α = {result.alpha:g}."]
    footer += [f"Note: {n}" for n in [*notes, *result.notes]]
    return "\n".join([*lines, "", *footer]) + "\n"


def correlations_markdown(cells: Sequence[TrainingCell], features: Sequence[str]) -> str:
    """Spearman ρ of each feature with each strategy's gain over the cells (across datasets and encoders)."""
    from ..stats import spearman

    strategies = sorted({s for c in cells for s in c.gains})
    lines = [
        f"Spearman ρ of each feature with each strategy's gain over random, across the {len(cells)} cells "
        "(datasets and encoders mixed; the number of cells in brackets):",
        "",
        "| feature | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for feature in features:
        row = []
        for strategy in strategies:
            pairs = [
                (c.features[feature], c.gains[strategy])
                for c in cells
                if math.isfinite(c.features.get(feature, math.nan)) and math.isfinite(c.gains.get(strategy, math.nan))
            ]
            rho = spearman([x for x, _ in pairs], [y for _, y in pairs]).rho  # NaN for a constant feature
            row.append(f"{rho:+.2f} ({len(pairs)})" if math.isfinite(rho) else "n/a")
        lines.append(f"| {feature} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A transformed embedding's name ("minilm-l6|pca:32") must not split a Markdown cell."""
    return text.replace("|", "\\|")


def _num(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"
