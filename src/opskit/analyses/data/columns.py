"""What each column holds, against the expected schema and the reference: one :class:`ColumnCheck` per column.

Types are integer, number, string, boolean, datetime (:func:`dtype_name`). Outliers use the robust
z-score of :class:`~opskit.analyses.data.settings.DataCheckSettings`; examples carry ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from opskit.analyses.data.settings import DataCheckSettings
from opskit.privacy import find_sensitive
from opskit.sources.dataset_files import FILE_COLUMN, LINE_COLUMN
from opskit.sources.dataset_schema import ExpectedField, ExpectedSchema

MAD_SCALE = 1.4826  # MAD of a normal distribution times this is its standard deviation
_NUMERIC = ("integer", "number")


@dataclass(frozen=True)
class ColumnCheck:
    """One column's figures; ``*_examples`` are ``(file:line, value)`` pairs, values as read (mask to show)."""

    column: str
    dtype: str
    expected: str | None
    rows: int
    missing_share: float
    reference_missing_share: float | None
    distinct: int
    constant: bool
    type_mismatches: int = 0
    type_examples: tuple[tuple[str, str], ...] = ()
    out_of_range: int = 0
    range_examples: tuple[tuple[str, str], ...] = ()
    outliers: int | None = None
    outlier_share: float | None = None
    reference_outlier_share: float | None = None
    outlier_examples: tuple[tuple[str, str], ...] = ()
    median: float | None = None
    mad: float | None = None
    pii: tuple[tuple[str, int], ...] = ()  # (kind, values) found where none is expected
    pii_examples: tuple[tuple[str, str], ...] = ()
    pii_scanned: int = 0
    pii_values: int = 0


def dtype_name(series: pd.Series) -> str:
    """The schema type of a column as read: integer, number, boolean, datetime or string."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    present = series.dropna()
    if len(present) and present.map(lambda v: isinstance(v, bool)).all():
        return "boolean"
    return "string"


def infer_schema(reference: pd.DataFrame, pii_columns: set[str]) -> ExpectedSchema:
    """The schema a reference dataset implies: its columns, their types, personal data where it had some."""
    names = [c for c in reference.columns if c not in (FILE_COLUMN, LINE_COLUMN)]
    fields = tuple(ExpectedField(c, dtype_name(reference[c]), pii=c in pii_columns) for c in names)
    return ExpectedSchema(fields, (), source="inferred from the reference")


def _where(frame: pd.DataFrame, index) -> str:
    return f"{frame.at[index, FILE_COLUMN]}:{frame.at[index, LINE_COLUMN]}"


def _examples(frame: pd.DataFrame, column: str, mask: pd.Series, n: int) -> tuple[tuple[str, str], ...]:
    picked = frame.index[mask.fillna(False).to_numpy(bool)][:n]
    return tuple((_where(frame, i), str(frame.at[i, column])) for i in picked)


def _fits(values: pd.Series, expected: str) -> pd.Series:
    """True where a present value can be read as the expected type."""
    if expected in _NUMERIC:
        numbers = pd.to_numeric(values.astype(object), errors="coerce")
        ok = numbers.notna()
        return ok & (numbers == numbers.round()) if expected == "integer" else ok
    if expected == "boolean":
        return values.map(lambda v: isinstance(v, bool | np.bool_) or str(v).lower() in ("true", "false", "0", "1"))
    if expected == "datetime":
        return pd.to_datetime(values.astype(object), errors="coerce", utc=True, format="mixed").notna()
    return pd.Series(True, index=values.index)


def robust_outliers(values: pd.Series, median: float, mad: float, z: float) -> pd.Series:
    """True where ``|x - median| / (1.4826 * MAD)`` is over ``z``."""
    return (values - median).abs() / (MAD_SCALE * mad) > z


def check_column(
    frame: pd.DataFrame,
    column: str,
    expected: ExpectedField | None,
    reference: pd.DataFrame | None,
    settings: DataCheckSettings,
) -> ColumnCheck:
    """The figures of one column of ``frame`` (all files together)."""
    values = frame[column]
    present = values.dropna()
    n = settings.examples
    ref = reference[column] if reference is not None and column in reference else None
    kind = dtype_name(values)
    figures: dict = {}
    if (
        expected is not None
        and len(present)
        and expected.type != kind
        and not (expected.type == "number" and kind == "integer")
    ):
        bad = values.notna() & ~_fits(values, expected.type)
        figures.update(type_mismatches=int(bad.sum()), type_examples=_examples(frame, column, bad, n))
    numbers = pd.to_numeric(values.astype(object), errors="coerce") if kind in _NUMERIC else None
    if expected is not None:
        outside = pd.Series(False, index=frame.index)
        if numbers is not None and expected.minimum is not None:
            outside |= numbers < expected.minimum
        if numbers is not None and expected.maximum is not None:
            outside |= numbers > expected.maximum
        if expected.enum is not None:
            allowed = {str(v) for v in expected.enum}
            outside |= values.notna() & ~values.astype(str).isin(allowed)
        figures.update(out_of_range=int(outside.sum()), range_examples=_examples(frame, column, outside, n))
    if numbers is not None and kind != "boolean":
        figures.update(_outliers(frame, column, numbers, ref, settings))
    figures.update(_pii(frame, column, values, expected, ref, settings))
    return ColumnCheck(
        column=column,
        dtype=kind,
        expected=expected.type if expected is not None else None,
        rows=len(values),
        missing_share=float(values.isna().mean()) if len(values) else 0.0,
        reference_missing_share=float(ref.isna().mean()) if ref is not None and len(ref) else None,
        distinct=int(present.nunique()),
        constant=bool(present.nunique() == 1 and len(present) > 1 and (ref is None or ref.dropna().nunique() > 1)),
        **figures,
    )


def _outliers(frame, column, numbers: pd.Series, ref: pd.Series | None, settings: DataCheckSettings) -> dict:
    base = pd.to_numeric(ref.astype(object), errors="coerce").dropna() if ref is not None else numbers.dropna()
    if len(base) < 10:
        return {}
    median = float(base.median())
    mad = float((base - median).abs().median())
    if mad == 0:
        return {"median": median, "mad": 0.0}  # a column of mostly one value: the rule does not apply
    flagged = robust_outliers(numbers, median, mad, settings.outlier_z)
    present = max(int(numbers.notna().sum()), 1)
    ref_share = float(robust_outliers(base, median, mad, settings.outlier_z).mean()) if ref is not None else None
    return {
        "outliers": int(flagged.sum()),
        "outlier_share": float(flagged.sum() / present),
        "reference_outlier_share": ref_share,
        "outlier_examples": _examples(frame, column, flagged, settings.examples),
        "median": median,
        "mad": mad,
    }


def pii_kinds(values: pd.Series, limit: int) -> dict[str, list]:
    """Kind -> indexes of the (first ``limit`` distinct) text values holding it."""
    found: dict[str, list] = {}
    texts = values.dropna()
    texts = texts[texts.map(lambda v: isinstance(v, str))]
    seen: dict[str, list[str]] = {}
    for index, text in texts.items():
        if text not in seen:
            if len(seen) >= limit:
                break
            seen[text] = find_sensitive(text)
        for kind in seen[text]:
            found.setdefault(kind, []).append(index)
    return found


def _pii(frame, column, values, expected: ExpectedField | None, ref: pd.Series | None, settings) -> dict:
    if expected is not None and expected.pii:
        return {}
    text_values = int(values.map(lambda v: isinstance(v, str)).sum())
    if not text_values:
        return {}
    found = pii_kinds(values, settings.pii_scan_values)
    allowed = set(pii_kinds(ref, settings.pii_scan_values)) if ref is not None else set()
    found = {k: v for k, v in found.items() if k not in allowed}
    scanned = min(text_values, settings.pii_scan_values)
    if not found:
        return {"pii_scanned": scanned, "pii_values": text_values}
    first = sorted({i for ix in found.values() for i in ix})[: settings.examples]
    return {
        "pii": tuple(sorted((k, len(v)) for k, v in found.items())),
        "pii_examples": tuple((_where(frame, i), str(frame.at[i, column])) for i in first),
        "pii_scanned": scanned,
        "pii_values": text_values,
    }
