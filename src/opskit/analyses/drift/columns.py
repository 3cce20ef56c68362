"""Column types for drift: how each column is compared, inferred from its values or set by the user.

:func:`infer_column_type` decides numeric, categorical, boolean or datetime;
:func:`numeric_values` reads a column as numbers and names the first value that is not one;
:func:`time_days` reads a time column (dates, timestamps, ISO text) as days since 1970-01-01 UTC.

**Dates and times are compared as time**: on their position in days since 1970-01-01 (UTC; a
time without a zone is read as UTC), binned and tested like a numeric feature (quantile bins, or one
bin per day when there are at most 20 distinct values), never as categories. A column that moves
with the calendar (an event time) drifts by design: pass it as ``timestamp`` or ``exclude`` it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum

import numpy as np
import pandas as pd
import pyarrow as pa

from opskit.errors import InputError


class ColumnType(StrEnum):
    """How a column is compared: numeric bins, categorical buckets, or time (bins of days since the epoch)."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


_NUMERIC_TEXT_SHARE = 0.9  # text columns whose values mostly parse as numbers are numeric


def infer_column_type(series: pd.Series) -> ColumnType:
    """Numeric, categorical, boolean or datetime, from the dtype and, for text, from the values.

    Text where at least 90 % of the values parse as numbers is numeric (the rest are then reported
    as bad values); text that parses as ISO dates, and date or datetime objects (Arrow ``date32``/
    ``date64`` read into pandas), are datetime; other text is categorical.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnType.BOOLEAN
    if is_time_dtype(dtype):
        return ColumnType.DATETIME
    if pd.api.types.is_numeric_dtype(dtype):
        return ColumnType.NUMERIC
    values = series.dropna()
    if values.empty:
        return ColumnType.CATEGORICAL
    sample = values.iloc[:2000]
    if sample.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return ColumnType.BOOLEAN
    if sample.map(lambda v: isinstance(v, dt.date | np.datetime64)).all():
        return ColumnType.DATETIME
    if pd.to_numeric(sample, errors="coerce").notna().mean() >= _NUMERIC_TEXT_SHARE:
        return ColumnType.NUMERIC
    if sample.map(lambda v: isinstance(v, str)).all():
        parsed = pd.to_datetime(sample, errors="coerce", format="ISO8601", utc=True)
        if parsed.notna().all():
            return ColumnType.DATETIME
    return ColumnType.CATEGORICAL


def infer_column_types(frame: pd.DataFrame, overrides: Mapping[str, str] | None = None) -> dict[str, ColumnType]:
    """Inferred type of each column, with ``overrides`` (column -> type name) applied.

    An override naming an unknown type is an :class:`InputError` listing the known ones.
    """
    types = {str(c): infer_column_type(frame[c]) for c in frame.columns}
    for name, kind in (overrides or {}).items():
        types[str(name)] = parse_column_type(kind, column=str(name))
    return types


def parse_column_type(kind: str | ColumnType, *, column: str | None = None) -> ColumnType:
    try:
        return ColumnType(str(kind).strip().lower())
    except ValueError:
        raise InputError(
            f"unknown column type {kind!r}",
            column=column,
            hint="use one of: " + ", ".join(t.value for t in ColumnType),
        ) from None


def numeric_values(series: pd.Series, *, column: str, side: str) -> np.ndarray:
    """The column as float64 (missing -> NaN); text that is not a number is an :class:`InputError`."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64").to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if is_time_dtype(series.dtype):
        raise InputError(f"{side} column is datetime, not numeric", column=column, hint=_TYPE_HINT)
    coerced = pd.to_numeric(series, errors="coerce")
    bad = series.notna() & coerced.isna()
    if bad.any():
        positions = np.flatnonzero(bad.to_numpy())
        example = series.iloc[positions[0]]
        raise InputError(
            f"{len(positions)} value(s) in the {side} are not numbers, e.g. {str(example)[:40]!r} at row "
            f"{positions[0]} (dtype {series.dtype})",
            column=column,
            hint=_TYPE_HINT,
        )
    return coerced.to_numpy(dtype=np.float64, na_value=np.nan)


_TYPE_HINT = "clean the column, or set its type with the column_types parameter (e.g. categorical)"


def is_time_dtype(dtype) -> bool:
    """datetime64 (any unit, with or without zone) or an Arrow date/timestamp dtype."""
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return True
    arrow = getattr(dtype, "pyarrow_dtype", None)
    return arrow is not None and (pa.types.is_date(arrow) or pa.types.is_timestamp(arrow))


_DAY_NS = 86_400 * 10**9
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400 * 10**6, "ns": _DAY_NS}


def arrow_time_days(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Days since 1970-01-01 UTC of an Arrow date or timestamp column (nulls NaN); None for other types."""
    t = column.type
    if pa.types.is_date32(column.type):
        raw, per_day = column.cast(pa.int32()), 1
    elif pa.types.is_date64(t):
        raw, per_day = column.cast(pa.int64()), 86_400_000
    elif pa.types.is_timestamp(t):  # stored as UTC whatever the zone
        raw, per_day = column.cast(pa.int64()), _PER_DAY[t.unit]
    else:
        return None
    days = raw.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return days / per_day if per_day != 1 else days


def time_days(series: pd.Series, *, column: str, side: str) -> np.ndarray:
    """The column as days since 1970-01-01 UTC (float64, missing -> NaN).

    Accepts datetime64 (naive read as UTC), date/datetime objects and ISO 8601 text; a value that is
    not a time is an :class:`InputError` naming the row.
    """
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        raise InputError(f"{side} column is {series.dtype}, not a date or time", column=column, hint=_TYPE_HINT)
    arrow = getattr(series.dtype, "pyarrow_dtype", None)
    if arrow is not None and (pa.types.is_date(arrow) or pa.types.is_timestamp(arrow)):
        return arrow_time_days(pa.array(series))
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        times = series.dt.tz_convert("UTC") if series.dt.tz is not None else series.dt.tz_localize("UTC")
    else:
        is_text = pd.api.types.infer_dtype(series, skipna=True) in ("string", "mixed")
        try:
            times = pd.to_datetime(series, errors="coerce", utc=True, format="ISO8601" if is_text else None)
        except (TypeError, ValueError):
            times = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
        bad = series.notna() & times.isna()
        if bad.any():
            positions = np.flatnonzero(bad.to_numpy())
            raise InputError(
                f"{len(positions)} value(s) in the {side} are not dates or times, e.g. "
                f"{str(series.iloc[positions[0]])[:40]!r} at row {positions[0]}",
                column=column,
                hint="use ISO 8601 (2026-11-28 or 2026-11-28T10:00:00Z), or set the column's type with column_types",
            )
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((times - epoch) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64, na_value=np.nan)
