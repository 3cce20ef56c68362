"""Verdict rows of a review: acknowledgement against the severity's limit, completeness, evidence checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from opskit.analyses.incidents.moments import DerivedTimes, KeyMoments
from opskit.analyses.incidents.review import ACTION_TYPES, IncidentSettings, RootCause
from opskit.checks import Status, Verdict


def acknowledgement_verdict(severity: str | None, times: DerivedTimes, settings: IncidentSettings) -> Verdict:
    """P1 acknowledged later than 5 minutes after detection, or P2 later than 30, is a WARN row with the figures."""
    limit = settings.ack_limit_min.get(str(severity)) if severity else None
    name, ack = "acknowledgement", times.time_to_acknowledge_min
    if limit is None:
        return Verdict(name, Status.SKIP, subject=severity, message=f"no acknowledgement limit for severity {severity}")
    if ack is None:
        return Verdict(
            name,
            Status.WARN,
            subject=severity,
            threshold=limit,
            unit="min",
            message="no acknowledgement time",
            next_step="add an event marked acknowledged (opskit incident add-event)",
        )
    late = ack > limit
    return Verdict(
        name,
        Status.WARN if late else Status.PASS,
        subject=severity,
        observed=ack,
        threshold=limit,
        unit="min",
        message=f"{severity} acknowledged {ack:g} min after detection (limit {limit:g} min)",
        next_step="review the paging path in the action items" if late else None,
    )


def completeness_verdicts(moments: KeyMoments, cause: RootCause | None, actions: pd.DataFrame) -> list[Verdict]:
    """A review is complete with a root cause, a detection time and action items with type and owner."""
    rows = [
        Verdict(
            "root cause",
            Status.PASS if cause else Status.FAIL,
            subject=cause.cause_class if cause else None,
            evidence=cause.found_by if cause else None,
            message=cause.summary if cause else "no root cause",
            next_step=None
            if cause
            else "run triage_job for the incident (opskit run triage_job --incident ID)"
            " or write root_cause in incident.yaml",
        ),
    ]
    detected = moments.at("detected")
    rows.append(
        Verdict(
            "detection time",
            Status.PASS if detected is not None else Status.FAIL,
            observed=detected.isoformat() if detected is not None else None,
            message=None if detected is not None else "no detection time",
            next_step=None if detected is not None else "import the alert or add an event marked detected",
        )
    )
    if not len(actions):
        rows.append(
            Verdict(
                "action items",
                Status.WARN,
                observed=0,
                message="no action items",
                next_step="add actions to incident.yaml: summary, type, owner, due",
            )
        )
    for item in actions.itertuples():
        missing = [n for n, bad in (("type", item.type not in ACTION_TYPES), ("owner", not item.owner)) if bad]
        if missing:
            rows.append(
                Verdict(
                    "action item",
                    Status.FAIL,
                    subject=item.summary[:60],
                    observed=item.type,
                    message="missing " + " and ".join(missing),
                    next_step=f"give it a type ({', '.join(ACTION_TYPES)}) and an owner team",
                )
            )
        if item.overdue:
            rows.append(
                Verdict(
                    "action item due",
                    Status.WARN,
                    subject=item.summary[:60],
                    observed=str(item.due),
                    message=f"past its due date, status {item.status}",
                    next_step=f"ask {item.owner} for a new date",
                )
            )
    return rows


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def evidence_verdicts(sums: pd.DataFrame) -> list[Verdict]:
    """Each evidence file against the SHA-256 recorded when it was kept: changed or missing is FAIL."""
    if not len(sums):
        return [
            Verdict(
                "evidence checksums",
                Status.SKIP,
                message="no evidence kept",
                next_step="opskit incident add-evidence ID FILE, or diagnose --keep into evidence/",
            )
        ]
    bad = []
    for row in sums.itertuples():
        path = Path(row.file)
        if not path.is_file():
            bad.append(
                Verdict(
                    "evidence checksums",
                    Status.FAIL,
                    subject=path.name,
                    evidence=f"{row.manifest}:{row.line}",
                    message="evidence file missing",
                    next_step="restore it from the original",
                )
            )
        elif sha256_of(path) != row.expected_sha256:
            bad.append(
                Verdict(
                    "evidence checksums",
                    Status.FAIL,
                    subject=path.name,
                    evidence=f"{row.manifest}:{row.line}",
                    message="checksum no longer matches: the file changed after it was kept",
                    next_step="restore the original or keep the new file as new evidence",
                )
            )
    return bad or [Verdict("evidence checksums", Status.PASS, observed=len(sums), unit="files", message="all match")]
