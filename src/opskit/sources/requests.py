"""Request logs into the requests frame: one row per served request, latency in milliseconds.

:func:`read_requests` picks the reader by format and hands the raw table to
:func:`~opskit.sources.request_columns.normalize_requests`, which documents the frame's columns.
Formats: CSV/TSV, Parquet, JSON lines (Envoy/Istio JSON access logs included) through
:mod:`~opskit.sources.table_files`, and nginx/Envoy/Istio text access logs through
:mod:`~opskit.sources.access_logs`; any of them gzip-compressed (``.gz``). The format is told by
:mod:`~opskit.sources.request_formats`.

Readers check and convert, they do no statistics. Bad input raises :class:`InputError` naming the
file, the line and the column.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.access_logs import ACCESS_LOG_KINDS, read_access_log
from opskit.sources.request_columns import LATENCY_UNITS, normalize_requests
from opskit.sources.request_formats import REQUEST_FORMATS, detect_format
from opskit.sources.table_files import read_csv_table, read_jsonl_table, read_parquet_table


def read_requests(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    fmt: str = "auto",
    latency_unit: str | None = None,
) -> pd.DataFrame:
    """Read a request log into the requests frame, sorted by timestamp.

    ``columns`` maps our column names to the names in the file (``{"latency_ms": "duration"}``);
    without it, common names are recognised (``duration_ms``, ``request_time``, ``status_code``...).
    ``fmt`` is ``auto`` (by suffix, then by sniffing the first line), ``csv``, ``parquet``,
    ``jsonl``, ``nginx``, ``ingress-nginx`` or ``envoy``. Lines of a mixed log that are not access
    lines are counted in ``frame.attrs["other_lines"]``. ``latency_unit`` (``ms``, ``s``, ``us``) overrides the unit
    guessed from the latency column's name.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="check the path, or use sample:requests_week")
    if latency_unit is not None and latency_unit not in LATENCY_UNITS:
        raise InputError(
            f"unknown latency unit {latency_unit!r}", path=path, hint="use one of: " + ", ".join(LATENCY_UNITS)
        )
    try:
        kind = detect_format(path) if fmt == "auto" else fmt
        raw, first_line = _read_raw(path, kind, fmt)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"the compressed file is damaged ({exc}); nothing was judged",
            path=path,
            hint="the archive is truncated or corrupt: fetch it again, or salvage the readable part "
            "with `gzip -dc FILE > part.csv` and pass that file",
        ) from exc
    frame = normalize_requests(raw, path=path, columns=columns, latency_unit=latency_unit, first_line=first_line)
    frame.attrs.update(raw.attrs)  # the other lines of a mixed log travel with the frame
    return frame


def _read_raw(path: Path, kind: str, fmt: str) -> tuple[pd.DataFrame, int | None]:
    """The raw table of ``path`` read as ``kind`` and the file line of its first row."""
    if kind == "parquet":
        raw, first_line = read_parquet_table(path), None
    elif kind == "csv":
        raw, first_line = read_csv_table(path), 2
    elif kind == "jsonl":
        raw, first_line = read_jsonl_table(path), 1
    elif kind in ACCESS_LOG_KINDS:
        raw, first_line = read_access_log(path, kind), 1
    else:
        raise InputError(
            f"unknown format {fmt!r} (parameter fmt)", path=path, hint="use auto, " + ", ".join(REQUEST_FORMATS)
        )
    return raw, first_line
