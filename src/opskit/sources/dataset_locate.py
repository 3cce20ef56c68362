"""Turn pyarrow's CSV and JSON errors into errors that name the file, the line and the column.

pyarrow's streaming readers say what went wrong (``CSV conversion error to int64: invalid value 'abc'``)
but not on which line. The reader knows how many records came before the failing block, so the file is
scanned again from there by Python's ``csv``/``json`` to find the first record that shows the problem;
the line is where that record starts (a quoted field may span lines). This runs only on failure.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

from opskit.errors import InputError

_CONVERSION = re.compile(
    r"In CSV column #(?P<index>\d+): .*?conversion error to (?P<type>\w+): invalid value '(?P<value>.*)'"
)
_COLUMNS = re.compile(r"Expected (?P<expected>\d+) columns, got (?P<got>\d+)")
_JSON_TYPE = re.compile(r"Column\((?P<field>[^)]*)\) changed from (?P<old>\w+) to (?P<new>\w+)")
STRINGS_HINT = "fix the line, or pass --strings to read every column as text"


def _text(path: Path) -> io.TextIOBase:
    if path.suffix.lower() in (".gz", ".bz2"):
        import bz2
        import gzip

        opener = gzip.open if path.suffix.lower() == ".gz" else bz2.open
        return opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline="")
    return path.open(encoding="utf-8", errors="surrogateescape", newline="")


def _csv_records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for each data record, empty lines skipped."""
    csv.field_size_limit(1 << 30)
    with _text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        start = 1
        header_seen = False
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record:
                continue
            if not header_seen:
                header_seen = True
                continue
            yield line, record


def _find(
    records: Iterator[tuple[int, object]], skip: int, test: Callable[[object], bool]
) -> tuple[int, object] | None:
    """(line, record) of the first record after ``skip`` records that passes ``test``."""
    for index, (line, record) in enumerate(records):
        if index >= skip and test(record):
            return line, record
    return None


def _block_start(records: Iterator[tuple[int, object]], skip: int) -> int | None:
    for index, (line, _) in enumerate(records):
        if index == skip:
            return line
    return None


def explain_csv_error(
    path: Path, exc: pa.ArrowInvalid, delimiter: str, *, rows_before: int, names: pa.Schema | None
) -> InputError:
    """An :class:`InputError` with the line and column of the record pyarrow could not read."""
    message = str(exc)
    if m := _CONVERSION.search(message):
        index, value = int(m["index"]), m["value"]
        column = names.names[index] if names is not None and index < len(names) else f"#{index + 1}"
        found = _find(_csv_records(path, delimiter), rows_before, lambda r: len(r) > index and r[index] == value)
        what = f"value {value!r} is not {m['type']} like the rows before it (the type was fixed from the first block)"
        return InputError(what, path=path, line=found[0] if found else None, column=column, hint=STRINGS_HINT)
    if m := _COLUMNS.search(message):
        expected, got = int(m["expected"]), int(m["got"])
        found = _find(_csv_records(path, delimiter), rows_before, lambda r: len(r) == got)
        shown = repr(delimiter)
        return InputError(
            f"{got} fields where the header has {expected} (delimiter {shown}; an unquoted delimiter inside a value?)",
            path=path,
            line=found[0] if found else None,
            hint="quote the value or fix the line; --delimiter sets another separator",
        )
    line = _block_start(_csv_records(path, delimiter), rows_before)
    where = f"in the block starting at line {line}: " if line else ""
    return InputError(f"cannot read as CSV: {where}{message}", path=path, hint="check the file's encoding and quoting")


def _json_records(path: Path) -> Iterator[tuple[int, str]]:
    with _text(path) as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, line


def _kind_fits(value: object, arrow_type: pa.DataType) -> bool:
    if value is None:
        return True
    if pa.types.is_boolean(arrow_type):
        return isinstance(value, bool)
    if pa.types.is_integer(arrow_type):
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(arrow_type):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if pa.types.is_string(arrow_type) or pa.types.is_timestamp(arrow_type):
        return isinstance(value, str)
    if pa.types.is_list(arrow_type):
        return isinstance(value, list)
    if pa.types.is_struct(arrow_type):
        return isinstance(value, dict)
    return not pa.types.is_null(arrow_type)


def _first_misfit(line: str, schema: pa.Schema | None) -> tuple[str, str] | None:
    """(what, column) when this JSON line does not fit ``schema``; None when it fits."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg}", None
    if not isinstance(record, dict):
        return "a JSON-lines record must be an object", None
    if schema is None:
        return None
    for key, value in record.items():
        index = schema.get_field_index(key)
        if index < 0:
            return "field not seen in the first block (the columns were fixed from it)", key
        if not _kind_fits(value, schema.field(index).type):
            kind = type(value).__name__
            return f"{kind} value where the first block had {schema.field(index).type}", key
    return None


def explain_json_error(path: Path, exc: pa.ArrowInvalid, *, rows_before: int, schema: pa.Schema | None) -> InputError:
    """An :class:`InputError` with the line (and field) of the JSON record pyarrow could not read."""
    message = str(exc)
    found = _find(_json_records(path), rows_before, lambda line: _first_misfit(line, schema) is not None)
    if found is not None:
        what, column = _first_misfit(found[1], schema) or (message, None)
        return InputError(what, path=path, line=found[0], column=column, hint=STRINGS_HINT)
    column = None
    if m := _JSON_TYPE.search(message):
        column = m["field"].lstrip("/") or None
    start = _block_start(_json_records(path), rows_before)
    where = f"in the block starting at line {start}: " if start else ""
    return InputError(f"cannot read as JSON lines: {where}{message}", path=path, column=column, hint=STRINGS_HINT)
