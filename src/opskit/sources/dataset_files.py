"""The files of a dataset, read line-aware: rows per file, what is broken and where, and the records.

:func:`scan_dataset` takes a folder (or one file) and returns one :class:`FileScan` per file. CSV/TSV
are streamed by :mod:`opskit.sources.dataset_delimited`, JSON lines line by line, Parquet through
pyarrow (row count from the footer, batches for the records); other files are text (lines counted,
for the secret scan) or binary. Each :class:`FileProblem` names the file and the line; a broken file
never stops the others. Records come back as a DataFrame with ``_file`` and ``_line`` columns (the
line a record starts on, or the row number in a Parquet file), typed by :func:`typed_frame`.

Problem kinds: ``empty``, ``binary``, ``no_rows``, ``encoding``, ``bom``, ``wide_encoding``, ``header``, ``quoting``,
``mixed_delimiter``, ``field_count``, ``truncated``, ``no_line_end``, ``json``, ``parquet``, ``unreadable``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.dataset_delimited import MISSING_TOKENS, ends_without_line_end, read_delimited
from opskit.sources.dataset_manifest import MANIFEST_NAME, list_dataset_files
from opskit.sources.encodings import SNIFF_BYTES, detect_encoding

TABLE_KINDS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
TEXT_SUFFIXES = frozenset({".txt", ".log", ".md", ".json", ".yaml", ".yml", ".cfg", ".ini"})
FILE_COLUMN, LINE_COLUMN = "_file", "_line"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong in a file: ``line`` is where it starts (None for the whole file)."""

    path: str
    line: int | None
    kind: str
    message: str
    column: str | None = None

    @property
    def where(self) -> str:
        """``path:line`` (or the path alone), as evidence shows it."""
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass(frozen=True)
class FileScan:
    """One file of the dataset: its kind, size, encoding, header, data rows and problems.

    ``kind`` is csv, tsv, jsonl, parquet (tables), text, binary or empty. ``rows`` counts data records
    read in full (lines for text); ``kept_all`` is False when more records were read than kept in ``frame``.
    """

    path: str
    kind: str
    size: int
    encoding: str | None = None
    delimiter: str | None = None
    columns: tuple[str, ...] = ()
    rows: int | None = None
    problems: tuple[FileProblem, ...] = ()
    kept_all: bool = True
    frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def is_table(self) -> bool:
        return self.kind in ("csv", "tsv", "jsonl", "parquet")


def dataset_paths(root: Path) -> tuple[Path, list[Path]]:
    """The dataset's root folder and its files (its manifest left out); a single file is its own dataset."""
    root = Path(root).expanduser()
    if root.is_file():
        return root.parent, [root]
    if not root.is_dir():
        raise InputError("dataset not found", path=root, hint="pass a folder of data files, a file, or sample:dataset")
    files = list_dataset_files(root)
    if not files:
        raise InputError("the dataset folder holds no files", path=root, hint="pass the folder that holds the data")
    return root, files


def scan_dataset(root: Path, *, keep_rows: int = 1_000_000) -> list[FileScan]:
    """Scan every file of the dataset at ``root``; at most ``keep_rows`` records are kept over all files."""
    base, files = dataset_paths(root)
    scans, left = [], keep_rows
    for path in files:
        scan = scan_file(path, base, keep_rows=left)
        left -= 0 if scan.frame is None else len(scan.frame)
        scans.append(scan)
    return scans


def scan_file(path: Path, root: Path, *, keep_rows: int = 1_000_000) -> FileScan:
    """Scan one file (``root`` makes its name relative); never raises for what is inside it."""
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    try:
        size = path.stat().st_size
        if size == 0:
            return FileScan(rel, "empty", 0, problems=(FileProblem(rel, None, "empty", "the file is empty (0 bytes)"),))
        kind = TABLE_KINDS.get(path.suffix.lower(), "text")
        if kind == "parquet":
            return _scan_parquet(path, rel, size, keep_rows)
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        found = detect_encoding(head, complete=len(head) < SNIFF_BYTES)
        if found is None and kind != "text" and _mostly_text(head):
            found = ("utf-8", "undetected")  # mostly text (a stray NUL, Latin-1 bytes): read it, lines named
        if found is None:
            expected = kind != "text" or path.suffix.lower() in TEXT_SUFFIXES
            problems = (
                (FileProblem(rel, None, "binary", f"binary content in a {path.suffix} file"),) if expected else ()
            )
            return FileScan(rel, "binary", size, problems=problems)
        encoding, how = found
        if kind in ("csv", "tsv"):
            return _scan_delimited(path, rel, size, kind, encoding, how, keep_rows)
        if kind == "jsonl":
            return _scan_jsonl(path, rel, size, encoding, keep_rows)
        return _scan_text(path, rel, size, encoding)
    except OSError as exc:
        return FileScan(rel, "unreadable", 0, problems=(FileProblem(rel, None, "unreadable", str(exc)),))
    except Exception as exc:  # a reader bug must not stop the other files: the file is named, never judged
        problem = FileProblem(rel, None, "unreadable", f"could not be read: {type(exc).__name__}: {exc}")
        return FileScan(rel, "unreadable", path.stat().st_size, problems=(problem,))


def _mostly_text(head: bytes) -> bool:
    """True when at most 1 % of the bytes (or 2, in a small file) are control bytes other than tab and line ends."""
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return control <= max(2, len(head) // 100)


def _bom_problem(rel: str, encoding: str, how: str) -> list[FileProblem]:
    if encoding.startswith(("utf-16", "utf-32")):
        return [FileProblem(rel, None, "wide_encoding", f"{encoding} text: most CSV readers expect UTF-8")]
    if how != "bom":
        return []
    return [
        FileProblem(
            rel,
            1,
            "bom",
            f"starts with a byte-order mark ({encoding}): tools that do not expect one read it as "
            "part of the first column's name",
        )
    ]


def _scan_delimited(path: Path, rel: str, size: int, kind: str, encoding: str, how: str, keep: int) -> FileScan:
    read = read_delimited(path, encoding, default_delimiter="\t" if kind == "tsv" else ",", keep_rows=max(keep, 0))
    problems = _bom_problem(rel, encoding, how)
    problems += [FileProblem(rel, line, k, text, column) for line, k, text, column in read.problems]
    if ends_without_line_end(path) and not any(p.kind == "truncated" or "never closed" in p.message for p in problems):
        problems.append(
            FileProblem(rel, None, "no_line_end", "the last line has no line end: complete, or cut at a field end")
        )
    if read.rows == 0 and not any(p.kind != "bom" for p in problems):
        problems.append(FileProblem(rel, None, "no_rows", "a header and no data rows"))
    frame = pd.DataFrame(read.records, columns=list(read.columns)) if read.columns else pd.DataFrame()
    if read.columns:
        frame = typed_frame(frame)
        frame[FILE_COLUMN] = rel
        frame[LINE_COLUMN] = read.lines
    return FileScan(
        rel,
        kind,
        size,
        encoding,
        read.delimiter,
        read.columns,
        read.rows,
        tuple(problems),
        read.rows_kept_complete,
        frame,
    )


def _scan_jsonl(path: Path, rel: str, size: int, encoding: str, keep: int) -> FileScan:
    problems: list[FileProblem] = []
    records, lines, rows, number = [], [], 0, 0
    name = "utf-8" if encoding == "utf-8-sig" else encoding
    last = ""
    with open(path, encoding=name, errors="replace", newline="") as fh:
        for number, text in enumerate(fh, 1):
            last = text
            stripped = text.strip().lstrip("\ufeff")
            if not stripped:
                continue
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                cut = not text.endswith(("\n", "\r"))
                kind = "truncated" if cut else "json"
                what = "the last line is cut mid-record (no line end)" if cut else "not valid JSON"
                problems.append(FileProblem(rel, number, kind, f"{what}: {exc.msg} at column {exc.colno}"))
                continue
            if not isinstance(value, dict):
                problems.append(FileProblem(rel, number, "json", f"a JSON {type(value).__name__}, not an object"))
                continue
            rows += 1
            if len(records) < keep:
                records.append(value)
                lines.append(number)
    if number and not last.endswith(("\n", "\r")) and not (problems and problems[-1].line == number):
        problems.append(FileProblem(rel, None, "no_line_end", "the last line has no line end"))
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame = typed_frame(frame.astype(object)) if len(frame) else frame
    if len(frame):
        frame[FILE_COLUMN] = rel
        frame[LINE_COLUMN] = lines
    if rows == 0 and not problems:
        problems.append(FileProblem(rel, None, "no_rows", "no JSON records"))
    columns = tuple(c for c in frame.columns if c not in (FILE_COLUMN, LINE_COLUMN))
    return FileScan(rel, "jsonl", size, encoding, None, columns, rows, tuple(problems), rows == len(records), frame)


def _scan_parquet(path: Path, rel: str, size: int, keep: int) -> FileScan:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        rows = parquet.metadata.num_rows
        columns = tuple(parquet.schema_arrow.names)
        frame = parquet.read().slice(0, keep).to_pandas() if keep > 0 else pd.DataFrame(columns=list(columns))
    except Exception as exc:  # a cut or corrupt file: its footer or a page cannot be read
        problem = FileProblem(rel, None, "parquet", f"cannot be read as Parquet (cut or corrupt?): {exc}")
        return FileScan(rel, "parquet", size, problems=(problem,))
    frame[FILE_COLUMN] = rel
    frame[LINE_COLUMN] = range(1, len(frame) + 1)
    problems = () if rows else (FileProblem(rel, None, "no_rows", "a Parquet file with no rows"),)
    return FileScan(rel, "parquet", size, None, None, columns, rows, problems, len(frame) == rows, frame)


def _scan_text(path: Path, rel: str, size: int, encoding: str) -> FileScan:
    lines = sum(1 for _ in iter_text_lines(path, encoding))
    return FileScan(rel, "text", size, encoding, rows=lines)


def iter_text_lines(path: Path, encoding: str | None = None):
    """``(line number, text)`` of a text file, streamed, undecodable bytes replaced (for the secret scan)."""
    if encoding is None:
        with open(path, "rb") as fh:
            found = detect_encoding(fh.read(SNIFF_BYTES))
        encoding = found[0] if found else "utf-8"
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        for number, text in enumerate(fh, 1):
            yield number, text.rstrip("\r\n")


def typed_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of text as read become numbers, booleans or UTC times when every present value is one.

    The missing-value tokens (``""``, NA, N/A, null, None, NaN, -) become missing first; a column with
    one value that is not a number stays text (the quality checks then say so against the schema).
    Text columns are converted with vectorised string operations; mixed JSON values keep their types.
    """
    out = {}
    for name in frame.columns:
        column = frame[name]
        if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)):
            out[name] = column
            continue
        is_text = column.map(lambda v: v is None or isinstance(v, str)).all() if column.dtype == object else True
        out[name] = _convert_text(column.astype("string")) if is_text else _convert_mixed(column)
    return pd.DataFrame(out, index=frame.index)


def _convert_text(column: pd.Series) -> pd.Series:
    text = column.str.strip()
    lowered = text.str.lower()
    missing = text.isna() | lowered.isin(list(MISSING_TOKENS))
    values, present = text.mask(missing), int((~missing).sum())
    if not present:
        return values.astype(object)
    if lowered[~missing].isin(["true", "false"]).all():
        return lowered.mask(missing).map({"true": True, "false": False}).astype(object)
    head = values[~missing].head(1000)  # a cheap look first: most text columns fail on their first values
    if pd.to_numeric(head, errors="coerce").notna().all():
        numbers = pd.to_numeric(values, errors="coerce")
        if int(numbers.notna().sum()) == present:
            return _numbers(numbers.astype(float))
    if head.str.match(_ISO_DATE.pattern).all() and values[~missing].str.match(_ISO_DATE.pattern).all():
        times = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
        if int(times.notna().sum()) == present:
            return times
    return values.astype(object).where(~missing, None)


def _numbers(numbers: pd.Series) -> pd.Series:
    whole = numbers.dropna()
    if len(whole) and (whole == whole.round()).all() and whole.abs().max() < 2**53:
        return numbers.astype("Int64")
    return numbers


def _convert_mixed(column: pd.Series) -> pd.Series:
    """JSON values of several kinds: booleans and numbers keep their type when all present values share it."""
    values = column.map(lambda v: v.strip() if isinstance(v, str) else v)
    missing = values.map(lambda v: v is None or (isinstance(v, str) and v.lower() in MISSING_TOKENS))
    values = values.where(~missing, None)
    present = values[~missing]
    if len(present) and present.map(lambda v: isinstance(v, bool)).all():
        return values.astype(object)
    if len(present) and present.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).all():
        return _numbers(pd.to_numeric(values, errors="coerce").astype(float))
    return values.astype(object)


__all__ = ["FILE_COLUMN", "LINE_COLUMN", "MANIFEST_NAME", "FileProblem", "FileScan", "scan_dataset", "scan_file"]
