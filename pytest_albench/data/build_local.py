"""``albench-build-local``: build the local suite's ten datasets from their pinned sources.

Writes ``<root>/<name>/{train,validation,test}.csv`` (``.csv.gz`` for 20newsgroups and imdb; header
``text,label``, label = class name) for ag_news, trec6, banking77, sst2, emotion, clinc150,
20newsgroups, mr, subj and imdb, from the files the committed local data (``shared/data/<name>``) was
made from: files of GitHub repositories at pinned commits, and two archives (the 20 Newsgroups bydate
archive that scikit-learn downloads; a GitHub archive at a pinned commit for imdb). The recipes are in
:mod:`pytest_albench.data._local_sources`. It needs internet access and downloads about 130 MB (about
100 MB of it the imdb archive); the datasets take about 50 MB on disk.

Every download is checked against its recorded sha256 (for a GitHub archive, whose bytes GitHub does not
promise to keep, the sha256 of the members read), and every CSV written is compared with the sha256 of
the committed file: each dataset ends with ``identical to the committed data`` or ``differs: ...``
(which split, how). Baselines recorded on the committed data compare exactly only for identical datasets.

Each dataset is built in a hidden temporary folder under ``<root>`` and renamed into place when complete,
so a failed or interrupted build leaves no half dataset; an existing ``<root>/<name>`` is replaced only
with ``--force``. ``--source-url URL`` (or ``$ALBENCH_SOURCE_URL``) reads every download from a mirror
laid out as ``URL/<host>/<path>`` (what ``wget -x -i`` makes of the list ``--urls`` prints), e.g. a
folder filled on a machine with internet. ``--check`` compares existing folders (``../shared/data`` in
a checkout that has it) with the committed data without downloading. ``--from-hub`` builds ag_news,
trec6 and banking77 from pinned Hugging Face Hub snapshots instead (not identical to the committed data).

Exit status: 0 when every dataset was built (or checked) and is identical, 2 when one differs, 1 when
one could not be built.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import os
import random
import re
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AlbenchError
from ..storage.atomic import write_bytes_atomic
from ._hub import HUB_DATASETS, read_hub_splits, read_split
from ._local_sources import RECIPES, LocalRecipe, Row, Sources, Splits, members_digest

SOURCE_URL_ENV = "ALBENCH_SOURCE_URL"
EXIT_OK, EXIT_FAILED, EXIT_DIFFERS = 0, 1, 2
IDENTICAL = "identical to the committed data"
_TIMEOUT_S = 60
_ATTEMPTS = 3


class BuildError(AlbenchError):
    """A dataset that could not be built; the message names the dataset, the URL or file, and the fix."""


# --- downloads --------------------------------------------------------------------------------------


def resolve_source_url(value: str | None) -> str | None:
    """The mirror base: the argument, else ``$ALBENCH_SOURCE_URL``, else none (the real hosts).

    A plain path means that folder (``file://``)."""
    value = value or os.environ.get(SOURCE_URL_ENV) or None
    if value and "://" not in value:
        return Path(value).expanduser().resolve().as_uri()
    return value


def mirrored(url: str, base: str | None) -> str:
    """``url`` as read from the mirror ``base`` (``base/<host>/<path>``), or itself without one."""
    if not base:
        return url
    parts = urllib.parse.urlsplit(url)
    return f"{base.rstrip('/')}/{parts.netloc}{parts.path}"


def _no_download(name: str, url: str, why: object) -> BuildError:
    return BuildError(
        f"{name}: cannot download {url} ({why}). Building needs internet access (through $HTTPS_PROXY if you "
        f"use one), or a mirror passed as --source-url that holds every file `albench-build-local --urls` lists "
        f"at <mirror>/<host>/<path> (what `wget -x -i urls.txt` makes on a machine with internet access)"
    )


def _download(name: str, url: str, dest: Path) -> str:
    """Stream ``url`` into ``dest``; return the sha256 of the bytes. Retries passing network failures."""
    request = urllib.request.Request(url, headers={"User-Agent": "pytest-albench albench-build-local"})
    attempts = _ATTEMPTS if url.startswith(("http://", "https://")) else 1
    for attempt in range(1, attempts + 1):
        try:
            digest = hashlib.sha256()
            received = 0
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, open(dest, "wb") as out:
                expected = response.headers.get("Content-Length")
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
            if expected is not None and expected.isdigit() and int(expected) != received:
                raise OSError(f"the connection closed after {received} of {expected} bytes")
            return digest.hexdigest()
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == attempts:
                raise _no_download(name, url, f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == attempts:
                raise _no_download(name, url, getattr(exc, "reason", exc)) from None
        time.sleep(2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _archive_members(name: str, url: str, path: Path, pattern: str) -> dict[str, bytes]:
    """The regular-file members whose name matches ``pattern``, under its ``path`` group; read, never
    extracted (no member can write outside the build folder)."""
    selector = re.compile(pattern)
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                match = selector.search(member.name) if member.isfile() else None
                if match is None:
                    continue
                key = match.group("path")
                handle = archive.extractfile(member)
                if key in members or handle is None:
                    raise BuildError(f"{name}: {url} holds {key} twice; it is not the pinned archive")
                members[key] = handle.read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BuildError(f"{name}: {url} is not a readable .tar.gz archive ({exc}); download it again") from None
    if not members:
        raise BuildError(f"{name}: {url} holds none of the files the recipe reads; it is not the pinned archive")
    return members


def _not_pinned(name: str, url: str, what: str, got: str, expected: str) -> BuildError:
    return BuildError(
        f"{name}: {url} is not the pinned file: sha256 of {what} {got}, expected {expected}. The download was "
        f"cut short or changed on the way (a proxy, a captive portal, an edited mirror); run the command again, "
        f"or fetch the file by hand and compare its sha256"
    )


def fetch_sources(recipe: LocalRecipe, base: str | None, folder: Path) -> dict[str, bytes]:
    """Download and verify every file of ``recipe`` into ``folder``; return the parser's input."""
    folder.mkdir(parents=True, exist_ok=True)
    sources: dict[str, bytes] = {}
    for index, download in enumerate(recipe.downloads):
        url = mirrored(download.url, base)
        print(f"{recipe.name}: downloading {url} (about {_size(download.size)})", file=sys.stderr)
        path = folder / f"{index}.download"
        digest = _download(recipe.name, url, path)
        if download.sha256 is not None and digest != download.sha256:
            raise _not_pinned(recipe.name, url, "the file", digest, download.sha256)
        if not download.is_archive:
            sources[download.key] = path.read_bytes()
        else:
            members = _archive_members(recipe.name, url, path, download.members or "")
            if download.members_sha256 is not None:
                got = members_digest(members)
                if got != download.members_sha256:
                    raise _not_pinned(recipe.name, url, f"the {len(members)} files read", got, download.members_sha256)
            sources.update(members)
        path.unlink()
    return sources


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


# --- writing and comparing --------------------------------------------------------------------------


def csv_bytes(rows: Sequence[Row]) -> bytes:
    """The committed files' CSV: header ``text,label``, minimal quoting, ``\\n`` line ends, UTF-8."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _gzip(data: bytes, file_name: str) -> bytes:
    """gzip as the committed ``.csv.gz`` files were written (level 9, mtime 0, the file name kept)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename=file_name, mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as handle:
        handle.write(data)
    return buffer.getvalue()


Digests = dict[str, tuple[str, int]]


def differences(
    recipe: LocalRecipe, digests: Mapping[str, tuple[str, int]], damaged: Mapping[str, str] | None = None
) -> list[str]:
    """How the produced (or found) CSVs differ from the committed ones; empty when identical.
    ``damaged`` says, per split, why a found file could not be read as a CSV at all."""
    found = []
    for split, (expected_sha, expected_rows) in recipe.expected.items():
        file_name = recipe.file_name(split)
        if damaged and split in damaged:
            found.append(damaged[split])
            continue
        if split not in digests:
            found.append(f"{file_name} missing")
            continue
        sha, rows = digests[split]
        if sha == expected_sha:
            continue
        if rows != expected_rows:
            found.append(f"{file_name} has {rows} rows, the committed one {expected_rows}")
        else:
            found.append(f"{file_name} has the same {rows} rows but other text, labels or order")
    found += [f"{split} split not in the committed data" for split in digests if split not in recipe.expected]
    return found


def _verdict(
    recipe: LocalRecipe,
    digests: Mapping[str, tuple[str, int]],
    note: str = "",
    damaged: Mapping[str, str] | None = None,
) -> tuple[bool, str]:
    diff = differences(recipe, digests, damaged)
    if not diff:
        return True, IDENTICAL
    return False, "differs: " + "; ".join(diff) + (f" ({note})" if note else "")


def _stale_partials(root: Path, name: str) -> None:
    for leftover in sorted(root.glob(f".{name}.*.partial")):
        print(f"{name}: note: {leftover} is left over from an interrupted build; delete it", file=sys.stderr)


def build_dataset_folder(
    name: str,
    root: Path,
    produce: Callable[[Path], Splits],
    file_name: Callable[[str], str],
    force: bool = False,
) -> Digests:
    """Write ``root/name`` from ``produce(scratch folder)``, all or nothing; return digests and rows.

    The files are written (each atomically) into a hidden folder under ``root`` and that folder is
    renamed to ``root/name`` once complete; any failure, Ctrl-C included, removes it again."""
    target = root / name
    if os.path.exists(target) and not force:
        raise BuildError(f"{name}: {target} exists; pass --force to replace it, or build into another folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
        _stale_partials(root, name)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=root))
    except OSError as exc:  # a file in the way, a read-only folder: before anything was downloaded
        raise BuildError(f"{name}: cannot create the build folder {root}: {_why_not_a_folder(root, exc)}") from None
    try:
        splits = produce(staging / "downloads")
        try:
            digests = _install(splits, staging, target, file_name)
        except OSError as exc:  # a full disk, a folder made read-only meanwhile; an old folder is kept
            raise BuildError(
                f"{name}: cannot write {target}: {exc.strerror or exc}; check free space and permissions"
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return digests


def _install(splits: Splits, staging: Path, target: Path, file_name: Callable[[str], str]) -> Digests:
    """Write the splits' files under ``staging`` and rename them into place as ``target``."""
    out = staging / target.name
    digests: Digests = {}
    for split, rows in splits.items():
        data = csv_bytes(rows)
        digests[split] = (hashlib.sha256(data).hexdigest(), len(rows))
        path = out / file_name(split)
        write_bytes_atomic(path, _gzip(data, path.name) if path.name.endswith(".gz") else data)
    if target.exists():
        os.replace(target, staging / "replaced")
    try:
        os.replace(out, target)
    except OSError:
        if (staging / "replaced").exists():
            os.replace(staging / "replaced", target)
        raise
    return digests


def _why_not_a_folder(root: Path, exc: OSError) -> str:
    """Why ``root`` cannot be made into a build folder, with the fix."""
    blocking = next((p for p in (root, *root.parents) if os.path.exists(p)), None)  # os.path: never raises
    if blocking is not None and not os.path.isdir(blocking):
        where = "it is a file" if blocking == root else f"{blocking} is a file"
        return f"{where}; pass a folder"
    return f"{exc.strerror or exc}; pass a folder you can write to"


def build_one(recipe: LocalRecipe, root: Path, base: str | None = None, force: bool = False) -> Digests:
    """Download, verify, parse and write one local dataset; return what each split's CSV digests to."""

    def produce(scratch: Path) -> Splits:
        sources: Sources = fetch_sources(recipe, base, scratch)
        try:
            splits = recipe.parse(sources)
        except (AlbenchError, KeyError, ValueError, UnicodeDecodeError) as exc:
            raise BuildError(f"{recipe.name}: the downloaded files do not parse as the recipe expects: {exc}") from None
        if set(splits) != set(recipe.expected):
            raise BuildError(f"{recipe.name}: the recipe made splits {sorted(splits)}, not {sorted(recipe.expected)}")
        return splits

    return build_dataset_folder(recipe.name, root, produce, recipe.file_name, force)


def check_folder(recipe: LocalRecipe, folder: Path) -> tuple[Digests, dict[str, str]]:
    """Digests and rows of the CSVs already in ``folder`` (for ``--check``), and per split why a file
    is damaged (not gzip, not UTF-8, not CSV): that is a difference to report, not a crash. A file that
    cannot be read at all (no permission) is a :class:`BuildError`: nothing can be said of its data."""
    digests: Digests = {}
    damaged: dict[str, str] = {}
    for split in recipe.expected:
        path = folder / recipe.file_name(split)
        if not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BuildError(f"{recipe.name}: cannot read {path}: {exc.strerror or exc}; fix its permissions") from None
        try:
            if path.name.endswith(".gz"):
                data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            damaged[split] = f"{path.name} is a damaged gzip file ({exc})"
            continue
        try:
            rows = sum(1 for _ in csv.reader(io.StringIO(data.decode("utf-8"), newline=""))) - 1
        except UnicodeDecodeError as exc:
            damaged[split] = f"{path.name} is not UTF-8 ({exc.reason} at byte {exc.start})"
            continue
        except csv.Error as exc:
            damaged[split] = f"{path.name} is not a readable CSV ({exc})"
            continue
        digests[split] = (hashlib.sha256(data).hexdigest(), rows)
    return digests, damaged


# --- the Hugging Face Hub route (--from-hub) ---------------------------------------------------------


@dataclass(frozen=True)
class HubRecipe:
    """A local dataset built from a pinned hub snapshot: its hub spec, a train sample size, a note."""

    hub: str
    train_sample: int | None
    note: str


HUB_RECIPES: dict[str, HubRecipe] = {
    "ag_news": HubRecipe(
        "ag_news",
        10_000,
        "from the hub, train is a 10,000-row stratified sample (random.Random(0)) of the official train set, "
        "not the NoisyAG-News authors' sample the committed train holds",
    ),
    "trec6": HubRecipe("trec", None, "the hub copy's text as it is, whitespace not collapsed"),
    "banking77": HubRecipe("banking77", None, "the hub copy's text as it is, whitespace not collapsed"),
}


def _stratified_sample(labels: Sequence[Any], size: int, seed: int = 0) -> list[int]:
    """``size`` row indices, each class in proportion (largest remainders), sorted as in the source."""
    by_class: dict[Any, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    rng = random.Random(seed)
    total = len(labels)
    quotas = {c: size * len(rows) // total for c, rows in by_class.items()}
    rest = sorted(by_class, key=lambda c: -(size * len(by_class[c]) % total))
    for c in rest[: size - sum(quotas.values())]:
        quotas[c] += 1
    chosen = [i for c, rows in by_class.items() for i in rng.sample(rows, quotas[c])]
    return sorted(chosen)


def hub_splits(name: str) -> Splits:
    """train and test of the local dataset ``name`` from its pinned hub snapshot (the paper suite's loader)."""
    recipe = HUB_RECIPES[name]
    spec = HUB_DATASETS[recipe.hub]
    loaded = read_hub_splits(spec)
    splits: Splits = {}
    for role, hub_split in (("train", spec.train_split), ("test", spec.test_split)):
        texts, labels, names = read_split(spec, loaded[hub_split])
        named = [names[label] if names and isinstance(label, int) else str(label) for label in labels]
        keep: Sequence[int] = range(len(texts))
        if role == "train" and recipe.train_sample and recipe.train_sample < len(texts):
            keep = _stratified_sample(named, recipe.train_sample)
        splits[role] = [(texts[i], named[i]) for i in keep]
    return splits


# --- the command ------------------------------------------------------------------------------------


def _sizes(digests: Mapping[str, tuple[str, int]]) -> str:
    return " / ".join(f"{split} {rows}" for split, (_, rows) in digests.items())


def _run(name: str, args: argparse.Namespace, base: str | None) -> tuple[int, str]:
    """Build (or check) one dataset; return its exit status and the line to print."""
    recipe = RECIPES[name]
    if args.check:
        folder = args.root / name
        if not folder.is_dir():
            return EXIT_DIFFERS, f"{name}: differs: no folder {folder}"
        digests, damaged = check_folder(recipe, folder)
        same, verdict = _verdict(recipe, digests, damaged=damaged)
        return (EXIT_OK if same else EXIT_DIFFERS), f"{name}: {verdict}"
    if args.from_hub:
        hub = HUB_RECIPES[name]
        spec = HUB_DATASETS[hub.hub]
        digests = build_dataset_folder(name, args.root, lambda _: hub_splits(name), recipe.file_name, args.force)
        origin, note = spec.source, hub.note
    else:
        digests = build_one(recipe, args.root, base, args.force)
        origin, note = recipe.origin, recipe.note
    same, verdict = _verdict(recipe, digests, note)
    return (EXIT_OK if same else EXIT_DIFFERS), f"{name}: {_sizes(digests)} from {origin}: {verdict}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="albench-build-local",
        description=__doc__.split("\n\n")[0].strip("`").replace("``", ""),
        epilog="Datasets: " + ", ".join(f"{name} ({r.origin})" for name, r in RECIPES.items()),
    )
    parser.add_argument("root", type=Path, nargs="?", help="folder to write <root>/<name>/ into (or to check)")
    parser.add_argument("names", nargs="*", help=f"datasets (default: all ten: {', '.join(RECIPES)})")
    parser.add_argument("--force", action="store_true", help="replace a dataset folder that already exists")
    parser.add_argument(
        "--source-url",
        help=f"read every download from the mirror URL/<host>/<path> (a folder path or file:// or http(s):// URL; "
        f"default ${SOURCE_URL_ENV}, else the real hosts)",
    )
    parser.add_argument("--check", action="store_true", help="compare existing <root>/<name> with the committed data")
    parser.add_argument("--urls", action="store_true", help="print the URLs the build downloads, one a line, and exit")
    parser.add_argument(
        "--from-hub",
        action="store_true",
        help=f"build {', '.join(HUB_RECIPES)} from pinned Hugging Face Hub snapshots instead (not identical)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_intermixed_args(argv)
    names = list(args.names)
    if args.urls and args.root is not None:  # `--urls imdb sst2`: every positional is a name
        names, args.root = [str(args.root), *names], None
    unknown = [name for name in names if name not in RECIPES]
    if unknown:
        parser.error(f"unknown local dataset {', '.join(map(repr, unknown))}; known: {', '.join(RECIPES)}")
    if args.urls:
        for name in names or RECIPES:
            for download in RECIPES[name].downloads:
                print(download.url)
        return EXIT_OK
    if args.root is None:
        parser.error("the folder to build into is required (e.g. albench-build-local ~/albench-data)")
    names = names or (list(HUB_RECIPES) if args.from_hub else list(RECIPES))
    base = resolve_source_url(args.source_url)
    failed = differs = 0
    for name in names:
        if args.from_hub and name not in HUB_RECIPES:
            print(f"{name}: not built: no hub recipe (--from-hub covers {', '.join(HUB_RECIPES)}); build it without")
            continue
        try:
            code, line = _run(name, args, base)
        except (AlbenchError, OSError) as exc:  # one dataset's failure is one line; the others still run
            message = str(exc)
            print(message if message.startswith(f"{name}:") else f"{name}: failed: {message}", file=sys.stderr)
            failed += 1
            continue
        print(line)
        differs += code == EXIT_DIFFERS
    if len(names) > 1:
        done = len(names) - failed
        print(
            f"{done - differs} of {done} {'checked' if args.check else 'built'} datasets {IDENTICAL}"
            + (f"; {failed} failed (see above)" if failed else "")
        )
    return EXIT_FAILED if failed else EXIT_DIFFERS if differs else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
