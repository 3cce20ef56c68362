"""A scan judged: one verdict per fault class and rank, the root cause FAIL, its consequences WARN."""

from __future__ import annotations

from opskit.analyses.faults.findings import Finding, ScanResult
from opskit.checks import Status, Verdict

LOG_CHECK = "log faults"


def finding_subject(f: Finding) -> str:
    """What a finding's verdict is about: its rank, else its file's name."""
    return f"rank {f.rank}" if f.rank is not None else f.file.rsplit("/", 1)[-1]


def finding_next_step(f: Finding) -> str:
    """The catalogue's next step, then what the details add: the OOM's class and remedy, a hint, the Xid's action."""
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
        groups.setdefault((f.fault, finding_subject(f)), []).append(f)
    rows = []
    for (fault, subject), items in groups.items():
        first = items[0]
        is_root = first is root
        status = Status.FAIL if is_root or first.tier <= root.tier else Status.WARN
        if is_root:
            message = "root cause"
        elif status == Status.WARN:
            message = f"likely a consequence of {root.fault} on {finding_subject(root)}"
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
                next_step=finding_next_step(first),
                message=message,
            )
        )
    return rows
