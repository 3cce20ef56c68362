"""One table style for every report: a DataFrame as HTML that reads like a table a person made.

Rules, each tested: no 0..n index (a named or labelled index is kept as the first column); headers
in words with their unit from the snake_case name (``mem_used_mib`` -> "Memory used (MiB)");
numbers with thousands separators and rounding by size; missing values as an em dash; booleans
yes/no; UTC times to the minute with "UTC" once, in the header; long text wrapped, never cut;
wide tables scroll sideways; nested details (dicts, lists of dicts) as small tables. The styles are
inline (:data:`opskit.checks.TABLE_CELL`, shared with the verdict table), so JupyterLab and the
HTML report look the same and nothing is fetched.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from opskit.checks import TABLE_CELL, TABLE_FONT, TABLE_HEAD
from opskit.privacy import mask

DASH = "—"
MAX_ROWS = 1000  # a section shows at most this many rows, and says how many it left out
_LONG_TEXT = 60  # characters: longer text gets a wrapping box of its own
_DETAIL = "padding:1px 0;border:0;text-align:left;vertical-align:top;overflow-wrap:break-word"

_UNITS = {
    "pct": "%",
    "percent": "%",
    "ms": "ms",
    "us": "µs",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "min": "min",
    "h": "h",
    "gib": "GiB",
    "mib": "MiB",
    "kib": "KiB",
    "gb": "GB",
    "mb": "MB",
    "kb": "KB",
    "bytes": "bytes",
    "w": "W",
    "usd": "USD",
    "eur": "EUR",
    "mbps": "MB/s",
    "gbps": "GB/s",
    "psi": "PSI",
}
_WORDS = {
    "gpu": "GPU",
    "gpus": "GPUs",
    "cpu": "CPU",
    "id": "ID",
    "ids": "IDs",
    "uuid": "UUID",
    "sm": "SM",
    "psi": "PSI",
    "slo": "SLO",
    "oom": "OOM",
    "nccl": "NCCL",
    "cuda": "CUDA",
    "url": "URL",
    "uri": "URI",
    "ecc": "ECC",
    "xid": "Xid",
    "sha256": "SHA-256",
    "api": "API",
    "ip": "IP",
    "mlflow": "MLflow",
    "ks": "KS",
    "utc": "UTC",
    "util": "utilization",
    "mem": "memory",
    "avg": "average",
    "std": "std dev",
    "num": "number of",
    "n": "number of",
    "qps": "QPS",
    "rps": "requests/s",
}
_SNAKE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")


def header(name: Any, *, utc: bool = False) -> str:
    """Words for a column name: ``p95_ms`` -> "p95 (ms)", ``gpu_util_pct`` -> "GPU utilization (%)".

    A name that is not snake_case (it already has spaces, dashes or capitals mid-word) is kept as it
    is. ``utc`` adds "(UTC)" unless the name already says UTC.
    """
    text = str(name)
    if not _SNAKE.match(text) or (text != text.lower() and "_" not in text):
        return f"{text} (UTC)" if utc and "utc" not in text.lower() else text
    tokens = text.split("_")
    unit = _UNITS.get(tokens[-1].lower()) if len(tokens) > 1 else None
    if unit:
        tokens = tokens[:-1]
    words = [_WORDS.get(t.lower(), t) for t in tokens]
    if words and words[0] == words[0].lower() and not re.match(r"^p\d", words[0]):
        words[0] = words[0][:1].upper() + words[0][1:]
    out = " ".join(words)
    if utc and "UTC" not in words:
        unit = f"{unit}, UTC" if unit else "UTC"
    return f"{out} ({unit})" if unit else out


def number(value: float | int) -> str:
    """Thousands separators; decimals by size: 1,235 · 412.5 · 11.03 · 0.107 (three significant digits)."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return DASH
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    size = abs(value)
    if value.is_integer() and size < 1e15:
        return f"{int(value):,}"
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:,.1f}".removesuffix(".0")
    if size >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def moment(value: datetime | date) -> str:
    """``2026-11-23 10:15``: to the minute, in UTC when the time knows its zone (the header says UTC)."""
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC")
        return stamp.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def duration(value: timedelta) -> str:
    """``2 d 3 h`` · ``1 h 5 min`` · ``42 s``: the two largest units that are not zero."""
    seconds = pd.Timedelta(value).total_seconds()
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 60:
        return f"{sign}{number(round(seconds, 1))} s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{int(count)} {unit}")
    return sign + " ".join(parts[:2])


def is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    try:
        return isinstance(value, float | np.floating) and math.isnan(value)
    except TypeError:
        return False


def cell_html(value: Any) -> str:
    """One value as escaped HTML: text masked and wrapped, dicts and lists of dicts as small tables."""
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_ | int | float | np.integer | np.floating):
        return number(value)
    if isinstance(value, datetime | date):
        return moment(value)
    if isinstance(value, timedelta):
        return duration(value)
    if isinstance(value, Mapping):
        return details_html(value)
    if isinstance(value, list | tuple | set | np.ndarray):
        items = list(value)
        if items and all(isinstance(i, Mapping) for i in items):
            return frame_html(pd.DataFrame(items), compact=True)
        return ", ".join(cell_html(i) for i in items) or DASH
    text = html.escape(mask(str(value)) or "")
    if len(text) > _LONG_TEXT:
        return f'<div style="min-width:14em;max-width:42em;white-space:pre-wrap;overflow-wrap:anywhere">{text}</div>'
    return text


def details_html(details: Mapping[str, Any]) -> str:
    """A dict as a two-column table of label and value (nested dicts nest), never as its repr."""
    if not details:
        return DASH
    rows = "".join(
        f'<tr><th style="{_DETAIL};font-weight:600;padding-right:8px">{html.escape(header(k))}</th>'
        f'<td style="{_DETAIL}">{cell_html(v)}</td></tr>'
        for k, v in details.items()
    )
    return f'<table class="opskit-details" style="border-collapse:collapse;margin:0">{rows}</table>'


def shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a meaningful index as its first column(s), and a 0..n index dropped."""
    index = frame.index
    named = any(n is not None for n in index.names)
    labelled = not pd.api.types.is_integer_dtype(index.dtype) and len(frame) > 0
    if named or labelled or isinstance(index, pd.MultiIndex):
        names = [n if n is not None else "" for n in index.names]
        out = frame.copy()
        out.index = out.index.set_names(names)
        return out.reset_index(allow_duplicates=True)
    return frame.reset_index(drop=True)


def _is_utc_times(column: pd.Series) -> bool:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return True
    values = column.dropna()
    return bool(len(values)) and all(isinstance(v, datetime) and v.tzinfo is not None for v in values)


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)


def frame_html(frame: pd.DataFrame, *, compact: bool = False, max_rows: int = MAX_ROWS) -> str:
    """``frame`` as one self-contained HTML table in the report's style (see the module's rules)."""
    shown = shown_frame(frame)
    left_out = max(0, len(shown) - max_rows)
    if left_out:
        shown = shown.iloc[:max_rows]
    pad = ";padding:1px 6px" if compact else ""
    heads, aligns = [], []
    for name in shown.columns:
        column = shown[name]
        heads.append(html.escape(header(name, utc=_is_utc_times(column))))
        aligns.append("right" if _is_numeric(column) else "left")
    head = "".join(f'<th style="{TABLE_HEAD};text-align:{a}{pad}">{h}</th>' for h, a in zip(heads, aligns, strict=True))
    body = []
    for row in shown.itertuples(index=False, name=None):
        cells = "".join(
            f'<td style="{TABLE_CELL};text-align:{a}{pad}">{cell_html(v)}</td>'
            for v, a in zip(row, aligns, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    note = (
        f'<div style="color:#444;font-size:12px">The first {max_rows:,} of {len(frame):,} rows.</div>'
        if left_out
        else ""
    )
    size = "font-size:12px" if compact else TABLE_FONT
    table = (
        f'<table class="opskit-table" style="border-collapse:collapse;{size};font-variant-numeric:tabular-nums">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    if compact:
        return table
    return f'<div class="opskit-table-wrap" style="overflow-x:auto;max-width:100%;margin:4px 0">{table}{note}</div>'


class Table(pd.DataFrame):
    """A section's (masked) table: a DataFrame for code and tests, shown in the one table style.

    What is derived from it (a column, a slice, a copy) is a plain DataFrame again.
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def _repr_html_(self) -> str:
        return frame_html(self)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext opskit.runbooks.tables`` (or ``--ext opskit.runbooks.tables``): every DataFrame shown
    in that kernel uses the one table style, not pandas' own HTML."""
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type(pd.DataFrame, frame_html)
