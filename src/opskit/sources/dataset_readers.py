"""Streaming readers of CSV/TSV and JSON lines for conversion: Arrow record batches in bounded memory.

One block of the file (``block_bytes``) is parsed at a time by pyarrow's streaming readers, so memory
does not grow with the file. The schema is fixed from the first block; a column with no value there is
read as text. When a later block disagrees (a word in a number column, a line with an extra field), the
error names the file, the line where the record starts and the column: :mod:`dataset_locate` finds
them. ``all_strings`` reads every value as text instead, so nothing can disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from opskit.errors import InputError
from opskit.sources.dataset_locate import explain_csv_error, explain_json_error

COMPRESSED_SUFFIXES = (".gz", ".bz2")
TABLE_KINDS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_kind(path: Path) -> str | None:
    """``"csv"``, ``"tsv"`` or ``"jsonl"`` from the file name (``.gz``/``.bz2`` after it allowed), else None."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes.pop()
    return TABLE_KINDS.get(suffixes[-1]) if suffixes else None


@dataclass
class ReadStats:
    """What a reader did: blocks parsed and rows yielded (filled in while the batches are consumed)."""

    blocks: int = 0
    rows: int = 0


def read_batches(
    path: Path,
    *,
    delimiter: str | None = None,
    block_bytes: int = 1 << 20,
    all_strings: bool = False,
    stats: ReadStats | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of a CSV/TSV or JSON-lines file, one block at a time, with one schema throughout."""
    kind = table_kind(path)
    stats = stats if stats is not None else ReadStats()
    if kind is None:
        raise InputError("not a CSV, TSV or JSON-lines file", path=path, hint="name it .csv, .tsv, .jsonl or .ndjson")
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=path, hint="remove it, or restore it from the source")
    if kind == "jsonl":
        batches = _json_lines_as_text(path, block_bytes) if all_strings else _json_batches(path, block_bytes, stats)
    else:
        separator = delimiter or ("\t" if kind == "tsv" else ",")
        batches = _csv_batches(path, separator, block_bytes, all_strings, stats)
    for batch in batches:
        stats.blocks += 1
        stats.rows += batch.num_rows
        yield batch


def _csv_batches(path: Path, delimiter: str, block_bytes: int, all_strings: bool, stats: ReadStats):
    import pyarrow.csv as pc

    read = pc.ReadOptions(block_size=block_bytes)
    parse = pc.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        reader = pc.open_csv(path, read_options=read, parse_options=parse)
        names = reader.schema.names
        _check_header(path, names)
        untyped = names if all_strings else [f.name for f in reader.schema if pa.types.is_null(f.type)]
        if untyped:
            reader.close()
            convert = pc.ConvertOptions(column_types={name: pa.string() for name in untyped})
            reader = pc.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise explain_csv_error(path, exc, delimiter, rows_before=0, names=None) from exc
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read as CSV: {exc}", path=path) from exc
    schema = reader.schema
    with reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise explain_csv_error(path, exc, delimiter, rows_before=stats.rows, names=schema) from exc
            yield batch


def _check_header(path: Path, names: list[str]) -> None:
    """Parquet needs distinct column names: name the first repeated one (empty ones come from extra delimiters)."""
    seen: dict[str, int] = {}
    for number, name in enumerate(names, 1):
        if name in seen:
            what = "an empty column name" if name == "" else "a column name"
            raise InputError(
                f"{what} appears twice in the header (columns {seen[name]} and {number} of {len(names)})",
                path=path,
                line=1,
                column=name,
                hint="name every column in line 1; empty names often come from trailing delimiters",
            )
        seen[name] = number


def _json_batches(path: Path, block_bytes: int, stats: ReadStats):
    import pyarrow.json as pj

    try:
        reader = pj.open_json(path, read_options=pj.ReadOptions(block_size=block_bytes))
    except pa.ArrowInvalid as exc:
        raise explain_json_error(path, exc, rows_before=0, schema=None) from exc
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read as JSON lines: {exc}", path=path) from exc
    schema = reader.schema
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise explain_json_error(path, exc, rows_before=stats.rows, schema=schema) from exc
        yield batch


def _json_lines_as_text(path: Path, block_bytes: int) -> Iterator[pa.RecordBatch]:
    """JSON lines with every value as text (objects and lists as compact JSON), for ``all_strings``.

    Python parses each line here, so this is slower than the typed reader; the columns are those of the
    first block in order of appearance, and a field first seen later is an error naming its line.
    """
    names: list[str] | None = None
    known: set[str] | None = None
    rows: list[dict] = []
    size = 0
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not valid JSON: {exc.msg}", path=path, line=number) from exc
            if not isinstance(record, dict):
                raise InputError("a JSON-lines record must be an object", path=path, line=number)
            if known is not None and not record.keys() <= known:
                extra = next(k for k in record if k not in known)
                raise InputError("field not seen in the first block", path=path, line=number, column=extra)
            rows.append(record)
            size += len(line)
            if size >= block_bytes:
                names = names or _field_names(rows)
                known = set(names)
                yield _text_batch(rows, names)
                rows, size = [], 0
    if rows or names is None:
        yield _text_batch(rows, names or _field_names(rows))


def _open_text(path: Path):
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8", errors="surrogateescape")
    if path.suffix.lower() == ".bz2":
        import bz2

        return bz2.open(path, "rt", encoding="utf-8", errors="surrogateescape")
    return path.open(encoding="utf-8", errors="surrogateescape")


def _field_names(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _text_batch(rows: list[dict], names: list[str]) -> pa.RecordBatch:
    columns = [pa.array([_text(row.get(name)) for row in rows], type=pa.string()) for name in names]
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema([(n, pa.string()) for n in names]))
