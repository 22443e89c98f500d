"""The agreement benchmark (``python -m benchmarks.perf.agreement``) on a tiny real run.

Why: the README's agreement table is only worth something if the runner really compares like with
like. One small run on the packaged ``bbc_news`` × ``tfidf-lsa`` (margin and random, 2 cycles of 5,
one seed) checks that the results file and the table are produced, that a rerun with the same
``--out`` reuses finished (cell, seed) entries, and that margin's first query is the peer's: the same
initial pool and the same convex head (our L-BFGS and scikit-learn's, one objective) must rank the
pool alike. Skipped when scikit-activeml (the ``peers`` extra) is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("skactiveml", reason="the agreement benchmark needs scikit-activeml (pip install '.[peers]')")

from benchmarks.perf import agreement

ARGS = [
    "--datasets",
    "bbc_news",
    "--embeddings",
    "tfidf-lsa",
    "--strategies",
    "margin,random,coreset",
    "--seeds",
    "0",
    "--cycles",
    "2",
    "--query-size",
    "5",
]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agreement") / "results.json"
    assert agreement.main([*ARGS, "--out", str(out)]) == 0
    return out


def test_run_writes_every_cell_seed_and_the_table(first_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(first_run.read_text())
    assert data["format"] == agreement.FORMAT
    assert sorted(data["entries"]) == [f"bbc_news|tfidf-lsa|{s}|0" for s in ("coreset", "margin", "random")]
    run = data["runs"][-1]
    assert run["finished"] and run["computed"] == 3 and run["skipped"] == 0
    assert any(line.startswith("BLAS:") for line in run["machine"])
    for entry in data["entries"].values():
        assert len(entry["ours"]["accuracy"]) == len(entry["peer"]["accuracy"]) == 3  # cycle 0 + 2 cycles
        assert entry["n_labeled"] == [entry["problem"]["k0"] + 5 * t for t in range(3)]
        assert entry["ours"]["replay_matches"], "the head replay must reproduce the run's test accuracy"
        # cycle 0: both heads fitted on the same initial pool, the same convex objective
        assert entry["same_labels_heads"][0]["max_dp"] < 1e-2
    assert agreement.main(["--table", str(first_run)]) == 0
    table = capsys.readouterr().out
    assert "| dataset | embedding | strategy |" in table
    assert "| bbc_news | tfidf-lsa | margin | 1 |" in table and "| bbc_news | tfidf-lsa | random | 1 |" in table
    assert "scikit-activeml 1.0.1" in table


def test_margin_first_query_is_the_peers(first_run: Path) -> None:
    entry = json.loads(first_run.read_text())["entries"]["bbc_news|tfidf-lsa|margin|0"]
    assert entry["identical"][0], entry.get("divergence")
    assert entry["overlap"][0] == 5
    assert entry["identical_prefix"] >= 1
    assert entry["same_rows_prefix"] >= entry["identical_prefix"]  # identical indices are identical rows


def test_rerun_with_the_same_out_skips_finished_entries(first_run: Path) -> None:
    before = json.loads(first_run.read_text())["entries"]
    assert agreement.main([*ARGS, "--out", str(first_run)]) == 0
    data = json.loads(first_run.read_text())
    assert data["runs"][-1]["computed"] == 0 and data["runs"][-1]["skipped"] == 3
    assert data["entries"] == before
    results = agreement.ResultsFile(first_run)
    entry = before["bbc_news|tfidf-lsa|margin|0"]
    assert results.finished(entry["key"], entry["settings"])
    assert not results.finished(entry["key"], {**entry["settings"], "cycles": 3})  # other settings: rerun


def test_diagnosis_replays_the_first_differing_cycle(first_run: Path) -> None:
    from benchmarks.perf.agreement import diagnose
    from pytest_albench.engine.engine import Engine

    entries = [e for e in json.loads(first_run.read_text())["entries"].values() if "divergence" in e]
    if not entries:
        pytest.skip("every deterministic cell picked identical sets: nothing to diagnose")
    rows = [diagnose.diagnose_entry(Engine(progress=False), e) for e in entries]
    for row, entry in zip(rows, entries, strict=True):
        assert row["reproduced"], row  # the replay reaches the recorded divergence
        assert row["cycle"] == entry["divergence"]["cycle"] and 0 <= row["overlap"] < row["batch"]
    assert "| first differing cycle |" in diagnose.render(rows)


def test_missing_dataset_folder_is_skipped_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "none.json"
    code = agreement.main(["--data-dir", str(tmp_path), "--datasets", "trec6", "--out", str(out)])
    assert code == 0 and not out.exists()
    assert "skipped: trec6" in capsys.readouterr().out


def test_seed_ranges_and_budgets() -> None:
    assert agreement.parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert agreement.parse_seeds("0-1,7") == [0, 1, 7]
    assert agreement.budget_for("banking77", None, None) == (20, 50)
    assert agreement.budget_for("trec6", None, 3) == (20, 3)
    with pytest.raises(SystemExit):
        agreement.budget_for("bbc_news", None, None)
