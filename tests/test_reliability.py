"""Faults and bad inputs, injected for real: each gets a clear error naming the problem and the fix,
and no stored file is lost or changed.

One test per item of the reliability review (bad data files, paths out of the data folder, classes that
only occur in test, empty texts, ...). Files are written to ``tmp_path`` and their bytes are compared
before and after, so a reader that "fixes" or truncates its input fails here too.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pytest_albench.data import load_dataset
from pytest_albench.data._files import write_csv
from pytest_albench.errors import DatasetError

TRAIN = (["good film", "great plot", "bad acting", "awful pacing", "fine score", "dull story"],
         ["pos", "pos", "neg", "neg", "pos", "neg"])
TEST = (["lovely", "boring"], ["pos", "neg"])


def _folder(root: Path, name: str, train: tuple[list[str], list[str]] = TRAIN,
            test: tuple[list[str], list[str]] = TEST) -> Path:
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
    (folder / "train.csv").write_bytes("text,label\ncaf\u00e9 cr\u00e8me,pos\nbad,neg\nfine,pos\nawful,neg\n"
                                       .encode("latin-1"))
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
