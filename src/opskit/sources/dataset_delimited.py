"""Line-aware reading of one CSV/TSV file: records with their line numbers, and what is wrong with the rest.

The file is streamed once (bounded memory: a record is held only while it is parsed, and kept only
while ``keep_rows`` allows). Each problem names the physical line a record starts on:

* ``encoding``: a line whose bytes do not decode in the file's encoding (read with replacement, kept);
* ``quoting``: a quote that does not open or close a field where the CSV rules allow (``"x"y``), or a
  quote opened and never closed (every line after it is lost to one field);
* ``mixed_delimiter``: a record that has the header's field count only when split on another delimiter;
* ``field_count``: more fields than the header (a value holding an unquoted delimiter shifts the columns
  after it: the column that most likely holds it is named) or fewer;
* ``truncated``: the last line has no line end and is shorter than the header (cut mid-record), or
  ``no_line_end`` when it is complete but unterminated (a copy cut exactly at a line end looks alike).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from opskit.sources.encodings import bom_length

DELIMITERS = (",", "\t", ";", "|")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "nil", "-"})
SNIFF = 64 * 1024
SHAPE_ROWS = 10_000  # rows whose field shapes tell which column a shifted record broke
MIN_SHAPE_ROWS = 10  # good rows needed before a shifted column is named
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_WIDE = ("utf-16", "utf-32")


@dataclass
class DelimitedRead:
    """What one pass over a delimited file found (filled by :func:`read_delimited`)."""

    delimiter: str
    columns: tuple[str, ...] = ()
    rows: int = 0
    records: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    problems: list[tuple[int | None, str, str, str | None]] = field(default_factory=list)  # line, kind, text, column
    rows_kept_complete: bool = True


def sniff_delimiter(header: str, default: str = ",") -> str:
    """The candidate delimiter that splits the header line into the most fields (``default`` on a tie at 1)."""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == default))
    return best if counts[best] else default


def _text_lines(path: Path, encoding: str, newline: str) -> Iterator[str]:
    with open(path, encoding=encoding, errors="replace", newline=newline) as fh:
        for number, text in enumerate(fh):
            yield text.lstrip("\ufeff") if number == 0 else text


def decoded_lines(path: Path, encoding: str, problems: list) -> Iterator[str]:
    """The file's lines with their line ends; a line that does not decode, or holds a NUL byte, is reported.

    UTF-8 and the single-byte-per-line encodings are decoded line by line, so the line and column of
    bad bytes are known; UTF-16/32 and files with old Mac line ends (CR only) are read as text with
    replacement, and a line holding U+FFFD is reported.
    """
    name = "utf-8" if encoding == "utf-8-sig" else encoding
    codecs.lookup(name)
    with open(path, "rb") as fh:
        head = fh.read(SNIFF)
    cr_only = b"\r" in head and b"\n" not in head
    if encoding.startswith(_WIDE) or cr_only:  # a b"\n" split would cut characters or miss every line end
        for number, text in enumerate(_text_lines(path, name, "\r" if cr_only else ""), 1):
            if "\ufffd" in text:
                problems.append(
                    (number, "encoding", f"bytes at column {text.index(chr(0xFFFD)) + 1} are not valid {name}", None)
                )
            yield text
        return
    with open(path, "rb") as fh:
        skip = bom_length(encoding)
        if skip:
            fh.read(skip)
        for number, raw in enumerate(fh, 1):
            if b"\x00" in raw:
                problems.append((number, "encoding", f"a NUL byte at column {raw.index(0) + 1}", None))
                raw = raw.replace(b"\x00", b"")
            try:
                yield raw.decode(name)
            except UnicodeDecodeError as exc:
                problems.append((number, "encoding", f"bytes at column {exc.start + 1} are not valid {name}", None))
                yield raw.decode(name, errors="replace")


def header_names(header: list[str], problems: list) -> tuple[str, ...]:
    """The header's names, stripped; a blank or repeated name is reported and made unique (``column_3``, ``name.4``)."""
    names: list[str] = []
    for number, raw in enumerate(header, 1):
        name = raw.strip()
        if not name:
            problems.append((1, "header", f"column {number} has no name (read as column_{number})", None))
            name = f"column_{number}"
        if name in names:
            problems.append((1, "header", f"column {number} repeats the name {name!r} (read as {name}.{number})", name))
            name = f"{name}.{number}"
        names.append(name)
    return tuple(names)


def _shape(value: str) -> str:
    text = value.strip()
    if text.lower() in MISSING_TOKENS:
        return "missing"
    if _NUMBER.match(text):
        return "number"
    return "words" if " " in text else "text"


def shifted_column(fields: list[str], columns: tuple[str, ...], shapes: list[dict[str, int]], delimiter: str) -> str:
    """The column whose value most likely holds the extra delimiter(s) of a record with too many fields.

    Each way of joining ``extra + 1`` neighbouring fields back into one is scored by how many fields
    then have the shape (number, words, a single token, missing) most common in that column's good
    rows; the best wins, the first column on a tie.
    """
    extra = len(fields) - len(columns)
    best, best_score = 0, -1
    for start in range(len(columns)):
        merged = [*fields[:start], delimiter.join(fields[start : start + extra + 1]), *fields[start + extra + 1 :]]
        score = 0
        for i, value in enumerate(merged):
            counts = shapes[i]
            if counts and max(counts, key=counts.get) == _shape(value):
                score += 1
        if score > best_score:
            best, best_score = start, score
    return columns[best]


def _excerpt(fields: list[str], delimiter: str) -> str:
    text = delimiter.join(fields)
    return text if len(text) <= 160 else text[:157] + "..."


def read_delimited(path: Path, encoding: str, *, default_delimiter: str = ",", keep_rows: int = 0) -> DelimitedRead:
    """Stream ``path`` once; keep up to ``keep_rows`` good records (as strings) with their line numbers."""
    problems: list = []
    lines = decoded_lines(path, encoding, problems)
    header_line = next(lines, "")
    delimiter = sniff_delimiter(header_line, default_delimiter)
    out = DelimitedRead(delimiter=delimiter, problems=problems)
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    out.columns = header_names(header, problems)
    width = len(out.columns)
    shapes: list[dict[str, int]] = [{} for _ in range(width)]
    pending_extra: list[tuple[int, list[str]]] = []
    last_text: list[str] = [header_line]

    def tracked() -> Iterator[str]:
        for text in lines:
            last_text[0] = text
            yield text

    reader = csv.reader(tracked(), delimiter=delimiter, strict=True)
    previous_end = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            start = previous_end + 1
            previous_end = reader.line_num + 1  # the header line was read before the reader
            if "end of data" in str(exc):
                problems.append((start, "quoting", f"a quote opened on line {start} is never closed", None))
            else:
                problems.append((start, "quoting", f"inconsistent quoting: {exc}", None))
            continue
        start, previous_end = previous_end + 1, reader.line_num + 1
        if not fields:
            continue
        if len(fields) == width:
            out.rows += 1
            if out.rows <= SHAPE_ROWS:
                for i, value in enumerate(fields):
                    kind = _shape(value)
                    shapes[i][kind] = shapes[i].get(kind, 0) + 1
            if len(out.records) < keep_rows:
                out.records.append(fields)
                out.lines.append(start)
            elif out.rows > keep_rows:
                out.rows_kept_complete = False
            continue
        _misfit(out, start, fields, width, pending_extra, last_text[0])
    for start, fields in pending_extra:  # named once the good rows' shapes are known
        if out.rows < MIN_SHAPE_ROWS:  # too few good rows to tell which column holds the extra delimiter
            problems.append(
                (
                    start,
                    "field_count",
                    f"{len(fields)} fields where the header has {width}: an unquoted "
                    f"{delimiter!r} in a value, or an extra column: {_excerpt(fields, delimiter)}",
                    None,
                )
            )
            continue
        column = shifted_column(fields, out.columns, shapes, delimiter)
        problems.append(
            (
                start,
                "field_count",
                f"{len(fields)} fields where the header has {width}: a value in {column!r} holds an unquoted "
                f"{delimiter!r}, and the columns after it are shifted: {_excerpt(fields, delimiter)}",
                column,
            )
        )
    problems.sort(key=lambda p: p[0] or 0)
    return out


def _misfit(out: DelimitedRead, start: int, fields: list[str], width: int, pending: list, last_text: str) -> None:
    """Classify a record whose field count differs from the header's."""
    raw = out.delimiter.join(fields)
    for other in DELIMITERS:
        if other != out.delimiter and len(next(csv.reader([raw], delimiter=other))) == width and width > 1:
            out.problems.append(
                (start, "mixed_delimiter", f"split on {other!r}, not {out.delimiter!r} like the header", None)
            )
            return
    unterminated = not last_text.endswith(("\n", "\r"))
    if len(fields) < width and unterminated:
        out.problems.append(
            (
                start,
                "truncated",
                f"the last line is cut mid-record: {len(fields)} of {width} fields and no line end "
                f"(ends with {_excerpt(fields, out.delimiter)[-40:]!r})",
                out.columns[len(fields) - 1] if fields else None,
            )
        )
    elif len(fields) > width:
        if len(pending) < 1000:
            pending.append((start, fields))
    else:
        out.problems.append(
            (
                start,
                "field_count",
                f"{len(fields)} fields where the header has {width}: {_excerpt(fields, out.delimiter)}",
                out.columns[len(fields)] if len(fields) < width else None,
            )
        )


def ends_without_line_end(path: Path) -> bool:
    """True when the file's last byte is not a line end (read from the end, not the whole file)."""
    with open(path, "rb") as fh:
        fh.seek(0, io.SEEK_END)
        if fh.tell() == 0:
            return False
        fh.seek(-1, io.SEEK_END)
        return fh.read(1) not in (b"\n", b"\r")
