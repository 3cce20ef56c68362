"""Judge a log scan for the triage runbook: verdict rows per fault and rank, figures, the next runbook."""

from __future__ import annotations

from typing import Any

from opskit.analyses.faults import Finding, ScanResult
from opskit.checks import Status, Verdict

LOG_CHECK = "log faults"


def _subject(f: Finding) -> str:
    return f"rank {f.rank}" if f.rank is not None else f.file.rsplit("/", 1)[-1]


def _next_step(f: Finding) -> str:
    extra = []
    oom = f.details.get("oom")
    if oom:
        extra.append(f"OOM is {oom['classification']}: {oom['suggestion']}")
    if f.details.get("hint"):
        extra.append(f.details["hint"])
    xid = f.details.get("xid")
    if xid:
        extra.append(f"Xid {xid['code']} ({xid['meaning']}): {xid['action']}")
    return " ".join([f.next_step, *extra])


def finding_verdicts(result: ScanResult) -> list[Verdict]:
    """One verdict per fault class and rank (or file), in ranked order.

    The root cause's group is FAIL with the message ``root cause``; a group of a later tier is WARN
    (a likely consequence of the root cause); another group of the root cause's tier is FAIL (an
    independent fault). No finding at all is one PASS row.
    """
    if result.root_cause is None:
        return [
            Verdict(
                LOG_CHECK,
                Status.PASS,
                subject=f"{result.files_read} file(s)",
                observed=0,
                unit="findings",
                message=f"no known fault signature in {result.lines_read:,} lines",
            )
        ]
    root = result.root_cause
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in result.findings:
        groups.setdefault((f.fault, _subject(f)), []).append(f)
    rows = []
    for (fault, subject), items in groups.items():
        first = items[0]
        is_root = first is root
        status = Status.FAIL if is_root or first.tier <= root.tier else Status.WARN
        if is_root:
            message = "root cause"
        elif status == Status.WARN:
            message = f"likely a consequence of {root.fault} on {_subject(root)}"
        else:
            message = "another fault of the same kind of cause"
        rows.append(
            Verdict(
                fault,
                status,
                subject=subject,
                observed=len(items),
                unit="lines",
                evidence=f"{first.file}:{first.line}: {first.text[:400]}",
                next_step=_next_step(first),
                message=message,
            )
        )
    return rows


def next_runbook(result: ScanResult | None) -> str | None:
    """The runbook to open after triage: the root cause's, from the catalogue."""
    if result is None or result.root_cause is None:
        return None
    return result.root_cause.runbook


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
