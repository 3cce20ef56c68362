"""Column types for drift: how each column is compared, inferred from its values or set by the user.

:func:`infer_column_type` decides numeric, categorical, boolean or datetime (not compared);
:func:`numeric_values` reads a column as numbers and names the first value that is not one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

import numpy as np
import pandas as pd

from opskit.errors import InputError


class ColumnType(StrEnum):
    """How a column is compared: numeric bins, categorical buckets, or not at all (datetime)."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


_NUMERIC_TEXT_SHARE = 0.9  # text columns whose values mostly parse as numbers are numeric


def infer_column_type(series: pd.Series) -> ColumnType:
    """Numeric, categorical, boolean or datetime, from the dtype and, for text, from the values.

    Text where at least 90 % of the values parse as numbers is numeric (the rest are then reported
    as bad values); text that parses as ISO dates is datetime; other text is categorical.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnType.BOOLEAN
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return ColumnType.DATETIME
    if pd.api.types.is_numeric_dtype(dtype):
        return ColumnType.NUMERIC
    values = series.dropna()
    if values.empty:
        return ColumnType.CATEGORICAL
    sample = values.iloc[:2000]
    if sample.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return ColumnType.BOOLEAN
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
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
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
