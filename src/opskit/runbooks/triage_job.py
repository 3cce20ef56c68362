"""The triage runbook: the node first (disk, memory, GPUs, versions), then the root cause in the job's logs.

:func:`run` takes the notebook's parameters and returns a :class:`TriageJobResult`: the verdict
table (one row per fault class and rank, root cause first, then the system checks), the summary's
figures, and one method per section of the notebook. Logs that cannot be read are an ERROR row;
the system checks still run and every section says what is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.analyses.faults.findings import ScanResult
from opskit.analyses.faults.scan import scan
from opskit.analyses.faults.verdicts import LOG_CHECK, finding_verdicts
from opskit.analyses.system import system_checks
from opskit.checks import Verdict, VerdictTable, error_verdict, run_checks
from opskit.privacy import mask
from opskit.runbooks.display import Markdown, Outputs, table, unavailable
from opskit.runbooks.tables import moment
from opskit.runbooks.triage_job_sections import (
    code_block,
    evidence_text,
    findings_table,
    kept_text,
    next_runbook,
    next_step_text,
    root_cause_details,
    scan_headline,
)
from opskit.samples import resolve
from opskit.sources.logs import discover, preserve_evidence

KEEP_CHECK = "evidence kept"
EVIDENCE_CHECK = "evidence excerpts"
_NOT_SCANNED = "the logs could not be scanned"


def triage_figures(result: ScanResult | None) -> dict[str, Any]:
    """Key figures for the triage summary (JSON-ready scalars)."""
    if result is None:
        return {"findings": None, "root_cause": None}
    rc = result.root_cause
    figures: dict[str, Any] = {
        "findings": len(result.findings),
        "files_read": result.files_read,
        "lines_read": result.lines_read,
        "bytes_read": result.bytes_read,
        "root_cause": rc.fault if rc else None,
        "root_cause_file": rc.file if rc else None,
        "root_cause_line": rc.line if rc else None,
        "root_cause_rank": rc.rank if rc else None,
        "root_cause_time": rc.timestamp.isoformat() if rc and rc.timestamp is not None else None,
        "ranking_reason": result.ranking_reason,
        "next_runbook": next_runbook(result),
    }
    if result.watchdog is not None:
        figures["nccl_seq_num"] = result.watchdog.seq_num
        figures["nccl_missing_ranks"] = list(result.watchdog.missing_ranks)
        figures["nccl_lagging_ranks"] = list(result.watchdog.lagging_ranks)
    if rc and rc.details.get("oom"):
        figures["oom_classification"] = rc.details["oom"]["classification"]
    return figures


@dataclass(frozen=True)
class TriageJobResult:
    """The triage of one job: verdicts, the scan (None when the logs could not be read), the evidence.

    ``system`` holds the rows of the system checks (also in ``verdicts``); ``excerpts`` the masked
    lines around each finding; ``kept`` the manifest of the evidence copied into ``keep_dir``.
    """

    verdicts: VerdictTable
    system: VerdictTable
    scan: ScanResult | None
    log_path: str
    excerpts: str = ""
    keep_dir: str | None = None
    kept: Path | None = None

    @property
    def figures(self) -> dict[str, Any]:
        """The summary's key figures: what was read, the root cause, the next runbook, the NCCL watchdog."""
        return triage_figures(self.scan)

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: the root cause, on which rank, where and when, the next runbook."""
        if self.scan is None:
            return {}
        rc = self.scan.root_cause
        if rc is None:
            return {"root cause": "no known fault", "findings": len(self.scan.findings)}
        when = rc.timestamp
        return {
            "root cause": rc.title or rc.fault,
            "rank": rc.rank if rc.rank is not None else "not known",
            "where": mask(f"{Path(rc.file).name}:{rc.line}"),
            "when": "not known" if when is None else moment(when) + (" UTC" if when.tzinfo is not None else ""),
            "next runbook": next_runbook(self.scan) or "none",
        }

    def system_checks(self) -> VerdictTable:
        """The rows of the system checks (disk, host memory, GPU state, versions), worst first."""
        return self.system

    def findings(self, n: int = 30) -> Outputs:
        """Why the findings rank so, then the first ``n`` of them, root cause first (masked)."""
        frame = findings_table(self.scan, n)
        return Outputs([Markdown(scan_headline(self.scan)), table(frame) if len(frame) else None])

    def evidence(self) -> Markdown:
        """The masked lines around each finding, one block per fault, rank and file."""
        if self.scan is None:
            return unavailable("The evidence around each finding", _NOT_SCANNED)
        if not self.excerpts:
            found = self.verdicts.find(EVIDENCE_CHECK)
            if found:
                return unavailable("The evidence around each finding", found[0].message)
            return Markdown("No finding, so no evidence to show.")
        return Markdown(code_block(self.excerpts))

    def root_cause(self) -> Markdown:
        """What the root cause means, its figures (OOM, torchrun, Xid) and the NCCL watchdog's view."""
        if self.scan is None:
            return unavailable("The root cause's details", _NOT_SCANNED)
        return Markdown(root_cause_details(self.scan))

    def kept_evidence(self) -> Markdown:
        """Where the logs and findings were kept, or why they were not."""
        if self.kept is not None:
            return Markdown(kept_text(self.kept))
        if not self.keep_dir:
            return Markdown("No evidence kept: set `keep_dir` to copy the logs read, with SHA-256 sums.")
        failed = self.verdicts.find(KEEP_CHECK)
        return unavailable("The kept evidence", failed[0].message if failed else f"{_NOT_SCANNED}, nothing was copied")

    def what_next(self) -> Outputs:
        """The runbook to open next with the same logs, then where the evidence was kept."""
        if self.scan is None:
            step = unavailable("The runbook to open next", _NOT_SCANNED)
        else:
            step = Markdown(next_step_text(self.scan, self.log_path))
        return Outputs([step, self.kept_evidence()])


# ---------------------------------------------------------------- the stages
def _as_paths(value: Any) -> list[Any]:
    """``disk_paths`` as a list: one path alone is a list of one; what is not a path fails in the check."""
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        return [value]
    return list(value) if isinstance(value, Iterable) else [value]


def judge_logs(log_path: str) -> tuple[ScanResult | None, list[Verdict]]:
    """Scan the logs (``sample:NAME`` resolved) and judge the findings; unreadable logs are one ERROR row."""
    try:
        found = scan(resolve(log_path))
    except Exception as exc:  # a missing path, nothing readable: the system checks still run
        return None, [error_verdict(LOG_CHECK, exc)]
    return found, run_checks([(LOG_CHECK, lambda: finding_verdicts(found))]).rows


def keep_evidence(
    result: ScanResult | None, log_path: str | os.PathLike[str], keep_dir: str | os.PathLike[str] | None
) -> Path | None:
    """Copy the logs read into ``keep_dir`` with SHA-256 sums and the findings
    (:func:`opskit.sources.logs.preserve_evidence`); returns the manifest, None when nothing is kept."""
    if not keep_dir or result is None:
        return None
    return preserve_evidence(
        discover(resolve(log_path))[0],
        keep_dir,
        extra={"findings": [f.to_dict() for f in result.findings], "ranking_reason": result.ranking_reason},
    )


def run(
    *,
    log_path: str = "sample:job_multirank_oom",
    disk_paths: list = ["."],
    keep_dir: str | None = None,
    excerpt_lines: int = 2,
    max_findings: int = 8,
) -> TriageJobResult:
    """Triage a failed job: system checks, the ranked faults in its logs, their evidence; kept if asked."""
    found, log_rows = judge_logs(log_path)
    system = run_checks(system_checks(_as_paths(disk_paths)))
    extra: list[Verdict] = []
    excerpts = ""
    try:
        excerpts = evidence_text(found, max_findings=max_findings, context=excerpt_lines)
    except Exception as exc:  # a bad excerpt setting must not hide the verdicts
        extra.append(error_verdict(EVIDENCE_CHECK, exc))
    kept = None
    try:
        kept = keep_evidence(found, log_path, keep_dir)
    except Exception as exc:  # a folder that already holds evidence, a read-only disk
        extra.append(error_verdict(KEEP_CHECK, exc, subject=str(keep_dir) if keep_dir else None))
    return TriageJobResult(
        verdicts=VerdictTable([*log_rows, *system.rows, *extra]),
        system=system,
        scan=found,
        log_path=str(log_path),
        excerpts=excerpts,
        keep_dir=str(keep_dir) if keep_dir else None,
        kept=kept,
    )
