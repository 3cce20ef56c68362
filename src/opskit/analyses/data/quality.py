"""Verdicts on the columns: schema, types, missing values, constant columns, ranges, outliers, personal data.

Columns without a problem share one PASS row per check, so the table stays short; each problem is a row
of its own with the column as subject and ``file:line`` examples (values masked).
"""

from __future__ import annotations

from collections.abc import Sequence

from opskit.analyses.data.columns import ColumnCheck
from opskit.analyses.data.settings import DataCheckSettings
from opskit.checks import Status, Verdict
from opskit.privacy import mask
from opskit.sources.dataset_files import FileScan
from opskit.sources.dataset_schema import ExpectedSchema


def _shown(examples: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{where} {mask(value[:60])!r}" for where, value in examples)


def _pass(name: str, count: int, message: str) -> Verdict:
    return Verdict(name, Status.PASS, subject=f"all {count} columns", message=message)


def schema_verdicts(scans: Sequence[FileScan], schema: ExpectedSchema | None) -> list[Verdict]:
    """Per table file whose columns differ from the schema: missing columns FAIL, extra WARN."""
    if schema is None:
        return [Verdict("schema", Status.SKIP, message="no schema and no reference: columns not compared")]
    rows = []
    expected = set(schema.names)
    for scan in scans:
        if not scan.is_table or not scan.columns:
            continue
        missing = [c for c in schema.names if c not in scan.columns]
        extra = [c for c in scan.columns if c not in expected]
        if missing or extra:
            rows.append(
                Verdict(
                    "schema",
                    Status.FAIL if missing else Status.WARN,
                    subject=scan.path,
                    observed=len(missing) + len(extra),
                    threshold=0,
                    unit="columns",
                    evidence=(f"missing: {', '.join(missing)}" if missing else "")
                    + ("; " if missing and extra else "")
                    + (f"extra: {', '.join(extra)}" if extra else ""),
                    message=f"{scan.path}:1 header differs from the schema ({schema.source})",
                    next_step="fix the export, or update the schema if the change is intended",
                )
            )
    if not rows:
        rows.append(
            Verdict("schema", Status.PASS, subject=schema.source, message="every file has the expected columns")
        )
    return rows


def column_verdicts(
    checks: Sequence[ColumnCheck], settings: DataCheckSettings, *, with_reference: bool
) -> list[Verdict]:
    """The per-column rows of every quality check, in the order of the checks."""
    n = len(checks)
    rows: list[Verdict] = []
    for name, judge, ok in (
        ("column type", _type, "every column has the expected type"),
        ("missing values", lambda c: _missing(c, settings, with_reference), "missing shares as expected"),
        ("constant column", _constant, "no column holds one value only"),
        ("out of range", _range, "every value within the schema's ranges"),
        ("outliers", lambda c: _outlier(c, settings), f"no column over {settings.outlier_share:.1%} outliers"),
        ("personal data", _pii, "no personal data or secret in the columns scanned"),
    ):
        found = [v for v in (judge(c) for c in checks) if v is not None]
        rows += found or [_pass(name, n, ok)]
    return rows


def _type(c: ColumnCheck) -> Verdict | None:
    if not c.type_mismatches:
        return None
    return Verdict(
        "column type",
        Status.FAIL,
        subject=c.column,
        observed=c.dtype,
        threshold=c.expected,
        evidence=_shown(c.type_examples),
        message=f"{c.type_mismatches} value(s) of {c.column!r} are not {c.expected}",
        next_step="fix the values named, or the export that wrote them as text",
    )


def _missing(c: ColumnCheck, s: DataCheckSettings, with_reference: bool) -> Verdict | None:
    share, ref = c.missing_share, c.reference_missing_share
    if ref is None:
        if with_reference or share <= s.missing_alone:
            return None
        status, threshold = Status.WARN, s.missing_alone
    else:
        rise = share - ref
        if rise <= s.missing_warn:
            return None
        status, threshold = (Status.FAIL if rise > s.missing_fail else Status.WARN), ref + s.missing_warn
    return Verdict(
        "missing values",
        status,
        subject=c.column,
        observed=round(100 * share, 1),
        threshold=round(100 * threshold, 1),
        unit="%",
        evidence=f"{share:.1%} missing" + (f", reference {ref:.1%}" if ref is not None else ""),
        message=f"{c.column!r} is missing in {share:.1%} of {c.rows:,} rows",
        next_step="find the upstream change that stopped filling it (a renamed source field, a failed join)",
    )


def _constant(c: ColumnCheck) -> Verdict | None:
    if not c.constant:
        return None
    return Verdict(
        "constant column",
        Status.WARN,
        subject=c.column,
        observed=1,
        unit="distinct values",
        message=f"{c.column!r} holds one value in every row: it carries no information",
        next_step="check the export filled it; drop it if it is meant to be constant",
    )


def _range(c: ColumnCheck) -> Verdict | None:
    if not c.out_of_range:
        return None
    return Verdict(
        "out of range",
        Status.FAIL,
        subject=c.column,
        observed=c.out_of_range,
        threshold=0,
        unit="values",
        evidence=_shown(c.range_examples),
        message=f"{c.out_of_range} value(s) of {c.column!r} are outside the schema's range or allowed values",
        next_step="fix or drop the rows named; impossible values point at a unit or parsing error upstream",
    )


def _outlier(c: ColumnCheck, s: DataCheckSettings) -> Verdict | None:
    if not c.outliers or c.outlier_share is None:
        return None
    ref = c.reference_outlier_share
    if c.outlier_share <= s.outlier_share or (ref is not None and c.outlier_share <= 3 * ref):
        return None
    return Verdict(
        "outliers",
        Status.WARN,
        subject=c.column,
        observed=round(100 * c.outlier_share, 2),
        threshold=round(100 * s.outlier_share, 2),
        unit="%",
        evidence=_shown(c.outlier_examples),
        message=f"{c.outliers} value(s) of {c.column!r} have a robust z-score over {s.outlier_z:g} "
        f"(|x - {c.median:g}| / (1.4826 x MAD {c.mad:g}))",
        next_step="check the rows named: a unit change, a sentinel value (-1, 9999) or a real tail",
    )


def _pii(c: ColumnCheck) -> Verdict | None:
    if not c.pii:
        return None
    kinds = ", ".join(f"{k} ({n})" for k, n in c.pii)
    partial = f" (scanned {c.pii_scanned:,} of {c.pii_values:,} values)" if c.pii_scanned < c.pii_values else ""
    return Verdict(
        "personal data",
        Status.FAIL,
        subject=c.column,
        observed=sum(n for _, n in c.pii),
        threshold=0,
        unit="values",
        evidence=_shown(c.pii_examples),
        message=f"{kinds} in {c.column!r}, a column that should hold none{partial}",
        next_step="remove or pseudonymise the values before the data is shared or trained on",
    )
