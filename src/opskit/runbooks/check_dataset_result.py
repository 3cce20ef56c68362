"""The result of ``check_dataset``: verdicts, key figures, the headline and one method per notebook section."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opskit.analyses.data.analysis import DataCheckResult, worst_columns
from opskit.checks import Status, VerdictTable
from opskit.privacy import mask
from opskit.runbooks import check_dataset_sections as sections
from opskit.runbooks.display import Markdown, Outputs, shown_once, unavailable

_NOT_READ = "the dataset could not be read"


@dataclass(frozen=True)
class CheckDatasetResult:
    """What ``check_dataset`` found. ``data`` is None when the dataset could not be read at all."""

    verdicts: VerdictTable
    data: DataCheckResult | None
    dataset: str

    @property
    def figures(self) -> dict[str, Any]:
        """Key figures for ``summary.json``: files, bytes, rows, columns, problems found ({} when unread)."""
        if self.data is None:
            return {}
        d = self.data
        failing = self.verdicts.by_status(Status.FAIL, Status.WARN)
        return {
            "files": len(d.scans),
            "bytes": d.size,
            "rows": d.rows,
            "columns": len(d.columns),
            "file_problems": sum(len(s.problems) for s in d.scans),
            "files_with_problems": sum(1 for s in d.scans if s.problems),
            "manifest_mismatches": sum(1 for v in self.verdicts.find("manifest") if v.status == Status.FAIL),
            "columns_with_personal_data": [c.column for c in d.columns if c.pii],
            "checks_failed": sorted({v.name for v in failing if v.status == Status.FAIL}),
        }

    @property
    def headline(self) -> dict[str, Any]:
        """The report header: files and rows, what failed, the first failing file and the PII columns."""
        if self.data is None:
            return {}
        d = self.data
        counts = self.verdicts.counts()
        failed = [v for v in self.verdicts if v.status in (Status.ERROR, Status.FAIL)]
        head = {
            "dataset": f"{len(d.scans)} files, {d.rows:,} rows, {sections.size_text(d.size)}",
            "verdict": ", ".join(f"{n} {s}" for s, n in counts.items() if s in ("ERROR", "FAIL", "WARN")) or "all PASS",
        }
        if failed:
            first = failed[0]
            head["first problem"] = mask(f"{first.name}: {first.subject}" if first.subject else first.name)
        broken = [s.path for s in d.scans if any(p.kind not in ("bom", "no_line_end") for p in s.problems)]
        if broken:
            head["broken files"] = mask(", ".join(broken[:3]) + (" ..." if len(broken) > 3 else ""))
        pii = [c.column for c in d.columns if c.pii]
        if pii:
            head["personal data in"] = mask(", ".join(pii[:4]))
        return head

    def overview(self) -> Markdown:
        """One sentence under the verdicts: files, size, rows, columns, what they were compared with."""
        if self.data is None:
            return Markdown("The dataset could not be read: see the ERROR row above.")
        return sections.overview(self.data, self.dataset)

    def files(self) -> Outputs | Markdown:
        """One row per file, then every problem with its file, line and column."""
        if self.data is None:
            return unavailable("The file table", _NOT_READ)
        return sections.files(self.data)

    def columns(self) -> Any:
        """One row per column: type, expected type, missing share against the reference, ranges, outliers, PII."""
        if self.data is None:
            return unavailable("The column table", _NOT_READ)
        return sections.columns(self.data)

    def plot_worst_columns(self, n: int = 4) -> Any:
        """Histograms of the ``n`` numeric columns with the most problems, against the reference."""
        if self.data is None:
            return unavailable("The column plots", _NOT_READ)
        names = worst_columns(self.data, n)
        if not names:
            return Markdown("No numeric column has a problem: nothing to plot.")
        from opskit.plots.data import plot_column_histograms

        return shown_once(plot_column_histograms(self.data, names)[0])
