"""Key moments of an incident (impact start, detection, acknowledgement, mitigation, resolution) and the
times derived from them: time to detect, to acknowledge, to mitigate, to resolve."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opskit.sources.incidents import MARKS, parse_utc


@dataclass(frozen=True)
class KeyMoments:
    """One row per moment: ``moment``, ``timestamp`` (UTC or NaT), ``basis`` (where it came from), ``summary``."""

    frame: pd.DataFrame

    def at(self, moment: str) -> pd.Timestamp | None:
        row = self.frame[self.frame["moment"] == moment]
        ts = row["timestamp"].iloc[0] if len(row) else None
        return None if ts is None or pd.isna(ts) else ts


def key_moments(events: pd.DataFrame, times: Mapping[str, Any] | None = None, *, timezone: str = "UTC") -> KeyMoments:
    """Each moment from, in order: an event marked with it (``mark``), ``times`` in incident.yaml
    (``impact_start``, ``detected``, ...), then the kinds: detection is the first alert, acknowledgement
    the first action after detection, resolution the last alert ``resolved``. What none of these gives
    stays empty: a missing moment is shown as missing, never guessed."""
    times = times or {}
    rows = []
    for moment in MARKS:
        marked = events[events["mark"] == moment] if len(events) else events
        ts, basis, summary = None, None, None
        if len(marked):
            first = marked.iloc[0]
            ts, basis, summary = first["timestamp"], f"event marked {moment}", first["summary"]
        elif times.get(moment):
            ts, basis, summary = parse_utc(times[moment], timezone=timezone), "incident.yaml times", None
        rows.append({"moment": moment, "timestamp": ts, "basis": basis, "summary": summary})
    frame = pd.DataFrame(rows)
    alerts = events[events["kind"] == "alert"] if len(events) else events
    firing = alerts[~alerts["summary"].str.contains(" resolved", na=False)] if len(alerts) else alerts

    def fill(moment: str, candidates: pd.DataFrame, basis: str, last: bool = False) -> None:
        i = frame.index[frame["moment"] == moment][0]
        if pd.isna(frame.at[i, "basis"]) and len(candidates):
            row = candidates.iloc[-1 if last else 0]
            frame.at[i, "timestamp"], frame.at[i, "basis"], frame.at[i, "summary"] = (
                row["timestamp"],
                basis,
                row["summary"],
            )

    fill("detected", firing, "first alert")
    detected = frame.loc[frame["moment"] == "detected", "timestamp"].iloc[0]
    if detected is not None and not pd.isna(detected) and len(events):
        after = events[(events["kind"] == "action") & (events["timestamp"] >= detected)]
        fill("acknowledged", after, "first action after detection")
    if len(alerts):
        fill(
            "resolved", alerts[alerts["summary"].str.contains(" resolved", na=False)], "last alert resolved", last=True
        )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return KeyMoments(frame)


@dataclass(frozen=True)
class DerivedTimes:
    """Minutes between moments (None when a moment is missing). Detection, mitigation and resolution are
    counted from the start of impact; acknowledgement from detection, as pagers count it."""

    time_to_detect_min: float | None
    time_to_acknowledge_min: float | None
    time_to_mitigate_min: float | None
    time_to_resolve_min: float | None

    def as_dict(self) -> dict[str, float | None]:
        return dict(self.__dict__)


def _minutes(a: pd.Timestamp | None, b: pd.Timestamp | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds() / 60.0, 2)


def derive_times(moments: KeyMoments) -> DerivedTimes:
    start, detected = moments.at("impact_start"), moments.at("detected")
    return DerivedTimes(
        time_to_detect_min=_minutes(start, detected),
        time_to_acknowledge_min=_minutes(detected, moments.at("acknowledged")),
        time_to_mitigate_min=_minutes(start, moments.at("mitigated")),
        time_to_resolve_min=_minutes(start, moments.at("resolved")),
    )


def impact_figures(
    record: Mapping[str, Any], moments: KeyMoments, summaries: list[Mapping[str, Any]]
) -> dict[str, Any]:
    """Impact where the evidence holds it: duration (impact start to resolution), requests and jobs
    affected and GPU-hours lost from incident.yaml ``impact``, SLO minutes breached from a latency run."""
    given = record.get("impact") or {}
    breach = next(
        (
            (s.get("figures") or {}).get("breach_minutes")
            for s in summaries
            if (s.get("figures") or {}).get("breach_minutes") is not None
        ),
        None,
    )
    return {
        "duration_min": _minutes(moments.at("impact_start"), moments.at("resolved")),
        "requests_affected": given.get("requests_affected"),
        "jobs_affected": given.get("jobs_affected"),
        "slo_minutes_breached": given.get("slo_minutes_breached", breach),
        "gpu_hours_lost": given.get("gpu_hours_lost"),
    }
