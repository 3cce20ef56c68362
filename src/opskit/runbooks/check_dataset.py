"""The ``check_dataset`` runbook: :func:`run` checks a dataset's files, integrity and quality in one call.

``run`` takes the notebook's parameters, builds the :class:`DataCheckSettings` once, reads the dataset
(a folder, a file or a ``sample:`` name), its manifest, schema and reference, and returns a
:class:`~opskit.runbooks.check_dataset_result.CheckDatasetResult`. Input that cannot be read is an
ERROR row; the sections then say they are unavailable instead of failing.
"""

from __future__ import annotations

from opskit.analyses.data.analysis import check_data
from opskit.analyses.data.settings import GB, DataCheckSettings
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.errors import OpskitError
from opskit.runbooks.check_dataset_inputs import DatasetInputs, read_inputs
from opskit.runbooks.check_dataset_result import CheckDatasetResult


def run(
    *,
    dataset: str = "sample:dataset",
    manifest: str | None = None,
    schema: str | None = "sample:dataset_schema",
    reference: str | None = "sample:dataset_reference",
    key_columns: list = [],
    label_column: str | None = "label",
    size_limit_gb: float = 10.0,
    max_rows: int = 1000000,
) -> CheckDatasetResult:
    """Check the dataset (the parameters are the notebook's); never raises on bad input."""
    try:
        settings = DataCheckSettings(
            size_limit_bytes=int(size_limit_gb * GB),
            key_columns=tuple(str(c) for c in (key_columns or [])),
            label_column=label_column or None,
        )
        if max_rows < 1:
            raise OpskitError("max_rows must be at least 1")
    except OpskitError as exc:  # a bad parameter is an ERROR row naming it, not a failed notebook
        return CheckDatasetResult(VerdictTable([error_verdict("parameters", exc)]), None, dataset)
    inputs = read_inputs(dataset, manifest, schema, reference, max_rows)
    if inputs.scans is None:
        return CheckDatasetResult(VerdictTable(list(inputs.rows)), None, dataset)
    try:
        data = check_data(
            inputs.root,
            inputs.scans,
            settings,
            schema=inputs.schema,
            reference=inputs.reference,
            comparison=inputs.comparison,
            manifest_name=inputs.manifest_name,
        )
    except Exception as exc:  # a check that raises is an ERROR row; the notebook still renders
        return CheckDatasetResult(VerdictTable([*inputs.rows, error_verdict("data checks", exc)]), None, dataset)
    rows = [*inputs.rows, *_without_repeats(data.verdicts, inputs), *_reference_rows(inputs)]
    return CheckDatasetResult(VerdictTable(rows), data, dataset)


def _without_repeats(rows, inputs: DatasetInputs) -> list[Verdict]:
    """Drop a SKIP row that an input's ERROR row already explains (an unreadable manifest or schema)."""
    failed = {v.name for v in inputs.rows if v.status == Status.ERROR}
    return [v for v in rows if not (v.status == Status.SKIP and v.name in failed)]


def _reference_rows(inputs: DatasetInputs) -> list[Verdict]:
    """A WARN row when the reference itself has broken lines: they were left out of what it says."""
    broken = [p for s in inputs.reference or () for p in s.problems if p.kind not in ("bom", "no_line_end")]
    if not broken:
        return []
    return [
        Verdict(
            "reference",
            Status.WARN,
            subject=broken[0].path,
            observed=len(broken),
            unit="problems",
            evidence="; ".join(f"{p.where} {p.kind}" for p in broken[:5]),
            message="the reference has lines that do not read; they are left out of the comparison",
            next_step="check the reference with this runbook first",
        )
    ]
