"""The incident folder: IDs checked, folders created, events appended, evidence kept with SHA-256 sums."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from opskit.errors import InputError
from opskit.sources import incidents as src

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


def incident_dir(root: str | os.PathLike[str], incident_id: str) -> Path:
    """``root/<ID>``; an ID with path characters (``/``, ``\\``, ``..``) or other odd ones is refused."""
    if not _ID.match(incident_id or "") or ".." in incident_id:
        raise InputError(
            f"incident ID {incident_id!r} is not allowed",
            column="ID",
            hint="use letters, digits, '-', '_' and '.', e.g. INC-2026-1125-latency",
        )
    return Path(root) / incident_id


def new_incident(root: str | os.PathLike[str], incident_id: str, *, title: str = "", severity: str = "P3") -> Path:
    """Create ``root/<ID>/`` with ``incident.yaml``, an empty ``events.jsonl``, ``evidence/`` and ``reports/``."""
    folder = incident_dir(root, incident_id)
    if severity not in src.SEVERITIES:
        raise InputError(f"unknown severity {severity!r}", column="severity", hint="use P1, P2 or P3")
    if folder.exists():
        raise InputError("incident folder already exists", path=folder, hint="choose another ID, or add events to it")
    for sub in ("evidence", "reports"):
        (folder / sub).mkdir(parents=True)
    record = {
        "title": title,
        "severity": severity,
        "status": "open",
        "owners": {},
        "timezone": "UTC",
        "times": {},
        "impact": {},
        "root_cause": {},
        "actions": [],
        "review": {},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / "incident.yaml").write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (folder / "events.jsonl").touch()
    return folder


def _existing(root: str | os.PathLike[str], incident_id: str) -> Path:
    folder = incident_dir(root, incident_id)
    if not folder.is_dir():
        raise InputError("no such incident", path=folder, hint=f"create it with: opskit incident new {incident_id}")
    return folder


def add_event(
    root,
    incident_id: str,
    *,
    summary: str,
    kind: str = "note",
    timestamp: str | None = None,
    source: str = "manual",
    link: str | None = None,
    author: str | None = None,
    mark: str | None = None,
) -> dict[str, Any]:
    """Append one event to ``events.jsonl`` (checked as the reader checks it); return it."""
    folder = _existing(root, incident_id)
    event = {
        "timestamp": timestamp or datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "kind": kind,
        "summary": summary,
        "link": link,
        "author": author,
        "mark": mark,
    }
    try:
        src.parse_event(event, path=folder / "events.jsonl", line=0, timezone="UTC")
    except ValueError as exc:
        raise InputError(str(exc), path=folder / "events.jsonl", hint="see: opskit incident add-event --help") from exc
    with (folder / "events.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False) + "\n")
    return event


def import_events(root, incident_id: str, path: str | os.PathLike[str], *, kind: str | None = None) -> src.EventsRead:
    """Append the events of an Alertmanager payload (``.json``) or a CSV export; bad lines are returned, not added."""
    folder = _existing(root, incident_id)
    read = src.read_alertmanager_payload(path) if str(path).endswith(".json") else src.read_events_csv(path, kind=kind)
    with (folder / "events.jsonl").open("a", encoding="utf-8") as fh:
        for row in read.frame.itertuples():
            event = {
                "timestamp": row.timestamp.isoformat(),
                "source": row.source,
                "kind": row.kind,
                "summary": row.summary,
                "link": row.link,
                "author": row.author,
                "mark": row.mark,
            }
            fh.write(json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False) + "\n")
    return read


def add_evidence(root, incident_id: str, path: str | os.PathLike[str]) -> Path:
    """Copy a file into ``evidence/`` and record its SHA-256 in ``evidence/SHA256SUMS`` (never overwrites)."""
    folder = _existing(root, incident_id) / "evidence"
    source = Path(path)
    target = folder / source.name
    if target.exists():
        raise InputError("evidence with that name is already kept", path=target, hint="rename the file first")
    folder.mkdir(exist_ok=True)
    shutil.copy2(source, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    with (folder / "SHA256SUMS").open("a", encoding="utf-8") as fh:
        fh.write(f"{digest}  {target.name}\n")
    return target


def attach_report(incident_folder: str | os.PathLike[str], report_dir: str | os.PathLike[str]) -> Path:
    """Copy a finished run's report folder into ``reports/<runbook>/<stamp>/`` of the incident."""
    report = Path(report_dir)
    target = Path(incident_folder) / "reports" / report.parent.name / report.name
    if target.exists():
        raise InputError("this report is already attached", path=target)
    shutil.copytree(report, target)
    return target


def evidence_dir_for(root: str | os.PathLike[str], incident_id: str, *, stamp: str | None = None) -> Path:
    """A new folder for ``opskit diagnose --keep`` inside the incident: ``evidence/diagnose-<UTC stamp>``."""
    folder = _existing(root, incident_id) / "evidence"
    stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return folder / f"diagnose-{stamp}"
