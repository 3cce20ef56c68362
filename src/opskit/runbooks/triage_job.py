"""Judge a log scan for the triage runbook: verdict rows per fault and rank, figures, the next runbook."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.analyses.faults.findings import Finding, ScanResult
from opskit.analyses.faults.ranking import excerpt
from opskit.analyses.faults.scan import scan
from opskit.analyses.system import system_checks
from opskit.checks import Status, Verdict, VerdictTable, run_checks
from opskit.privacy import mask
from opskit.samples import resolve

LOG_CHECK = "log faults"
# what the system checks of :func:`opskit.analyses.system.system_checks` name their rows
SYSTEM_CHECKS = ("disk space", "host memory", "GPU state", "driver and CUDA", "software versions")
FINDING_COLUMNS = ["fault", "rank", "timestamp", "file", "line", "text"]


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
                unit="line" if len(items) == 1 else "lines",
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


# ----------------------------------------------------------------------------------- the runbook's calls
def triage_checks(
    log_path: str | os.PathLike[str], disk_paths: Iterable[str | os.PathLike[str]] = (".",), *, nvml: Any = None
) -> tuple[VerdictTable, ScanResult | None]:
    """Scan the logs (``sample:NAME`` resolved) and run the system checks, each as one check of
    :func:`opskit.checks.run_checks`: logs that cannot be read are an ERROR row, the system checks still run.

    Returns the verdicts and the scan (None when the logs could not be scanned).
    """
    found: list[ScanResult] = []

    def check_logs() -> list[Verdict]:
        found.append(scan(resolve(log_path)))
        return finding_verdicts(found[0])

    verdicts = run_checks([(LOG_CHECK, check_logs), *system_checks(list(disk_paths), nvml=nvml)])
    return verdicts, (found[0] if found else None)


def system_verdicts(verdicts: VerdictTable) -> VerdictTable:
    """The rows of the system checks (disk, memory, GPU, versions), worst first."""
    return VerdictTable([v for v in verdicts if v.name in SYSTEM_CHECKS])


def scan_headline(result: ScanResult | None) -> str:
    """One Markdown sentence on the scan: why it failed, that it found nothing, or why the findings rank so."""
    if result is None:
        return "The logs could not be scanned: see the ERROR row of the verdict table."
    if not result.findings:
        return f"No known fault signature in {result.files_read} file(s), {result.lines_read:,} lines."
    return f"**Why this order:** {mask(result.ranking_reason)}"


def findings_table(result: ScanResult | None, n: int = 30) -> pd.DataFrame:
    """The first ``n`` findings, root cause first: fault, rank, time, file, line, text (not yet masked)."""
    if result is None or not result.findings:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return result.to_frame()[FINDING_COLUMNS].head(n)


def evidence_text(result: ScanResult | None, *, max_findings: int = 8, context: int = 2) -> str:
    """The masked lines around each finding, one block per fault, rank and file, at most ``max_findings``."""
    if result is None:
        return ""
    blocks: list[str] = []
    shown: set[tuple[str, int | None, str]] = set()
    for f in result.findings:
        if (f.fault, f.rank, f.file) in shown or len(shown) >= max_findings:
            continue
        shown.add((f.fault, f.rank, f.file))
        rank = f" rank {f.rank}" if f.rank is not None else ""
        blocks.append(f"== {f.fault}{rank} — {mask(f.file)}:{f.line}\n{excerpt(f, before=context, after=context)}")
    return "\n\n".join(blocks)


_HIDDEN_DETAILS = ("offset", "timestamp_from")


def root_cause_details(result: ScanResult | None) -> str:
    """Markdown on the root cause: what it means, its structured figures (masked), and the NCCL watchdog."""
    rc = result.root_cause if result is not None else None
    if rc is None:
        return "No root cause to detail."
    lines = [f"**{rc.fault}** ({rc.title}) at `{mask(rc.where)}`: {rc.meaning}", ""]
    details = {k: v for k, v in rc.details.items() if k not in _HIDDEN_DETAILS}
    lines += [f"- {k}: `{mask(str(v)).replace('`', chr(39))}`" for k, v in details.items()]
    if not details:
        lines.append("No structured figures in this message.")
    wd = result.watchdog
    if wd is not None:
        lines += [
            "",
            f"**NCCL watchdog**: collective SeqNum {wd.seq_num} ({wd.op_type}, timeout {wd.timeout_ms} ms) timed out "
            f"on ranks {list(wd.timed_out_ranks)}; ranks that never reported: {list(wd.missing_ranks) or 'none'}; "
            f"ranks behind the others: {list(wd.lagging_ranks) or 'none'}.",
        ]
    return "\n".join(lines)


def next_step_text(result: ScanResult | None, log_path: str | os.PathLike[str]) -> str:
    """Markdown: the runbook to open next with the same logs, or where to look when the logs say nothing."""
    nxt = next_runbook(result)
    if nxt:
        return f"Open **`runbooks/{nxt}.ipynb`**, or run `opskit run {nxt} -p log_path {mask(os.fspath(log_path))}`."
    return (
        "No fault found in the logs: check the scheduler's view (`sacct`, `kubectl describe pod`) "
        "and the node's `dmesg`."
    )


def keep_evidence(
    result: ScanResult | None, log_path: str | os.PathLike[str], keep_dir: str | os.PathLike[str] | None
) -> Path | None:
    """Copy the logs read into ``keep_dir`` with SHA-256 sums and the findings
    (:func:`opskit.sources.logs.preserve_evidence`); returns the manifest, None when nothing is kept."""
    if not keep_dir or result is None:
        return None
    from opskit.sources.logs import discover, preserve_evidence

    return preserve_evidence(
        discover(resolve(log_path))[0],
        keep_dir,
        extra={"findings": [f.to_dict() for f in result.findings], "ranking_reason": result.ranking_reason},
    )
