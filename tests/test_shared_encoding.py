"""Processes that wait for one encoding share it in chunks (``embeddings/_embed.py``): the same vectors
bit for bit as one process encoding the split whole, each chunk encoded once, and only where sharing
cannot deadlock or repeat a fit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_albench.data import TextDataset, build_dataset, load_dataset
from pytest_albench.embeddings import EncoderSpec, _embed as embed_module, embed_dataset, get_encoder_spec
from pytest_albench.embeddings._backends import LoadContext, get_backend
from pytest_albench.storage.cache import ArrayCache

pytest.importorskip("fcntl", reason="chunks are shared through flock locks (POSIX only)")


def _bbc_subset(per_split: int, chars: int = 300) -> TextDataset:
    """``per_split`` seeded random texts of each BBC News split, cut to ``chars`` characters."""
    bbc = load_dataset("bbc_news")
    rng = np.random.default_rng(0)
    parts = {}
    for name in ("train", "validation", "test"):
        split = bbc.split(name)
        rows = rng.permutation(len(split))[:per_split]
        parts[name] = ([split.texts[i][:chars] for i in rows], [bbc.class_names[split.labels[i]] for i in rows])
    return build_dataset("bbc_subset", "test", **parts)


def test_chunks_give_the_vectors_of_the_whole_split_bit_for_bit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MiniLM-L6 on 300 BBC texts per split (3 chunks of 4 batches of 32): chunked and whole agree exactly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    dataset = _bbc_subset(300)
    chunked = embed_dataset("minilm-l6", dataset, cache_dir=tmp_path / "chunked", progress=False, device="cpu")
    monkeypatch.setattr(embed_module, "_shareable", lambda *args: False)
    whole = embed_dataset("minilm-l6", dataset, cache_dir=tmp_path / "whole", progress=False, device="cpu")
    for split in ("train", "validation", "test"):
        assert np.array_equal(chunked.split(split), whole.split(split)), split
    assert chunked.encoder_identity == whole.encoder_identity
    # the chunks are gone once the split is written: the cache holds the three splits only
    assert len(list((tmp_path / "chunked").rglob("*.alb"))) == len(list((tmp_path / "whole").rglob("*.alb"))) == 3


SHARING_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from pytest_albench.data import build_dataset
    from pytest_albench.embeddings import Backend, EncoderSpec, embed_dataset, register_backend
    from pytest_albench.embeddings import _embed

    log, cache, start_at = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    if len(sys.argv) > 4:  # as an xdist worker with more workers than cores: SLOTS slots in FOLDER
        from pytest_albench.storage.cpu_slots import configure_slots
        configure_slots(Path(sys.argv[4]), int(sys.argv[5]))
    encoded = []

    def load(spec, context):
        def encode(texts):
            time.sleep(0.05)  # a slow model: the other process has time to take chunks
            encoded.extend(texts)
            return np.array([[len(t), t.count("a"), 1.0] for t in texts])
        return encode

    register_backend("slow-test", Backend(lambda spec: {"kind": spec.kind, "version": 1}, load, shareable=True))
    texts = [f"text {i} " + "a" * (i % 37) for i in range(400)]
    labels = ["x", "y"] * 200
    validation, test = [f"validation {i}" for i in range(40)], [f"test {i}" for i in range(80)]
    dataset = build_dataset("shared", "test", train=(texts, labels), validation=(validation, labels[:40]),
                            test=(test, labels[:80]))
    while time.time() < start_at:  # both processes start together
        time.sleep(0.005)
    out = embed_dataset(EncoderSpec("slow", "slow-test"), dataset, cache_dir=cache, progress=False, batch_size=8)
    log.write_text(json.dumps({
        "encoded": encoded,
        "hits": dict(out.cache_hits),
        "train": out.train.tolist(),
        "model_kept": bool(_embed._LOADED),
    }))
    """
)


def _run_sharing(tmp_path: Path, processes: int, *slots: str) -> list[dict[str, Any]]:
    """``processes`` processes that start together on one encoding (optionally with ``FOLDER SLOTS`` slots)."""
    import time

    script = tmp_path / "share.py"
    script.write_text(SHARING_SCRIPT)
    start_at = str(time.time() + 3.0)
    logs = [tmp_path / f"process-{i}.json" for i in range(processes)]
    running = [
        subprocess.Popen([sys.executable, str(script), str(log), str(tmp_path / "cache"), start_at, *slots])
        for log in logs
    ]
    for process in running:
        assert process.wait(120) == 0
    return [json.loads(log.read_text()) for log in logs]


def test_two_processes_share_one_encoding_and_encode_each_text_once(tmp_path: Path) -> None:
    results = _run_sharing(tmp_path, 2)
    encoded = [text for result in results for text in result["encoded"]]
    assert all(result["encoded"] for result in results), "one process encoded nothing: the encoding was not shared"
    assert len(encoded) == len(set(encoded)) == 400 + 40 + 80  # every text once, by one process or the other
    assert results[0]["train"] == results[1]["train"]
    expected = [[len(t), t.count("a"), 1.0] for t in [f"text {i} " + "a" * (i % 37) for i in range(400)]]
    assert results[0]["train"] == expected  # in the dataset's row order, not the length-sorted order
    for result in results:  # a process that wrote no split only helped: it does not keep the model
        assert result["model_kept"] == (not all(result["hits"].values()))
    assert len(list((tmp_path / "cache").rglob("*.alb"))) == 3  # the chunks were removed


def test_with_two_slots_one_process_helps_and_the_third_waits(tmp_path: Path) -> None:
    """Three processes, two compute slots: the owner and one helper encode the train split; the third
    process, which would only pay a model load for chunks the other two take anyway, encodes none of it."""
    results = _run_sharing(tmp_path, 3, str(tmp_path / "slots"), "2")
    encoded = [text for result in results for text in result["encoded"]]
    assert len(encoded) == len(set(encoded)) == 400 + 40 + 80  # still every text once
    encoded_train = [any(t.startswith("text ") for t in result["encoded"]) for result in results]
    assert sum(encoded_train) == 2, f"processes that encoded train texts: {encoded_train} (owner + one helper)"
    assert results[0]["train"] == results[1]["train"] == results[2]["train"]


def test_where_an_encoding_is_not_shared(tmp_path: Path) -> None:
    context = LoadContext("cpu", tmp_path, False, ())
    hard, soft = ArrayCache(tmp_path), ArrayCache(tmp_path, lock="soft")
    for name, cache, shared in [
        ("minilm-l6", hard, True),  # a model on the CPU
        ("minilm-l6", soft, False),  # a soft-locked cache cannot hand out chunks
        ("minilm-l3-onnx", hard, True),
        ("tfidf-lsa", hard, False),  # fitted on the train split: each helper would fit it again
        ("glove-50d", hard, False),  # a lookup table: seconds
        ("wordllama-256", hard, False),
    ]:
        assert embed_module._shareable(get_backend(get_encoder_spec(name)), context, cache) is shared, name
    # a registered function may run on a GPU (and needs the out-of-memory back-off): never shared
    assert not embed_module._shareable(get_backend(EncoderSpec("f", "callable", function=len)), context, hard)
