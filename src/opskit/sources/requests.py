"""Request logs into the requests frame: one row per served request, latency in milliseconds.

Columns of the frame (``REQUEST_COLUMNS``): ``timestamp`` (UTC, when the request started or was
logged), ``endpoint`` (path without host and query string, ids such as ``/users/123`` as
``/users/{id}``), ``model_version``, ``latency_ms`` (end to end), ``status`` (HTTP code), and when
the log has them ``batch_size``, ``queue_ms`` (waiting for a batch or a worker) and ``gpu_ms``
(compute). Extra columns such as ``instance`` or ``input_tokens`` are kept as they are.

Formats: CSV/TSV, Parquet, JSON lines (Envoy/Istio JSON access logs included), and access logs:
nginx ``combined`` followed by ``$request_time`` (seconds; gunicorn's ``%(D)s`` microseconds when the
number has no decimal point), nginx key=value logs with ``rt=``, and Envoy/Istio's default text
access log (``%DURATION%`` in ms). Any of them may be gzip-compressed (``.gz``).

Readers check and convert, they do no statistics. Bad input raises :class:`InputError` naming the
file, the line and the column.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.errors import InputError

REQUEST_COLUMNS = ("timestamp", "endpoint", "model_version", "latency_ms", "status")
OPTIONAL_COLUMNS = ("batch_size", "queue_ms", "gpu_ms")
GPU_COLUMNS = ("timestamp", "host", "gpu", "util_pct", "mem_used_mib", "mem_total_mib")

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
_UNITS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "ns": 1e-6}
_STATUS_WORDS = {"ok": 200, "success": 200, "error": 500, "fail": 500, "failed": 500, "timeout": 504}

_NGINX = re.compile(
    r'^(?P<addr>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" (?P<status>\d{3}) \S+'
    r'(?: "[^"]*" "[^"]*")?(?P<rest>.*)$'
)
_NGINX_RT = re.compile(r"(?:^|\s)(?:rt|request_time)=\"?(?P<rt>[\d.]+)")
_NGINX_TAIL = re.compile(r"^\s+(?P<rt>\d+(?:\.\d+)?)(?:\s|$)")
_ENVOY = re.compile(
    r'^\[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<flags>\S+)'
    r'(?: \S+ \S+ "[^"]*")? (?P<rx>\d+) (?P<tx>\d+) (?P<duration>\d+) (?P<upstream>\S+)'
)
_UVICORN = re.compile(r'^(?:INFO:\s+)?\S+:\d+ - "[A-Z]+ \S+ [^"]*" \d{3}')


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
    ``jsonl``, ``nginx`` or ``envoy``. ``latency_unit`` (``ms``, ``s``, ``us``) overrides the unit
    guessed from the latency column's name.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="check the path, or use sample:requests_week")
    if latency_unit is not None and latency_unit not in _UNITS:
        raise InputError(f"unknown latency unit {latency_unit!r}", path=path, hint="use one of: " + ", ".join(_UNITS))
    kind = _detect_format(path) if fmt == "auto" else fmt
    if kind == "parquet":
        raw, first_line = _read_parquet(path), None
    elif kind == "csv":
        raw, first_line = _read_csv(path), 2
    elif kind == "jsonl":
        raw, first_line = _read_jsonl(path), 1
    elif kind in ("nginx", "envoy"):
        raw, first_line = _read_access_log(path, kind), 1
    else:
        raise InputError(f"unknown format {fmt!r}", path=path, hint="use auto, csv, parquet, jsonl, nginx or envoy")
    return normalize_requests(raw, path=path, columns=columns, latency_unit=latency_unit, first_line=first_line)


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
        factors["latency_ms"] = _UNITS[latency_unit]
    for needed in ("timestamp", "latency_ms"):
        if needed not in renamed.columns:
            raise InputError(
                f"no {needed} column (found: {', '.join(map(str, raw.columns))})",
                path=path,
                column=needed,
                hint=f"map it with columns={{'{needed}': '<your column>'}} (-p columns '{{\"{needed}\": ...}}')",
            )
    out = pd.DataFrame(index=renamed.index)
    out["timestamp"] = _to_utc(renamed["timestamp"], path, first_line)
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


def read_gpu_metrics(path: str | Path) -> pd.DataFrame:
    """Read GPU samples already in opskit's GPU-samples frame (CSV or Parquet) for correlation.

    Needs ``timestamp`` and ``util_pct``; ``mem_used_mib``/``mem_total_mib``, ``host`` and ``gpu``
    are used when present. For raw ``nvidia-smi`` or DCGM output use the GPU readers first.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="check the path, or use sample:requests_week_gpu")
    kind = _detect_format(path)
    frame = _read_parquet(path) if kind == "parquet" else _read_csv(path)
    first_line = None if kind == "parquet" else 2
    for needed in ("timestamp", "util_pct"):
        if needed not in frame.columns:
            raise InputError(
                f"no {needed} column: not in the GPU-samples frame",
                path=path,
                column=needed,
                hint="convert nvidia-smi/DCGM output with opskit's GPU readers first",
            )
    out = frame.copy()
    out["timestamp"] = _to_utc(frame["timestamp"], path, first_line)
    for name in ("util_pct", "mem_used_mib", "mem_total_mib"):
        if name in out:
            out[name] = _numeric(frame[name], name, path, first_line, allow_missing=True)
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


# -- format detection and raw readers ---------------------------------------------------------


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".parquet", ".pq"):
        return "parquet"
    if last in (".jsonl", ".ndjson"):
        return "jsonl"
    if last in (".csv", ".tsv"):
        return "csv"
    with _open_text(path) as fh:
        first = next((line.strip() for line in fh if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    if _ENVOY.match(first):
        return "envoy"
    if _NGINX.match(first):
        return "nginx"
    if _UVICORN.match(first):
        raise InputError(
            "uvicorn's default access log has no request time",
            path=path,
            line=1,
            hint="log the request duration (gunicorn --access-logformat with %(D)s, or a timing middleware)",
        )
    if "," in first or "\t" in first:
        return "csv"
    raise InputError(
        "cannot tell the format of this file",
        path=path,
        line=1,
        hint="pass fmt (csv, parquet, jsonl, nginx, envoy), or convert it to CSV with a header",
    )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=path, hint="check the file is complete") from exc


def _read_csv(path: Path) -> pd.DataFrame:
    sep = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        return pd.read_csv(path, sep=sep, compression="infer")
    except pd.errors.ParserError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"malformed CSV ({exc})",
            path=path,
            line=int(match.group(1)) if match else None,
            hint="every row needs as many fields as the header",
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", path=path, hint="check the export") from exc


def _read_jsonl(path: Path) -> pd.DataFrame:
    records, lines = [], []
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
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


def _iter_access_rows(path: Path, kind: str) -> Iterator[tuple[int, dict]]:
    pattern = _ENVOY if kind == "envoy" else _NGINX
    with _open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            text = line.rstrip("\n")
            if not text.strip():
                continue
            match = pattern.match(text)
            if not match:
                raise InputError(
                    f"not a {kind} access-log line",
                    path=path,
                    line=number,
                    hint=f"pass fmt explicitly, or check the log format ({kind} expected from the first line)",
                )
            yield number, match.groupdict()


def _read_access_log(path: Path, kind: str) -> pd.DataFrame:
    rows, lines = [], []
    for number, fields in _iter_access_rows(path, kind):
        if kind == "envoy":
            latency, time = fields["duration"], fields["time"]
        else:
            rest = fields["rest"] or ""
            found = _NGINX_RT.search(rest) or _NGINX_TAIL.match(rest)
            if not found:
                raise InputError(
                    "no request time on this line",
                    path=path,
                    line=number,
                    column="request_time",
                    hint="add $request_time after the combined format (log_format ... '$request_time')",
                )
            raw = found.group("rt")
            # nginx logs seconds with a decimal point; gunicorn's %(D)s logs integer microseconds
            latency = float(raw) * 1000.0 if "." in raw else float(raw) / 1000.0
            time = pd.to_datetime(fields["time"], format="%d/%b/%Y:%H:%M:%S %z", errors="coerce")
            if pd.isna(time):
                raise InputError(f"bad time {fields['time']!r}", path=path, line=number, column="time_local")
        rows.append((time, fields["path"], latency, int(fields["status"])))
        lines.append(number)
    frame = pd.DataFrame(rows, columns=["timestamp", "endpoint", "latency_ms", "status"])
    frame.index = pd.Index(lines, dtype="int64") - 1
    return frame


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


def _to_utc(series: pd.Series, path, first_line: int | None) -> pd.Series:
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


def _numeric(series: pd.Series, name: str, path, first_line: int | None, *, allow_missing: bool) -> pd.Series:
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
    values = _numeric(series, name, path, first_line, allow_missing=allow_missing)
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
