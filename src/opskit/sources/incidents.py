"""Incident folders as files: ``incident.yaml``, ``events.jsonl``, CSV exports, Alertmanager webhook payloads.

Every reader returns an :class:`EventsRead`: a frame with the event columns (``timestamp`` in UTC,
``source``, ``kind``, ``summary``, ``link``, ``author``, ``mark``, ``file``, ``line``) and the lines it
could not use, each as an :class:`~opskit.errors.InputError` naming the file and line. One bad line
never hides the others. Timestamps without a zone take the incident's ``timezone`` (UTC by default).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.errors import InputError

EVENT_KINDS = ("alert", "deploy", "log", "action", "note")
MARKS = ("impact_start", "detected", "acknowledged", "mitigated", "resolved")
EVENT_COLUMNS = ["timestamp", "source", "kind", "summary", "link", "author", "mark", "file", "line"]
SEVERITIES = ("P1", "P2", "P3")
_NEVER = "0001-01-01"  # Alertmanager's endsAt of an alert still firing


@dataclass(frozen=True)
class EventsRead:
    """Events read from one file, and the lines that could not be used (file and line named)."""

    frame: pd.DataFrame
    problems: tuple[InputError, ...] = ()


def parse_utc(value: Any, *, timezone: str = "UTC") -> pd.Timestamp:
    """``value`` (ISO 8601 text or epoch seconds) as a UTC timestamp; a naive time is in ``timezone``.

    Raises ``ValueError`` for anything that is not a time.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("no timestamp")
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return pd.Timestamp(value, unit="s", tz="UTC")
    ts = pd.Timestamp(str(value).strip())
    if pd.isna(ts):
        raise ValueError(f"not a timestamp: {value!r}")
    return ts.tz_localize(timezone).tz_convert("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def read_incident_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The incident's record (title, severity, status, owners, times, root cause, actions, review) as a dict."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError("incident.yaml not found", path=p, hint="create the folder with: opskit incident new ID")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            path=p,
            line=mark.line + 1 if mark else None,
            hint="fix the YAML (indentation, quotes) and rerun",
        ) from exc
    if not isinstance(data, dict):
        raise InputError("incident.yaml must be a mapping of fields", path=p, hint="see: opskit incident new --help")
    severity = data.get("severity")
    if severity is not None and str(severity) not in SEVERITIES:
        raise InputError(f"unknown severity {severity!r}", path=p, column="severity", hint="use P1, P2 or P3")
    return data


def parse_event(raw: dict[str, Any], *, path: Path, line: int, timezone: str) -> dict[str, Any]:
    """One event checked and normalized (UTC time, known kind and mark); ``ValueError`` says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("an event must be an object with timestamp, kind and summary")
    try:
        ts = parse_utc(raw.get("timestamp"), timezone=timezone)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"unreadable timestamp {raw.get('timestamp')!r} ({exc})") from exc
    kind = str(raw.get("kind") or "").strip().lower()
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown kind {raw.get('kind')!r}: use one of {', '.join(EVENT_KINDS)}")
    mark = str(raw.get("mark") or "").strip().lower() or None
    if mark is not None and mark not in MARKS:
        raise ValueError(f"unknown mark {raw.get('mark')!r}: use one of {', '.join(MARKS)}")
    return {
        "timestamp": ts,
        "source": str(raw.get("source") or "manual"),
        "kind": kind,
        "summary": str(raw.get("summary") or "").strip(),
        "link": str(raw.get("link") or "") or None,
        "author": str(raw.get("author") or "") or None,
        "mark": mark,
        "file": str(path),
        "line": line,
    }


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def read_events_jsonl(path: str | os.PathLike[str], *, timezone: str = "UTC") -> EventsRead:
    """``events.jsonl``: one JSON object per line; blank lines skipped, bad lines reported and left out."""
    p = Path(path)
    if not p.exists():
        return EventsRead(_frame([]))
    rows, problems = [], []
    with p.open(encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                rows.append(parse_event(json.loads(text), path=p, line=number, timezone=timezone))
            except (ValueError, TypeError) as exc:
                problems.append(InputError(str(exc), path=p, line=number, hint="fix or delete this line of the events"))
    return EventsRead(_frame(rows), tuple(problems))


def read_events_csv(
    path: str | os.PathLike[str], *, timezone: str = "UTC", source: str = "csv", kind: str | None = None
) -> EventsRead:
    """A CSV export (chat, ticket or pager history) with a header naming ``timestamp`` (or ``time``/``date``),
    ``summary`` (or ``message``/``text``) and optionally ``kind``, ``source``, ``link``, ``author``, ``mark``.

    ``kind`` sets the kind of rows that have none (a chat export: ``note``).
    """
    p = Path(path)
    aliases = {"time": "timestamp", "date": "timestamp", "message": "summary", "text": "summary", "user": "author"}
    rows, problems = [], []
    with p.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        reader = csv.DictReader(fh)
        header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
        names = {aliases.get(k, k): v for k, v in header.items()}
        if "timestamp" not in names or "summary" not in names:
            raise InputError(
                "the CSV needs a timestamp column and a summary column",
                path=p,
                line=1,
                hint="name them timestamp (or time/date) and summary (or message/text)",
            )
        for record in reader:
            raw = {key: record.get(col) for key, col in names.items()}
            raw.setdefault("source", source)
            raw["source"] = raw.get("source") or source
            raw["kind"] = raw.get("kind") or kind
            try:
                rows.append(parse_event(raw, path=p, line=reader.line_num, timezone=timezone))
            except ValueError as exc:
                problems.append(InputError(str(exc), path=p, line=reader.line_num, hint="fix or delete this row"))
    return EventsRead(_frame(rows), tuple(problems))


def read_alertmanager_payload(path: str | os.PathLike[str]) -> EventsRead:
    """An Alertmanager webhook payload (``{"alerts": [...]}``, version 4): one ``alert`` event per alert
    at ``startsAt``, and one more at ``endsAt`` for each resolved alert. The first firing alert marks
    detection when nothing else does (see the timeline); the ``severity`` label is kept in the summary."""
    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8 (UnicodeDecodeError) or not JSON
        raise InputError(
            f"not a readable JSON payload: {exc}", path=p, hint="save the webhook body as it came"
        ) from exc
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list):
        raise InputError("no 'alerts' list: not an Alertmanager webhook payload", path=p, column="alerts")
    rows, problems = [], []
    for number, alert in enumerate(alerts, start=1):
        labels = alert.get("labels") or {} if isinstance(alert, dict) else {}
        notes = alert.get("annotations") or {} if isinstance(alert, dict) else {}
        name = labels.get("alertname", "alert")
        text = notes.get("summary") or notes.get("description") or ""
        severity = labels.get("severity")
        head = f"{name} [{severity}]" if severity else name
        base = {"source": "alertmanager", "kind": "alert", "link": alert.get("generatorURL") if alert else None}
        try:
            start = {**base, "timestamp": alert.get("startsAt"), "summary": f"{head} firing: {text}".rstrip(": ")}
            rows.append(parse_event(start, path=p, line=number, timezone="UTC"))
            ends = str(alert.get("endsAt") or "")
            if alert.get("status") == "resolved" and ends and not ends.startswith(_NEVER):
                end = {**base, "timestamp": ends, "summary": f"{head} resolved"}
                rows.append(parse_event(end, path=p, line=number, timezone="UTC"))
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(InputError(f"alert {number}: {exc}", path=p, line=number, column="startsAt"))
    return EventsRead(_frame(rows), tuple(problems))


def read_summaries(reports_dir: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any]]]:
    """The ``summary.json`` of every run kept in an incident's ``reports/`` folder, oldest first."""
    found = []
    for path in sorted(Path(reports_dir).rglob("summary.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"unreadable run summary: {exc}", path=path, hint="remove or rerun that report") from exc
        if isinstance(data, dict) and data.get("runbook"):
            found.append((path, data))
    return sorted(found, key=lambda item: str(item[1].get("started_at") or ""))


def read_checksums(evidence_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every ``SHA256SUMS`` under ``evidence/`` (the incident's own, and those of ``diagnose --keep``
    bundles) as rows ``file`` (path), ``expected_sha256``, ``manifest``, ``line``."""
    rows = []
    root = Path(evidence_dir)
    for sums in sorted(root.rglob("SHA256SUMS")) if root.is_dir() else []:
        for number, text in enumerate(sums.read_text(encoding="utf-8").splitlines(), start=1):
            if not text.strip():
                continue
            digest, _, name = text.partition("  ")
            if len(digest) != 64 or not name:
                raise InputError("not a sha256sum line", path=sums, line=number, hint="'<sha256>  <file>'")
            rows.append(
                {
                    "file": str(sums.parent / name),
                    "expected_sha256": digest.lower(),
                    "manifest": str(sums),
                    "line": number,
                }
            )
    return pd.DataFrame(rows, columns=["file", "expected_sha256", "manifest", "line"])
