"""Root cause and action items of a review, with the owner team suggested from the root-cause class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

ACTION_TYPES = ("mitigate", "prevent", "process", "detect")
ACTION_COLUMNS = ["summary", "type", "owner", "owner_suggested", "due", "status", "overdue"]
DEFAULT_OWNERS = {
    "data": "algorithm",
    "model": "algorithm",
    "resource": "operations",
    "platform": "operations",
    "hardware": "operations",
    "software": "operations",
    "network": "operations",
}


@dataclass(frozen=True)
class IncidentSettings:
    """Thresholds and defaults of a review: acknowledgement limits per severity (minutes) and the owner
    team per root-cause class."""

    ack_limit_min: Mapping[str, float] = field(default_factory=lambda: {"P1": 5.0, "P2": 30.0})
    owner_by_class: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OWNERS))


@dataclass(frozen=True)
class RootCause:
    """What caused it, its class (data, model, resource, platform, ...), where it was found and its evidence."""

    summary: str
    cause_class: str | None
    found_by: str
    evidence: str | None = None


def root_cause(record: Mapping[str, Any], summaries: list[tuple[str, Mapping[str, Any]]]) -> RootCause | None:
    """incident.yaml ``root_cause`` when a reviewer wrote one, else the triage run's row marked root cause."""
    given = record.get("root_cause") or {}
    triage = [(p, s) for p, s in summaries if s.get("runbook") == "triage_job"]
    found = None
    for path, summary in reversed(triage):
        row = next((c for c in summary.get("checks") or [] if c.get("message") == "root cause"), None)
        if row:
            found = (path, summary, row)
            break
    if isinstance(given, Mapping) and given.get("summary"):
        return RootCause(str(given["summary"]), given.get("class"), "incident.yaml", given.get("evidence"))
    if found is None:
        return None
    path, summary, row = found
    figures = summary.get("figures") or {}
    text = f"{row['name']} ({row.get('subject') or '-'})"
    if row.get("next_step"):
        text += f": {row['next_step']}"
    cause_class = figures.get("root_cause_class") or (given.get("class") if isinstance(given, Mapping) else None)
    return RootCause(text, cause_class, f"triage_job ({path})", row.get("evidence"))


def action_items(
    record: Mapping[str, Any], cause: RootCause | None, settings: IncidentSettings, *, today: date
) -> pd.DataFrame:
    """incident.yaml ``actions`` as a frame; an item without owner gets the team of the root-cause class
    (``owner_suggested`` True). ``overdue``: past its due date and not done."""
    suggested = settings.owner_by_class.get(cause.cause_class) if cause and cause.cause_class else None
    rows = []
    for item in record.get("actions") or []:
        item = item if isinstance(item, Mapping) else {"summary": str(item)}
        owner = item.get("owner") or suggested
        due = pd.to_datetime(item.get("due"), errors="coerce")
        status = str(item.get("status") or "open").lower()
        rows.append(
            {
                "summary": str(item.get("summary") or ""),
                "type": (str(item["type"]).lower() if item.get("type") else None),
                "owner": owner,
                "owner_suggested": not item.get("owner") and owner is not None,
                "due": None if pd.isna(due) else due.date(),
                "status": status,
                "overdue": (not pd.isna(due)) and due.date() < today and status not in ("done", "closed"),
            }
        )
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)
