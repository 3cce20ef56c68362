"""The sections of the ``check_dataset`` runbook, from a :class:`DataCheckResult` to the tables a cell shows.

All take a result that exists; the runbook's result says "unavailable" itself when the dataset could
not be read. Tables pass :func:`opskit.runbooks.display.table`, so values shown are masked.
"""

from __future__ import annotations

import pandas as pd

from opskit.analyses.data.analysis import DataCheckResult, column_table
from opskit.analyses.data.structure import PROBLEM_STATUS
from opskit.checks import Status
from opskit.runbooks.display import Markdown, Outputs, table

PROBLEMS_SHOWN = 50


def size_text(size: int) -> str:
    """Bytes in words: 512 B, 3.4 MB, 12.0 GB (decimal units, like file managers and cloud consoles)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} B"


def overview(data: DataCheckResult, dataset: str) -> Markdown:
    """One sentence: files, size, rows and columns read, what they were compared with."""
    tables = [s for s in data.scans if s.is_table]
    against = []
    if data.schema is not None:
        against.append(f"schema: {data.schema.source}")
    if data.reference is not None:
        against.append(f"reference: {len(data.reference):,} rows")
    compared = f" Compared with {', '.join(against)}." if against else ""
    return Markdown(
        f"**{len(data.scans)} files** ({size_text(data.size)}) in `{dataset}`: {len(tables)} tables with "
        f"{data.rows:,} rows and {len(data.columns)} columns; {len(data.frame):,} rows read for the column checks."
        f"{compared}"
    )


def file_table(data: DataCheckResult) -> pd.DataFrame:
    """One row per file: kind, size, encoding, delimiter, rows, problems and the first of them."""
    records = []
    for s in data.scans:
        worst = Status.worst((PROBLEM_STATUS.get(p.kind, Status.FAIL) for p in s.problems), default=Status.PASS)
        records.append(
            {
                "file": s.path,
                "kind": s.kind,
                "size": size_text(s.size),
                "encoding": s.encoding or "",
                "delimiter": {"\t": "tab"}.get(s.delimiter or "", s.delimiter or ""),
                "rows": s.rows,
                "status": worst.value,
                "problems": len(s.problems),
                "first problem": f"{s.problems[0].where}: {s.problems[0].message}" if s.problems else "",
            }
        )
    return pd.DataFrame.from_records(records)


def problem_table(data: DataCheckResult, n: int = PROBLEMS_SHOWN) -> pd.DataFrame:
    """Every file problem with its file, line and column (the first ``n``)."""
    records = [
        {"file": p.path, "line": p.line, "kind": p.kind, "column": p.column or "", "what": p.message}
        for s in data.scans
        for p in s.problems
    ]
    return pd.DataFrame.from_records(records, columns=["file", "line", "kind", "column", "what"]).head(n)


def files(data: DataCheckResult) -> Outputs:
    problems = problem_table(data)
    total = sum(len(s.problems) for s in data.scans)
    note = (
        f"**{total} problems** in the files, by file and line"
        + (f" (the first {PROBLEMS_SHOWN})" if total > PROBLEMS_SHOWN else "")
        + ":"
        if total
        else "No file problem: every file reads to its end."
    )
    return Outputs([table(file_table(data)), Markdown(note), *([table(problems)] if total else [])])


def columns(data: DataCheckResult) -> pd.DataFrame | Markdown:
    return table(column_table(data), empty="No table file with readable rows: no column to show.")
