"""Raw request tables into the requests frame: column names recognised, units to ms, types checked.

Columns of the frame (``REQUEST_COLUMNS``): ``timestamp`` (UTC, when the request started or was
logged), ``endpoint`` (path without host and query string, ids such as ``/users/123`` as
``/users/{id}``), ``model_version``, ``latency_ms`` (end to end), ``status`` (HTTP code), and when
the log has them ``batch_size``, ``queue_ms`` (waiting for a batch or a worker) and ``gpu_ms``
(compute). Extra columns such as ``instance`` or ``input_tokens`` are kept as they are.

Bad values raise :class:`InputError` naming the file, the line (or row) and the column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.errors import InputError

REQUEST_COLUMNS = ("timestamp", "endpoint", "model_version", "latency_ms", "status")
OPTIONAL_COLUMNS = ("batch_size", "queue_ms", "gpu_ms")

# Names found in the wild -> (our column, factor to milliseconds or None when not a duration).
_ALIASES: dict[str, tuple[str, float | None]] = {
    "timestamp": ("timestamp", None),
    "time": ("timestamp", None),
    "ts": ("timestamp", None),
    "start_time": ("timestamp", None),
    "@timestamp": ("timestamp", None),
    "datetime": ("timestamp", None),
    "endpoint": ("endpoint", None),
    "route": ("endpoint", None),
    "path": ("endpoint", None),
    "url": ("endpoint", None),
    "uri": ("endpoint", None),
    "model_version": ("model_version", None),
    "version": ("model_version", None),
    "model": ("model_version", None),
    "model_name": ("model_version", None),
    "deployment": ("model_version", None),
    "latency_ms": ("latency_ms", 1.0),
    "latency": ("latency_ms", 1.0),
    "duration_ms": ("latency_ms", 1.0),
    "duration": ("latency_ms", 1.0),  # Envoy's %DURATION% is in ms
    "response_time_ms": ("latency_ms", 1.0),
    "elapsed_ms": ("latency_ms", 1.0),
    "e2e_latency_ms": ("latency_ms", 1.0),
    "latency_s": ("latency_ms", 1000.0),
    "duration_s": ("latency_ms", 1000.0),
    "request_time": ("latency_ms", 1000.0),  # nginx $request_time is in seconds
    "e2e_latency": ("latency_ms", 1000.0),  # vLLM reports seconds
    "latency_us": ("latency_ms", 0.001),
    "status": ("status", None),
    "status_code": ("status", None),
    "response_code": ("status", None),
    "http_status": ("status", None),
    "code": ("status", None),
    "batch_size": ("batch_size", None),
    "batch": ("batch_size", None),
    "queue_ms": ("queue_ms", 1.0),
    "queue_time_ms": ("queue_ms", 1.0),
    "queue_s": ("queue_ms", 1000.0),
    "gpu_ms": ("gpu_ms", 1.0),
    "compute_ms": ("gpu_ms", 1.0),
    "inference_ms": ("gpu_ms", 1.0),
    "gpu_s": ("gpu_ms", 1000.0),
}
LATENCY_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "ns": 1e-6}
_STATUS_WORDS = {"ok": 200, "success": 200, "error": 500, "fail": 500, "failed": 500, "timeout": 504}


def normalize_requests(
    raw: pd.DataFrame,
    *,
    path: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    latency_unit: str | None = None,
    first_line: int | None = None,
) -> pd.DataFrame:
    """Rename, convert and check a raw table into the requests frame.

    ``first_line`` is the file line of the first row (2 for a CSV with a header) so that errors
    name the line; ``None`` for formats without lines (Parquet): errors then name the row.
    """
    renamed, factors = _rename(raw, path, columns or {})
    if latency_unit is not None:
        factors["latency_ms"] = LATENCY_UNITS[latency_unit]
    for needed in ("timestamp", "latency_ms"):
        if needed not in renamed.columns:
            raise InputError(
                f"no {needed} column (found: {', '.join(map(str, raw.columns))})",
                path=path,
                column=needed,
                hint=f"map it with columns={{'{needed}': '<your column>'}} (-p columns '{{\"{needed}\": ...}}')",
            )
    out = pd.DataFrame(index=renamed.index)
    out["timestamp"] = to_utc(renamed["timestamp"], path, first_line)
    out["endpoint"] = _categorical(renamed["endpoint"], _clean_endpoint) if "endpoint" in renamed else "all"
    out["model_version"] = _categorical(renamed["model_version"], str) if "model_version" in renamed else "unknown"
    out["latency_ms"] = _duration(renamed["latency_ms"], "latency_ms", factors, path, first_line)
    out["status"] = _status(renamed["status"], path, first_line) if "status" in renamed else np.int16(200)
    for name in OPTIONAL_COLUMNS:
        if name in renamed:
            out[name] = _duration(renamed[name], name, factors, path, first_line, allow_missing=True)
    for name in renamed.columns:
        if name not in out.columns:
            out[name] = renamed[name]
    out["endpoint"] = out["endpoint"].astype("category")
    out["model_version"] = out["model_version"].astype("category")
    if len(out) == 0:
        raise InputError("the file holds no requests", path=path, hint="check the file, or the time range exported")
    if not out["timestamp"].is_monotonic_increasing:
        out = out.sort_values("timestamp", kind="stable")
    return out.reset_index(drop=True)


# -- conversions ------------------------------------------------------------------------------


def _rename(raw: pd.DataFrame, path, columns: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, float]]:
    known = set(REQUEST_COLUMNS) | set(OPTIONAL_COLUMNS)
    unknown = sorted(set(columns) - known)
    if unknown:
        raise InputError(
            f"column mapping names unknown columns: {', '.join(unknown)}",
            path=path,
            hint="map our columns (" + ", ".join(sorted(known)) + ") to yours",
        )
    missing = [theirs for theirs in columns.values() if theirs not in raw.columns]
    if missing:
        raise InputError(
            f"mapped column {missing[0]!r} is not in the file (found: {', '.join(map(str, raw.columns))})",
            path=path,
            column=missing[0],
        )
    renames: dict[str, str] = {theirs: ours for ours, theirs in columns.items()}
    factors: dict[str, float] = {ours: 1.0 for ours in columns}
    taken = set(columns)
    for name in raw.columns:
        if name in renames:
            continue
        alias = _ALIASES.get(str(name).lower())
        if alias and alias[0] not in taken:
            renames[name] = alias[0]
            taken.add(alias[0])
            if alias[1] is not None:
                factors[alias[0]] = alias[1]
    return raw.rename(columns=renames), factors


def _line_of(series: pd.Series, bad: pd.Series, first_line: int | None) -> tuple[int | None, str]:
    position = int(np.argmax(bad.to_numpy()))
    label = series.index[position]
    value = series.iloc[position]
    value = value.item() if hasattr(value, "item") else value
    text = "(empty or n/a)" if value is None or (isinstance(value, float) and np.isnan(value)) else repr(value)
    if first_line is None:
        return None, f"row {position + 1} {text}"
    return int(label) + first_line, text


def to_utc(series: pd.Series, path, first_line: int | None) -> pd.Series:
    """Times as UTC ``datetime64[ns]``: ISO text, epoch numbers (s/ms/us/ns by size) or datetimes; naive is UTC."""
    if pd.api.types.is_datetime64_any_dtype(series):
        parsed = series
    elif pd.api.types.is_numeric_dtype(series):
        values = series.astype("float64")
        biggest = np.nanmax(np.abs(values.to_numpy())) if len(values) else 0.0
        unit = "s" if biggest < 1e11 else "ms" if biggest < 1e14 else "us" if biggest < 1e17 else "ns"
        parsed = pd.to_datetime(values, unit=unit, utc=True, errors="coerce")
    else:
        parsed = pd.to_datetime(series, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        line, value = _line_of(series, bad, first_line)
        raise InputError(
            f"timestamp {value} is not a time", path=path, line=line, column="timestamp", hint="use ISO 8601 or epoch"
        )
    naive = getattr(parsed.dt, "tz", None) is None  # naive times are taken as UTC
    parsed = parsed.dt.tz_localize("UTC") if naive else parsed.dt.tz_convert("UTC")
    return parsed.astype("datetime64[ns, UTC]")


def to_number(series: pd.Series, name: str, path, first_line: int | None, *, allow_missing: bool) -> pd.Series:
    """Non-negative float64; text or a negative value is an InputError naming its line (or row) and column."""
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = values.isna() & (series.notna() if allow_missing else True)
    if bad.any():
        line, value = _line_of(series, bad, first_line)
        raise InputError(f"{name} {value} is not a number", path=path, line=line, column=name)
    negative = values < 0
    if negative.any():
        line, value = _line_of(series, negative, first_line)
        raise InputError(f"{name} {value} is negative", path=path, line=line, column=name)
    return values


def _duration(series, name, factors, path, first_line, *, allow_missing: bool = False) -> pd.Series:
    values = to_number(series, name, path, first_line, allow_missing=allow_missing)
    factor = factors.get(name, 1.0)
    return values * factor if factor != 1.0 else values


def _status(series: pd.Series, path, first_line: int | None) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(series):
        words = series.astype(str).str.strip().str.lower().map(_STATUS_WORDS)
        series = pd.to_numeric(series, errors="coerce").fillna(words)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() | (values < 0) | (values > 999)
    if bad.any():
        line, value = _line_of(series, bad, first_line)
        raise InputError(
            f"status {value} is not an HTTP status", path=path, line=line, column="status", hint="100..599 or OK/ERROR"
        )
    return values.astype("int16")


_ID_SEGMENT = re.compile(
    r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,})(?=/|$)"
)


def _clean_endpoint(value) -> str:
    """Path without scheme, host and query string; ids (numbers, UUIDs, long hex) become ``{id}``."""
    text = re.sub(r"^[a-z]+://[^/]+", "", str(value))
    text = text.split("?", 1)[0] or "/"
    return _ID_SEGMENT.sub("/{id}", text)


def _categorical(series: pd.Series, clean) -> pd.Categorical:
    """Clean the distinct values only (fast on millions of rows); missing values become 'unknown'."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    cleaned = [clean(v) for v in uniques] + ["unknown"]
    new_codes, labels = pd.factorize(pd.Index(cleaned, dtype=object))
    mapped = new_codes[np.where(codes < 0, len(cleaned) - 1, codes)]
    return pd.Categorical.from_codes(mapped, categories=pd.Index(labels, dtype=object).astype(str))
