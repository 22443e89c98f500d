"""The embedding stage: ``--albench-embed-only``, the per-GPU encoder slot and the out-of-memory back-off."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pytester_grid import run

from pytest_albench import register_embedding
from pytest_albench.data import load_dataset
from pytest_albench.embeddings import embed_dataset
from pytest_albench.embeddings._embed import device_slot


class OutOfMemoryError(RuntimeError):
    """Named like ``torch.cuda.OutOfMemoryError``, which is how the back-off recognises it."""


def _counts(texts: list[str]) -> np.ndarray:
    return np.array([[len(t), t.count("e"), t.count(" ")] for t in texts], dtype=np.float32)


def test_a_batch_that_runs_out_of_gpu_memory_is_halved_and_the_embeddings_are_unchanged(tmp_path: Path) -> None:
    calls: list[int] = []

    @register_embedding("test-stage-oom", replace=True)
    def needs_small_batches(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        if len(texts) > 8:
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return _counts(texts)

    dataset = load_dataset("bbc_news")
    embedded = embed_dataset("test-stage-oom", dataset, cache_dir=tmp_path, batch_size=32, progress=False)
    assert np.array_equal(embedded.train, _counts(list(dataset.train.texts)))
    assert calls[:3] == [32, 16, 8] and max(calls[3:]) == 8  # halved twice, then kept small (later splits too)


def test_other_encoder_errors_are_not_swallowed_by_the_back_off(tmp_path: Path) -> None:
    @register_embedding("test-stage-broken", replace=True)
    def broken(texts: list[str]) -> np.ndarray:
        raise ValueError("tokenizer exploded")

    with pytest.raises(ValueError, match="tokenizer exploded"):
        embed_dataset("test-stage-broken", load_dataset("bbc_news"), cache_dir=tmp_path, progress=False)


def test_one_encoder_at_a_time_per_gpu(tmp_path: Path) -> None:
    """While one process holds ``cuda:0``'s slot, another cannot take it; ``cuda:1`` and the CPU are free."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from pytest_albench.embeddings._embed import device_slot
                with device_slot("cuda:0", Path({str(tmp_path)!r})):
                    print("held", flush=True)
                    sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        import fcntl

        with open(tmp_path / "locks" / "encode-cuda-0.lock", "a+b") as handle, pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with device_slot("cuda:1", tmp_path), device_slot("cpu", tmp_path):
            pass  # other devices never wait for cuda:0
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    with device_slot("cuda:0", tmp_path):
        pass  # given back when the holder finished


def test_embed_only_fills_the_cache_and_the_next_run_only_reads_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        test_grid="""
import pytest

@pytest.mark.parametrize("strategy", ["random", "margin"])
def test_al(albench, strategy):
    albench("bbc_news", "tfidf-lsa", strategy, max_pool=150, max_test=100, cycles=2, query_size=5)
"""
    )
    cache = pytester.path / "cache"
    monkeypatch.setenv("ALBENCH_CACHE_DIR", str(cache))
    stage = run(pytester, "--albench-embed-only", "--albench-seeds", "0")
    stage.assert_outcomes(passed=2)
    stage.stdout.fnmatch_lines(["*pytest-albench embedding stage*", "albench: 1 (dataset × encoder) pair(s)*"])
    assert "pytest-albench results" not in stage.stdout.str()  # no AL ran, so no tables
    entries = sorted(p.name for p in (cache / "embeddings").rglob("*") if p.is_file())
    assert entries
    after = run(pytester, "--albench-seeds", "0")
    after.assert_outcomes(passed=2)
    assert sorted(p.name for p in (cache / "embeddings").rglob("*") if p.is_file()) == entries


def test_every_model_kind_that_runs_on_the_device_takes_the_gpu_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SentenceTransformer from split zips or an ONNX session on a GPU holds it like a hub model does."""
    import fcntl

    from pytest_albench.embeddings import _backends, _embed, get_encoder_spec

    on_device = {kind for kind, backend in _backends.BACKENDS.items() if backend.uses_device}
    assert on_device >= {"sentence-transformers", "st-split-zip", "onnx"}
    assert not {"glove", "tfidf-lsa", "wordllama", "callable"} & on_device
    monkeypatch.setattr(_backends, "resolve_device", lambda device: "cuda:0")
    held: list[bool] = []

    def encode(texts: list[str]) -> np.ndarray:
        with open(tmp_path / "locks" / "encode-cuda-0.lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)
            else:
                fcntl.flock(handle, fcntl.LOCK_UN)
                held.append(False)
        return _counts(texts)

    backend = _backends.Backend(lambda spec: {}, lambda spec, ctx: encode, uses_device=True)
    context = _backends.LoadContext("auto", tmp_path, False, ())
    lazy = _embed._LazyEncoder(get_encoder_spec("minilm-l6"), backend, context)
    try:
        lazy(["a text"])
        assert held == [True] and lazy.on_gpu
    finally:
        lazy.close()
    with device_slot("cuda:0", tmp_path):
        pass  # given back by close()
