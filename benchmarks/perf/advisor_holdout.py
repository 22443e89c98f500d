"""The advisor on datasets it never saw: ask it first, then run every strategy and compare.

``albench-advise validate`` holds out one of the grid's own datasets at a time. This goes one step
further: it takes datasets that are in no training results file at all (by default the four local
datasets outside the local suite: snips, sst5, trec50, massive_intent_en), records the shipped model's
ranking for each (dataset, encoder) pool *before* any AL run, then runs every candidate strategy with
the same protocol and caps as the training grid (study protocol, 10 cycles, pools of 2,000, seeds
0-2) and reports the regret of the advisor's pick, of "best on average" (the strategy with the largest
mean gain in the model's training cells) and of random.

    python -m benchmarks.perf.advisor_holdout --data-dir <data-dir> [--datasets snips,sst5] \
        [--embeddings minilm-l6,tfidf-lsa] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Local datasets outside the local suite (so outside the shipped model's training cells), with the
#: local suite's caps and k0 / query size scaled to the number of classes.
HOLDOUT = {
    "snips": {"initial_pool_size": 10, "query_size": 10},
    "sst5": {"initial_pool_size": 10, "query_size": 10},
    "trec50": {"initial_pool_size": 50, "query_size": 25},
    "massive_intent_en": {"initial_pool_size": 60, "query_size": 30},
}
CAPS = {"max_pool": 2000, "max_test": 1000, "cycles": 10}
SEEDS = (0, 1, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.perf.advisor_holdout", description=__doc__)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--datasets", default=",".join(HOLDOUT))
    parser.add_argument("--embeddings", default="minilm-l6")
    parser.add_argument("--out", default="advisor-holdout.json", help="results JSON, rewritten after each pool")
    args = parser.parse_args(argv)

    from pytest_albench.advisor.advise import advise, shipped_model
    from pytest_albench.engine.config import ALConfig
    from pytest_albench.engine.engine import Engine, run_seeds

    model, _ = shipped_model()
    fixed = _best_on_average(model)
    engine = Engine(data_dir=args.data_dir, progress=False)
    out_path = Path(args.out)
    rows: list[dict[str, Any]] = json.loads(out_path.read_text())["rows"] if out_path.exists() else []
    done = {(r["dataset"], r["embedding"]) for r in rows}
    for dataset in args.datasets.split(","):
        for embedding in args.embeddings.split(","):
            if (dataset, embedding) in done:
                continue
            start = time.perf_counter()
            advice = advise(dataset, embedding, data_dir=args.data_dir, max_pool=CAPS["max_pool"])
            aulcs = {}
            for strategy in advice.ranking:
                config = ALConfig.for_case(dataset, embedding, strategy, protocol="study", **CAPS, **HOLDOUT[dataset])
                aulcs[strategy] = float(np.mean([r.aulc for r in run_seeds(config, SEEDS, engine)]))
            best = max(aulcs, key=lambda s: aulcs[s])
            pick = advice.ranking[0]
            rows.append(
                {
                    "dataset": dataset,
                    "embedding": embedding,
                    "advised_ranking": advice.ranking,
                    "predicted_gain": advice.predicted_gain,
                    "aulc": aulcs,
                    "best": best,
                    "regret": {
                        "advisor": aulcs[best] - aulcs[pick],
                        "best on average": aulcs[best] - aulcs.get(fixed, aulcs["random"]),
                        "always random": aulcs[best] - aulcs["random"],
                    },
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            out_path.write_text(json.dumps({"best_on_average": fixed, "seeds": list(SEEDS), "rows": rows}, indent=1))
            print(_line(rows[-1]), flush=True)
    print(table(rows, fixed))
    return 0


def _best_on_average(model: Any) -> str:
    """The fixed choice of the model's own training cells: the largest mean intercept is the largest
    mean gain (features are centred), so no results file is needed."""
    best = max(model.strategies, key=lambda s: model.intercepts[s])
    return str(best) if model.intercepts[best] > 0 else "random"


def _line(row: dict[str, Any]) -> str:
    r = row["regret"]
    return (
        f"{row['dataset']} × {row['embedding']}: advised {row['advised_ranking'][0]}, best {row['best']}; regret "
        f"advisor {r['advisor']:.4f}, best-on-average {r['best on average']:.4f}, random {r['always random']:.4f} "
        f"({row['seconds']} s)"
    )


def table(rows: list[dict[str, Any]], fixed: str) -> str:
    lines = [
        f"| dataset | embedding | advisor's top 3 | best (AULC) | regret: advisor / best on average ({fixed}) "
        "/ random |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["regret"]
        top = ", ".join(row["advised_ranking"][:3])
        best = f"{row['best']} ({row['aulc'][row['best']]:.4f})"
        regrets = f"{r['advisor']:.4f} / {r['best on average']:.4f} / {r['always random']:.4f}"
        lines.append(f"| {row['dataset']} | {row['embedding']} | {top} | {best} | {regrets} |")
    if rows:
        means = [
            float(np.mean([row["regret"][k] for row in rows])) for k in ("advisor", "best on average", "always random")
        ]
        lines.append(
            "| **mean** | | | | " + " / ".join(f"{m:.4f}" if math.isfinite(m) else "n/a" for m in means) + " |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
