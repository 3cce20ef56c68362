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


def gap_verdicts(result: ScanResult, name: str = LOG_CHECK) -> list[Verdict]:
    """One WARN per log not read in full (cut ``.gz``, no line ends, binary or unreadable), naming it.

    ``name`` is the check the rows belong to, so a runbook that judges the scan under its own check
    name (``cuda oom``) still shows which inputs its verdict does not cover."""
    return [
        Verdict(
            name,
            Status.WARN,
            subject=s.name,
            message=f"{s.name}: {s.reason}; the verdicts cover only what was read",
            next_step="copy the log again (a .gz cut short is re-fetched whole) and rerun",
        )
        for s in result.skipped
    ]


def finding_verdicts(result: ScanResult) -> list[Verdict]:
    """One verdict per fault class and rank (or file), in ranked order.

    The root cause's group is FAIL with the message ``root cause``; a group of a later tier is WARN
    (a likely consequence of the root cause); another group of the root cause's tier is FAIL (an
    independent fault). No finding at all is one PASS row, or WARN when nothing was read ("nothing to
    judge") or a source was not read in full; each such source adds a WARN row naming it and how much was read.
    """
    gaps = gap_verdicts(result)
    if result.root_cause is None:
        if result.lines_read == 0:
            status, message = Status.WARN, f"nothing to judge: {result.files_read} file(s) with no lines"
        elif gaps:
            status, message = Status.WARN, f"no known fault signature in the {result.lines_read:,} lines read"
        else:
            status, message = Status.PASS, f"no known fault signature in {result.lines_read:,} lines"
        head = Verdict(
            LOG_CHECK,
            status,
            subject=f"{result.files_read} file(s)",
            observed=0,
            unit="findings",
            message=message,
            next_step="pass the job's own log (an empty file or the wrong path judges nothing)"
            if result.lines_read == 0
            else None,
        )
        return [head, *gaps]
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
    return [*rows, *gaps]
