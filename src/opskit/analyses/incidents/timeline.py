"""The incident timeline: events, alerts, deploys and runbook findings merged, in UTC, without duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opskit.sources.incidents import EVENT_COLUMNS, parse_utc


@dataclass(frozen=True)
class Timeline:
    """The merged events, oldest first, and how many duplicates were dropped."""

    events: pd.DataFrame
    duplicates: int


def findings_as_events(summaries: Iterable[tuple[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """One ``finding`` event per runbook run (at its start), plus the times its figures name
    (``slow_version_began`` as a deploy, ``regime_changes``, ``load_spike_began``)."""
    rows = []
    for path, summary in summaries:
        name = summary.get("runbook", "runbook")
        figures = summary.get("figures") or {}
        first = next((c for c in summary.get("checks") or [] if c.get("status") in ("FAIL", "ERROR", "WARN")), None)
        said = (
            f"{first['name']} ({first.get('subject') or '-'}): {first.get('message') or first.get('evidence') or ''}"
            if first
            else "no finding"
        )
        when = summary.get("started_at")
        base = {"source": name, "link": str(path), "author": None, "mark": None, "file": str(path), "line": None}
        if when:
            rows.append(
                {
                    **base,
                    "timestamp": parse_utc(when),
                    "kind": "finding",
                    "summary": f"{name} {summary.get('status')}: {said}".strip(),
                }
            )
        if figures.get("slow_version_began"):
            rows.append(
                {
                    **base,
                    "timestamp": parse_utc(figures["slow_version_began"]),
                    "kind": "deploy",
                    "summary": f"model version {figures.get('slow_version')} began serving (seen by {name})",
                }
            )
        for at in figures.get("regime_changes") or []:
            rows.append(
                {
                    **base,
                    "timestamp": parse_utc(at),
                    "kind": "finding",
                    "summary": f"latency regime change (seen by {name})",
                }
            )
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def merge_timeline(*frames: pd.DataFrame) -> Timeline:
    """All events, oldest first. Two events are duplicates when they share the second, the kind and
    the summary (case and spaces aside): an alert imported twice, a note pasted twice. The first is kept."""
    parts = [f for f in frames if f is not None and len(f)]
    if not parts:
        return Timeline(pd.DataFrame(columns=EVENT_COLUMNS).astype({"timestamp": "datetime64[ns, UTC]"}), 0)
    events = pd.concat(parts, ignore_index=True)
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True)
    key = (
        events["timestamp"].dt.floor("s").astype(str)
        + "|"
        + events["kind"].astype(str)
        + "|"
        + events["summary"].fillna("").str.lower().str.split().str.join(" ")
    )
    keep = ~key.duplicated()
    events = events[keep].sort_values("timestamp", kind="stable").reset_index(drop=True)
    return Timeline(events, int((~keep).sum()))
