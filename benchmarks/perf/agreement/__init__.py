"""Agreement with scikit-activeml: whole AL runs of ours and of the peer on the same problem, compared.

Why this benchmark exists: the peer benchmark (``benchmarks.perf.peers``) checks single queries and
their cost; a user comparing our AULCs with a study that used scikit-activeml needs to know that whole
runs agree too. Here every (dataset, embedding, strategy, seed) is run twice on the *same* embedded
pool and test split, from the *same* initial pool (ours, k0 = number of classes), with the same cycles
and query sizes, under the ``scikit-activeml`` protocol on our side (our torch L-BFGS logistic head
with scikit-learn's objective and C = 1 on the raw rows, whole train split as the pool, TypiClust and
ProbCover with scikit-activeml's settings) and with scikit-activeml 1.0.1's strategy plus scikit-
learn's ``LogisticRegression(C=1, max_iter=1000)`` refitted every cycle on the other.

Per cell the table gives both AULCs (mean ± sd over seeds), their difference and whether it lies
within max(2 × the larger sd, 0.01); for the deterministic strategies (least confidence, margin,
entropy, CoreSet) also how many leading cycles picked identical sets, and for every strategy how
often the two heads predicted every test row alike and how far their probabilities differ while
they are fitted on the same labeled set.

Modules: ``cells`` (what runs: budgets, strategies, settings a result must match), ``sides`` (our
run and its head replay; the peer's run), ``compare`` (one (cell, seed) record), ``store`` (the
atomically rewritten results file), ``table`` (the Markdown table), ``cli``, and ``diagnose``
(``python -m benchmarks.perf.agreement.diagnose``: why a deterministic strategy's picks part from the
peer's, and ProbCover's δ on both sides). The README's
"Agreement with scikit-activeml" section has the measured command and table.
"""

from __future__ import annotations

from .cells import BUDGETS, DETERMINISTIC, PROTOCOL, Cell, budget_for, parse_seeds
from .cli import main, parse_args
from .compare import identical_prefix, run_seed
from .store import FORMAT, ResultsFile, load_results
from .table import Row, cell_rows, merge_entries, render_table

__all__ = [
    "BUDGETS",
    "DETERMINISTIC",
    "FORMAT",
    "PROTOCOL",
    "Cell",
    "ResultsFile",
    "Row",
    "budget_for",
    "cell_rows",
    "identical_prefix",
    "load_results",
    "main",
    "merge_entries",
    "parse_args",
    "parse_seeds",
    "render_table",
    "run_seed",
]
