"""Datasets from plain files: ``<root>/<name>/{train,validation,test}.{csv,csv.gz,jsonl,parquet}``.

Plain files let tests, benchmarks and CI run without any hub. Readers use the standard library
where it suffices (csv, gzip, json) so that only parquet needs an optional package, and every problem
names the file, what was found and what is expected.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import json
import os
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ..errors import DatasetError, DatasetUnavailableError, UnknownNameError
from ._core import TextDataset, build_dataset

#: Extensions tried for every split, in this order; a split may exist in one format only.
EXTENSIONS = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"
RawSplit = tuple[list[str], list[Any]]


def _raise_csv_field_limit() -> None:
    """Long documents (e.g. 20 Newsgroups posts) exceed csv's default 128 KiB field limit."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # C long is 32-bit on Windows
            limit //= 2


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    """Open a file as UTF-8 text (BOM tolerated), decompressing ``.gz`` transparently."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
            yield handle
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            yield handle


def _missing_columns(path: Path, found: list[str]) -> DatasetError:
    return DatasetError(
        f"{path}: expected columns {TEXT_COLUMN!r} and {LABEL_COLUMN!r}, found {found}; rename the "
        f"columns (the text and the class name or integer label of each row)"
    )


def read_csv(path: Path) -> RawSplit:
    """Rows of a ``text,label`` CSV (RFC 4180 quoting, optionally gzipped)."""
    _raise_csv_field_limit()
    texts: list[str] = []
    labels: list[Any] = []
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        found = list(reader.fieldnames or [])
        if TEXT_COLUMN not in found or LABEL_COLUMN not in found:
            raise _missing_columns(path, found)
        for row in reader:
            text, label = row.get(TEXT_COLUMN), row.get(LABEL_COLUMN)
            if text is None or label is None:
                raise DatasetError(f"{path}, line {reader.line_num}: row has fewer fields than the header")
            texts.append(text)
            labels.append(label)
    return texts, labels


def read_jsonl(path: Path) -> RawSplit:
    """Records of a JSON-lines file, one object with ``text`` and ``label`` per line."""
    texts: list[str] = []
    labels: list[Any] = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = _parse_json_line(path, number, line)
            if TEXT_COLUMN not in record or LABEL_COLUMN not in record:
                raise _missing_columns(path, sorted(record))
            texts.append(_as_text(path, number, record[TEXT_COLUMN]))
            labels.append(record[LABEL_COLUMN])
    return texts, labels


def _parse_json_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}, line {number}: invalid JSON ({exc.msg}); write one object per line") from None
    if not isinstance(record, dict):
        raise DatasetError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}")
    return record


def _as_text(path: Path, row: int, value: Any) -> str:
    if not isinstance(value, str):
        raise DatasetError(f"{path}, row {row}: text must be a string, got {value!r}")
    return value


def read_parquet(path: Path) -> RawSplit:
    """Columns ``text`` and ``label`` of a parquet file (needs the optional ``pyarrow``)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DatasetUnavailableError(
            f"{path}: reading parquet files needs pyarrow; pip install pytest-albench[parquet] "
            "(or convert the file to CSV)"
        ) from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own hierarchy (ArrowInvalid, OSError, ...)
        raise DatasetError(f"{path}: not a readable parquet file ({exc})") from exc
    found = list(table.column_names)
    if TEXT_COLUMN not in found or LABEL_COLUMN not in found:
        raise _missing_columns(path, found)
    texts = table.column(TEXT_COLUMN).to_pylist()
    for row, text in enumerate(texts):
        _as_text(path, row, text)
    return texts, table.column(LABEL_COLUMN).to_pylist()


def read_split_file(path: Path) -> RawSplit:
    """Dispatch on the extension; every reader returns ``(texts, raw labels)``.

    Undecodable bytes and broken compression are reported with the file's name and the fix, never as a
    bare ``UnicodeDecodeError`` or ``BadGzipFile``.
    """
    try:
        return _read_by_extension(path)
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); re-encode the "
            f"file as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > {path.name}.utf8"
        ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetError(
            f"{path}: not a readable gzip file ({exc}); compress it with gzip, or drop the .gz ending if it "
            "is plain text"
        ) from None


def _read_by_extension(path: Path) -> RawSplit:
    name = path.name
    if name.endswith((".csv", ".csv.gz")):
        return read_csv(path)
    if name.endswith((".jsonl", ".jsonl.gz")):
        return read_jsonl(path)
    if name.endswith(".parquet"):
        return read_parquet(path)
    raise DatasetError(f"{path}: unsupported file type; use one of {', '.join(EXTENSIONS)}")


def find_split_file(folder: Path, split: str) -> Path | None:
    """The one file holding ``split``; two formats of the same split are ambiguous and rejected."""
    found = [folder / f"{split}{ext}" for ext in EXTENSIONS if (folder / f"{split}{ext}").is_file()]
    if len(found) > 1:
        raise DatasetError(f"{folder}: split {split!r} exists as {', '.join(p.name for p in found)}; keep only one")
    return found[0] if found else None


def is_dataset_folder(folder: Path) -> bool:
    return folder.is_dir() and any((folder / f"train{ext}").is_file() for ext in EXTENSIONS)


def local_dataset_names(root: Path | None) -> list[str]:
    """Names of the dataset folders under ``root`` (folders holding a train file)."""
    if root is None or not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_dataset_folder(p))


def load_local_dataset(name: str, root: Path | None, validation_fraction: float | None = 0.1) -> TextDataset:
    """Read ``<root>/<name>``; train and test are required, validation is carved when absent."""
    folder = _dataset_folder(name, root)
    raw: dict[str, RawSplit] = {}
    for split in ("train", "validation", "test"):
        path = find_split_file(folder, split)
        if path is not None:
            raw[split] = _read_nonempty(path, split)
        elif split != "validation":
            raise DatasetError(
                f"{folder}: no {split} file; add {split}.csv (or one of {', '.join(EXTENSIONS)}) "
                "with columns text,label"
            )
    return build_dataset(
        name,
        f"local:{folder}",
        train=raw["train"],
        test=raw["test"],
        validation=raw.get("validation"),
        validation_fraction=validation_fraction,
    )


def _dataset_folder(name: str, root: Path | None) -> Path:
    if root is None:
        raise DatasetError(
            f"local dataset {name!r} needs a data folder: pass --albench-data-dir (data_dir=...) or set "
            "ALBENCH_DATA_DIR to a folder holding <name>/train.csv and <name>/test.csv"
        )
    _check_folder_name(name, root)
    folder = root / name
    if not folder.is_dir():
        found = local_dataset_names(root)
        close = difflib.get_close_matches(name, found, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"no local dataset folder {folder}.{hint} Datasets found under {root}: {', '.join(found) or 'none'}"
        )
    return folder


def _check_folder_name(name: str, root: Path) -> None:
    """A local dataset is a folder directly under the data dir: no paths out of it (``..``, absolute)."""
    candidate = Path(name)
    if not name or candidate.is_absolute() or len(candidate.parts) != 1 or name in (".", "..") or "\\" in name:
        raise DatasetError(
            f"local dataset name {name!r} is not a folder name: a local dataset is <data dir>/<name> with no "
            f"path separators or '..' (data dir: {root}); to use another folder, pass it as --albench-data-dir"
        )


def _read_nonempty(path: Path, split: str) -> RawSplit:
    texts, labels = read_split_file(path)
    if not texts:
        raise DatasetError(f"{path}: the {split} split has no rows; add rows or remove the file")
    return texts, labels


def resolve_data_dir(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """The data root: the argument, else ``$ALBENCH_DATA_DIR``, else none (local datasets off)."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get("ALBENCH_DATA_DIR")
    return Path(env).expanduser() if env else None


def write_csv(path: Path, texts: list[str], labels: list[Any]) -> None:
    """Write a ``text,label`` CSV (gzipped for ``.gz``); for fixtures and exporting subsets."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow([TEXT_COLUMN, LABEL_COLUMN])
    writer.writerows(zip(texts, labels, strict=True))
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
