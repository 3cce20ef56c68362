"""Tabular files as raw DataFrames (CSV/TSV, Parquet, JSON lines, gzip ok), errors naming file and line.

Nothing is renamed or converted here: :mod:`opskit.sources.request_columns` does that. Each reader
keeps the file line in the index where the format has lines, so that later errors can name it.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd

from opskit.errors import InputError


def open_text(path: Path) -> io.TextIOBase:
    """A text stream of ``path``, gunzipped when it ends in ``.gz``; bytes that are not UTF-8 are replaced."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error)  # what a cut or corrupt compressed stream raises


def damaged_archive(path: Path, lines_read: int, exc: BaseException) -> InputError:
    """The error for a compressed file that breaks after ``lines_read`` lines: nothing of it is judged."""
    return InputError(
        f"the compressed file is damaged after {lines_read} line(s) ({exc}); nothing was judged",
        path=path,
        line=lines_read + 1,
        hint="the archive is truncated or corrupt: fetch it again, or salvage the readable part "
        "with `gzip -dc FILE > part.log` and pass that file",
    )


def guarded_lines(lines: Iterable[str], path: Path) -> Iterator[str]:
    """The lines of an open file; a damaged gzip stream is an InputError saying how many lines were read."""
    number = 0
    try:
        for line in lines:
            number += 1
            yield line
    except (*DAMAGED, OSError) as exc:
        raise damaged_archive(path, number, exc) from exc


def malformed_csv(exc: Exception, path: Path, hint: str = "every row needs as many fields as the header") -> InputError:
    """The error for pandas' ParserError on ``path``: the line it names, and what to do."""
    match = re.search(r"line (\d+)", str(exc))
    return InputError(
        f"malformed CSV ({str(exc).strip()})", path=path, line=int(match.group(1)) if match else None, hint=hint
    )


def read_parquet_table(path: Path) -> pd.DataFrame:
    """A Parquet file; an unreadable one is an InputError."""
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=path, hint="check the file is complete") from exc


def read_csv_table(path: Path) -> pd.DataFrame:
    """A CSV file with a header (TSV when a suffix says ``.tsv``); a malformed row names its line."""
    sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        return pd.read_csv(path, sep=sep, compression="infer")
    except pd.errors.ParserError as exc:
        raise malformed_csv(exc, path) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", path=path, hint="check the export") from exc
    except DAMAGED as exc:
        raise damaged_archive(path, 0, exc) from exc


def read_jsonl_table(path: Path) -> pd.DataFrame:
    """One JSON object per line; the index is the file line less one (blank lines skipped)."""
    records, lines = [], []
    with open_text(path) as fh:
        for number, line in enumerate(guarded_lines(fh, path), start=1):
            text = line.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"not valid JSON ({exc.msg})", path=path, line=number, hint="one JSON object per line"
                ) from exc
            if not isinstance(record, dict):
                raise InputError("a JSON line that is not an object", path=path, line=number)
            records.append(record)
            lines.append(number)
    frame = pd.DataFrame.from_records(records)
    frame.index = pd.Index(lines) - 1  # so that index + first_line (1) is the file line
    return frame
