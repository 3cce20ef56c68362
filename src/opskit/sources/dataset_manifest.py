"""Dataset manifests: every file of a dataset folder with its size, SHA-256 and row count.

The habit this replaces is ``wc -l`` and ``sha256sum`` by hand after a copy. A manifest is one JSON file
in the dataset folder, never listed in itself: ``MANIFEST.json``, or ``_MANIFEST.json`` beside Parquet
files, which pandas and pyarrow then skip as they skip every name that starts with ``_`` or ``.``::

    {"format": "opskit-dataset-manifest", "version": 1, "created_at": "2026-12-02T17:00:00Z",
     "files": [{"path": "train/part-0.csv", "size": 1048576, "sha256": "...", "rows": 9999}, ...]}

Rows are data records, read in the same pass as the hash: lines of CSV/TSV (minus the header) and of
JSON lines, empty lines not counted, a last line without a newline counted; a CSV that holds a quote
character is counted by a CSV parser, so newlines inside quoted fields do not count as records. Parquet
rows come from its footer. Other files, and Parquet files whose footer cannot be read, have ``rows`` None.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from opskit.errors import InputError

MANIFEST_NAME = "MANIFEST.json"
PARQUET_MANIFEST_NAME = "_MANIFEST.json"  # pyarrow.dataset (and so pandas.read_parquet) skips names starting with _
MANIFEST_NAMES = (PARQUET_MANIFEST_NAME, MANIFEST_NAME)
MANIFEST_FORMAT = "opskit-dataset-manifest"
MANIFEST_VERSION = 1
DELIMITED_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
BLOCK_BYTES = 1 << 20
_TEMP_PREFIX = ".opskit-tmp-"
_BLANK_LINE = re.compile(rb"(?m)^\r?\n")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ManifestEntry:
    """One file of a dataset: ``path`` is posix and relative to the dataset root."""

    path: str
    size: int
    sha256: str
    rows: int | None


@dataclass(frozen=True)
class Manifest:
    """The files of the dataset under ``root``, sorted by path; ``created_at`` is ISO 8601 UTC."""

    root: Path
    entries: tuple[ManifestEntry, ...]
    created_at: str

    def entry(self, path: str) -> ManifestEntry | None:
        """The entry for ``path`` (posix, relative to the root), or None."""
        return next((e for e in self.entries if e.path == path), None)

    @property
    def total_size(self) -> int:
        """Bytes of all listed files."""
        return sum(e.size for e in self.entries)


def row_kind(path: str | Path) -> str | None:
    """How rows of this file are counted: ``"csv"``, ``"tsv"``, ``"jsonl"``, ``"parquet"`` or None."""
    suffix = Path(path).suffix.lower()
    if suffix in DELIMITED_SUFFIXES:
        return suffix[1:]
    if suffix in JSON_LINES_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    return None


def list_dataset_files(root: Path, *, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Regular files under ``root`` (symlinks to files followed, to folders not), sorted by relative path.

    The manifests at the root (``MANIFEST.json``, ``_MANIFEST.json``), anything in ``exclude`` and opskit's
    own temporary files and folders (``.opskit-tmp-*``) are left out.
    """
    skip = {*((root / name).resolve() for name in MANIFEST_NAMES), *(p.resolve() for p in exclude)}
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(_TEMP_PREFIX))  # a conversion under way
        for name in files:
            path = Path(folder) / name
            if name.startswith(_TEMP_PREFIX) or not path.is_file() or path.resolve() in skip:
                continue
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def default_manifest_path(root: Path) -> Path:
    """Where ``opskit dataset manifest DIR`` writes: the manifest already there, else ``MANIFEST.json``, or
    ``_MANIFEST.json`` when the folder holds Parquet files (so ``pandas.read_parquet(DIR)`` still reads it).
    """
    root = Path(root)
    for name in MANIFEST_NAMES:
        if (root / name).is_file():
            return root / name
    holds_parquet = root.is_dir() and any(row_kind(p) == "parquet" for p in list_dataset_files(root))
    return root / (PARQUET_MANIFEST_NAME if holds_parquet else MANIFEST_NAME)


def find_manifest(root: Path) -> Path | None:
    """The manifest in the folder ``root`` (``_MANIFEST.json`` or ``MANIFEST.json``), or None when it has none.

    When both are there they must list the same files with the same sizes, hashes and rows; otherwise
    nobody can tell which one is right, and :class:`InputError` names both and the first file they differ on.
    """
    root = Path(root)
    found = [root / name for name in MANIFEST_NAMES if (root / name).is_file()]
    if len(found) < 2:
        return found[0] if found else None
    first, second = (read_manifest(path) for path in found)
    if first.entries != second.entries:
        a, b = ({e.path: e for e in m.entries} for m in (first, second))
        differ = next(p for p in sorted(a.keys() | b.keys()) if a.get(p) != b.get(p))
        raise InputError(
            f"{found[0].name} and {found[1].name} are both here and disagree"
            f" ({len(a)} and {len(b)} files; first difference: {differ})",
            path=root,
            hint="delete the stale one (or rewrite it: opskit dataset manifest DIR), or name the one to use"
            " with opskit dataset verify --manifest FILE or check_dataset's -p manifest FILE",
        )
    return found[0]


def hash_and_count(path: Path, *, count_rows: bool = True) -> tuple[int, str, int | None]:
    """Size in bytes, SHA-256 (hex) and row count of one file, reading it once in 1 MiB blocks."""
    kind = row_kind(path) if count_rows else None
    digest = hashlib.sha256()
    size = 0
    lines = blank = 0
    quoted = False
    tail = b""
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
            size += len(block)
            if kind in ("csv", "tsv", "jsonl"):
                quoted = quoted or (kind != "jsonl" and b'"' in block)
                text = tail + block
                cut = text.rfind(b"\n") + 1
                text, tail = text[:cut], text[cut:]
                lines += text.count(b"\n")
                if b"\n\n" in text or b"\n\r\n" in text or text.startswith((b"\n", b"\r\n")):
                    blank += len(_BLANK_LINE.findall(text))
    if tail.strip(b"\r"):
        lines += 1
    rows: int | None = None
    if kind == "parquet":
        rows = _parquet_rows(path)
    elif kind in ("csv", "tsv"):
        rows = _csv_records(path, DELIMITED_SUFFIXES[f".{kind}"]) if quoted else max(lines - blank - 1, 0)
    elif kind == "jsonl":
        rows = lines - blank
    return size, digest.hexdigest(), rows


def _csv_records(path: Path, delimiter: str) -> int:
    """Records of a CSV that holds quotes, minus the header: quoted newlines stay inside their record."""
    csv.field_size_limit(1 << 30)
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        count = sum(1 for record in csv.reader(text, delimiter=delimiter) if record)
    return max(count - 1, 0)


def _parquet_rows(path: Path) -> int | None:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # an unreadable footer: the row count is unknown, not zero
        return None


def build_manifest(root: Path, *, count_rows: bool = True, exclude: tuple[Path, ...] = ()) -> Manifest:
    """Hash every file under ``root`` (and count rows unless ``count_rows`` is False) into a manifest."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", path=root, hint="pass the folder that holds the dataset files")
    entries = []
    for path in list_dataset_files(root, exclude=exclude):
        size, sha256, rows = hash_and_count(path, count_rows=count_rows)
        entries.append(ManifestEntry(path.relative_to(root).as_posix(), size, sha256, rows))
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Manifest(root=root, entries=tuple(entries), created_at=created_at)


def manifest_to_dict(manifest: Manifest) -> dict:
    """The JSON document of a manifest."""
    files = [{"path": e.path, "size": e.size, "sha256": e.sha256, "rows": e.rows} for e in manifest.entries]
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "created_at": manifest.created_at, "files": files}


def write_manifest(manifest: Manifest, path: Path) -> Path:
    """Write ``manifest`` as JSON to ``path`` atomically (a reader never sees half a file); returns ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError("folder for the manifest does not exist", path=path.parent, hint="create it or pass --out")
    text = json.dumps(manifest_to_dict(manifest), indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_manifest(path: Path) -> Manifest:
    """Read a manifest written by :func:`write_manifest`; its root is the folder that holds it.

    Raises :class:`InputError` naming the file (and the entry) when it is missing, not JSON, of another
    format or version, or an entry lacks a field or has one of the wrong type.
    """
    path = Path(path)
    hint = "regenerate it with: opskit dataset manifest DIR"
    if not path.is_file():
        raise InputError("manifest not found", path=path, hint=hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError("manifest is not UTF-8 text", path=path, hint=hint) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"manifest is not valid JSON: {exc.msg}", path=path, line=exc.lineno, hint=hint) from exc
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise InputError(f"not an opskit dataset manifest (format must be {MANIFEST_FORMAT!r})", path=path, hint=hint)
    if data.get("version") != MANIFEST_VERSION:
        raise InputError(
            f"manifest version {data.get('version')!r} is not supported (this opskit reads {MANIFEST_VERSION})",
            path=path,
            column="version",
            hint="upgrade opskit or regenerate the manifest",
        )
    files = data.get("files")
    if not isinstance(files, list):
        raise InputError("manifest has no 'files' list", path=path, column="files", hint=hint)
    created_at = data.get("created_at")
    if not isinstance(created_at, str):
        raise InputError("manifest has no 'created_at' text", path=path, column="created_at", hint=hint)
    entries = [_entry(item, index, path) for index, item in enumerate(files, 1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.path in seen:
            raise InputError(f"file {entry.path!r} is listed twice", path=path, column="files", hint=hint)
        seen.add(entry.path)
    entries.sort(key=lambda e: e.path)
    return Manifest(root=path.parent, entries=tuple(entries), created_at=created_at)


def _entry(item: object, index: int, path: Path) -> ManifestEntry:
    where = f"files[{index}]"
    if not isinstance(item, dict):
        raise InputError(f"entry {index} is not an object", path=path, column=where)
    name, size, sha256, rows = (item.get(k) for k in ("path", "size", "sha256", "rows"))
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
        raise InputError(f"entry {index}: 'path' must be a relative posix path", path=path, column=f"{where}.path")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(f"{name!r}: 'size' must be a whole number of bytes", path=path, column=f"{where}.size")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InputError(f"{name!r}: 'sha256' must be 64 lower-case hex digits", path=path, column=f"{where}.sha256")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
        raise InputError(f"{name!r}: 'rows' must be a whole number or null", path=path, column=f"{where}.rows")
    return ManifestEntry(name, size, sha256, rows)


@dataclass(frozen=True)
class FileMismatch:
    """A listed file whose state differs from the manifest: ``what`` is missing, size, sha256 or rows."""

    path: str
    what: str
    expected: int | str | None
    found: int | str | None


@dataclass(frozen=True)
class ManifestComparison:
    """Files of a dataset against its manifest: mismatches (in manifest order) and files not listed."""

    root: Path
    checked: int
    mismatches: tuple[FileMismatch, ...]
    unlisted: tuple[str, ...]

    @property
    def matches(self) -> bool:
        """True when every listed file is present and unchanged (unlisted files do not count)."""
        return not self.mismatches


def compare_to_manifest(
    manifest: Manifest, root: Path | None = None, *, exclude: tuple[Path, ...] = ()
) -> ManifestComparison:
    """Hash the files ``manifest`` lists under ``root`` (default: its own root) and say what differs.

    Sizes are compared first; a file of the right size is hashed, and its rows counted when the manifest
    has a row count for it. Files under the root that the manifest does not list are named in ``unlisted``.
    """
    root = Path(root) if root is not None else manifest.root
    if not root.is_dir():
        raise InputError("dataset folder not found", path=root, hint="pass the folder the manifest describes")
    mismatches = []
    for entry in manifest.entries:
        path = root / entry.path
        if not path.is_file():
            mismatches.append(FileMismatch(entry.path, "missing", entry.size, None))
            continue
        size = path.stat().st_size
        if size != entry.size:
            mismatches.append(FileMismatch(entry.path, "size", entry.size, size))
            continue
        _, sha256, rows = hash_and_count(path, count_rows=entry.rows is not None)
        if sha256 != entry.sha256:
            mismatches.append(FileMismatch(entry.path, "sha256", entry.sha256, sha256))
        elif entry.rows is not None and rows != entry.rows:
            mismatches.append(FileMismatch(entry.path, "rows", entry.rows, rows))
    listed = {e.path for e in manifest.entries}
    present = (p.relative_to(root).as_posix() for p in list_dataset_files(root, exclude=exclude))
    unlisted = tuple(p for p in present if p not in listed)
    return ManifestComparison(root, len(manifest.entries), tuple(mismatches), unlisted)
