"""Compose the data checks: files, manifest, schema and columns, rows; one :class:`DataCheckResult`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from opskit.analyses.data.columns import ColumnCheck, check_column, infer_schema, pii_kinds
from opskit.analyses.data.integrity import integrity_verdicts
from opskit.analyses.data.quality import column_verdicts, schema_verdicts
from opskit.analyses.data.rows import duplicate_verdicts, label_verdicts
from opskit.analyses.data.settings import DataCheckSettings
from opskit.analyses.data.structure import secret_findings, secret_verdicts, size_verdicts, structure_verdicts
from opskit.checks import Status, Verdict
from opskit.sources.dataset_files import FILE_COLUMN, LINE_COLUMN, FileScan
from opskit.sources.dataset_manifest import ManifestComparison
from opskit.sources.dataset_schema import ExpectedSchema


@dataclass(frozen=True)
class DataCheckResult:
    """What the data checks found: the file scans, one :class:`ColumnCheck` per column, and the verdict rows."""

    scans: tuple[FileScan, ...]
    columns: tuple[ColumnCheck, ...]
    verdicts: tuple[Verdict, ...]
    frame: pd.DataFrame
    reference: pd.DataFrame | None
    schema: ExpectedSchema | None
    settings: DataCheckSettings

    @property
    def rows(self) -> int:
        return sum(s.rows or 0 for s in self.scans if s.is_table)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.scans)


def combined_frame(scans: Sequence[FileScan]) -> pd.DataFrame:
    """The records of every table file, one frame (``_file`` and ``_line`` say where each came from)."""
    frames = [s.frame for s in scans if s.frame is not None and len(s.frame)]
    if not frames:
        return pd.DataFrame(columns=[FILE_COLUMN, LINE_COLUMN])
    frame = pd.concat(frames, ignore_index=True, sort=False)
    return frame


def _rows_with(frame: pd.DataFrame, scans: Sequence[FileScan], column: str) -> pd.DataFrame:
    """The rows of the files that have ``column``: a file without it does not make it missing."""
    files = [s.path for s in scans if column in s.columns]
    if len(files) == sum(1 for s in scans if s.frame is not None and len(s.frame)):
        return frame
    return frame[frame[FILE_COLUMN].isin(files)]


def _reference_pii(reference: pd.DataFrame | None, settings: DataCheckSettings) -> set[str]:
    if reference is None:
        return set()
    return {
        c
        for c in reference.columns
        if c not in (FILE_COLUMN, LINE_COLUMN) and pii_kinds(reference[c], settings.pii_scan_values)
    }


def _complete_verdict(scans: Sequence[FileScan], frame: pd.DataFrame) -> list[Verdict]:
    partial = [s.path for s in scans if not s.kept_all]
    if not partial:
        return []
    return [
        Verdict(
            "rows checked",
            Status.WARN,
            subject=", ".join(partial[:3]) + (" ..." if len(partial) > 3 else ""),
            observed=len(frame),
            unit="rows",
            message=f"the column checks read the first {len(frame):,} rows; the structure checks read every line",
            next_step="raise max_rows to check every row, or check the dataset's Parquet shards one by one",
        )
    ]


def check_data(
    root: Path,
    scans: Sequence[FileScan],
    settings: DataCheckSettings,
    *,
    schema: ExpectedSchema | None = None,
    reference: Sequence[FileScan] | None = None,
    comparison: ManifestComparison | None = None,
    manifest_name: str | None = None,
) -> DataCheckResult:
    """Every data check on the scanned files; the schema is inferred from the reference when none is given."""
    frame = combined_frame(scans)
    ref_frame = combined_frame(reference) if reference else None
    if schema is None and ref_frame is not None and len(ref_frame.columns) > 2:
        schema = infer_schema(ref_frame, _reference_pii(ref_frame, settings))
    rows: list[Verdict] = [
        *integrity_verdicts(comparison, manifest_name),
        *structure_verdicts(scans, settings),
        *size_verdicts(scans, settings),
        *secret_verdicts(secret_findings(Path(root), scans), scans),
        *schema_verdicts(scans, schema),
    ]
    data_columns = [c for c in frame.columns if c not in (FILE_COLUMN, LINE_COLUMN)]
    checks: tuple[ColumnCheck, ...] = ()
    if data_columns:
        checks = tuple(
            check_column(_rows_with(frame, scans, c), c, schema.field(c) if schema else None, ref_frame, settings)
            for c in data_columns
        )
        rows += column_verdicts(checks, settings, with_reference=ref_frame is not None)
        key = settings.key_columns or (schema.primary_key if schema else ())
        rows += duplicate_verdicts(frame, key, settings)
        rows += label_verdicts(frame, ref_frame, settings)
        rows += _complete_verdict(scans, frame)
    elif any(s.is_table for s in scans):
        rows.append(Verdict("columns", Status.FAIL, message="no table file has a readable row: nothing to check"))
    return DataCheckResult(tuple(scans), checks, tuple(rows), frame, ref_frame, schema, settings)


def column_table(result: DataCheckResult) -> pd.DataFrame:
    """One row per column: type, expected type, missing against the reference, distinct, range, outliers, PII."""
    records = []
    for c in result.columns:
        records.append(
            {
                "column": c.column,
                "type": c.dtype,
                "expected": c.expected,
                "missing %": round(100 * c.missing_share, 1),
                "reference missing %": None
                if c.reference_missing_share is None
                else round(100 * c.reference_missing_share, 1),
                "distinct": c.distinct,
                "type mismatches": c.type_mismatches,
                "out of range": c.out_of_range,
                "outliers %": None if c.outlier_share is None else round(100 * c.outlier_share, 2),
                "personal data": ", ".join(f"{k} ({n})" for k, n in c.pii),
                "issues": _issues(result, c.column),
            }
        )
    return pd.DataFrame.from_records(records)


COLUMN_CHECKS = ("column type", "missing values", "constant column", "out of range", "outliers", "personal data")


def _issues(result: DataCheckResult, column: str, names: tuple[str, ...] | None = None) -> int:
    """WARN and FAIL rows about ``column`` (of the checks ``names``, default all)."""
    return sum(
        1
        for v in result.verdicts
        if v.subject == column and v.status in (Status.WARN, Status.FAIL) and (names is None or v.name in names)
    )


def worst_columns(result: DataCheckResult, n: int = 4) -> list[str]:
    """Numeric columns with the most WARN/FAIL rows of the column checks (worth a plot), worst first."""
    numeric = [c for c in result.columns if c.dtype in ("integer", "number")]
    ranked = sorted(numeric, key=lambda c: (-_issues(result, c.column, COLUMN_CHECKS), -(c.outlier_share or 0)))
    return [c.column for c in ranked if _issues(result, c.column, COLUMN_CHECKS)][:n]
