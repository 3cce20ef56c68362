"""Key moments, derived times, duplicates and the acknowledgement rule, on hand-built events."""

from __future__ import annotations

import pandas as pd

from opskit.analyses.incidents.moments import derive_times, key_moments
from opskit.analyses.incidents.review import IncidentSettings, RootCause, action_items
from opskit.analyses.incidents.timeline import merge_timeline
from opskit.analyses.incidents.verdicts import acknowledgement_verdict, evidence_verdicts
from opskit.sources.incidents import EVENT_COLUMNS


def _events(rows):
    frame = pd.DataFrame([dict(zip(["timestamp", "kind", "summary", "mark"], r, strict=True)) for r in rows])
    frame = frame.reindex(columns=EVENT_COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def test_moments_from_marks_and_kinds_and_times_by_hand():
    events = _events(
        [
            ("2026-11-25 10:00", "log", "slow", "impact_start"),
            ("2026-11-25 10:04", "alert", "X firing", None),
            ("2026-11-25 10:04", "alert", "x  FIRING", None),  # duplicate
            ("2026-11-25 10:40", "action", "ack", None),
            ("2026-11-25 11:00", "deploy", "rollback", "mitigated"),
            ("2026-11-25 11:30", "alert", "X resolved", None),
        ]
    )
    merged = merge_timeline(events)
    assert merged.duplicates == 1
    times = derive_times(key_moments(merged.events))
    # by hand: 10:00 -> 10:04 detect 4; 10:04 -> 10:40 ack 36; 10:00 -> 11:00 mitigate 60; -> 11:30 resolve 90
    assert times.as_dict() == {
        "time_to_detect_min": 4.0,
        "time_to_acknowledge_min": 36.0,
        "time_to_mitigate_min": 60.0,
        "time_to_resolve_min": 90.0,
    }
    p2 = acknowledgement_verdict("P2", times, IncidentSettings())
    p1 = acknowledgement_verdict("P1", times, IncidentSettings())
    assert (p2.status, p2.observed, p2.threshold) == ("WARN", 36.0, 30.0)
    assert (p1.status, p1.threshold) == ("WARN", 5.0)


def test_missing_moments_stay_missing():
    times = derive_times(key_moments(_events([("2026-11-25 10:00", "note", "hello", None)])))
    assert times.time_to_detect_min is None and times.time_to_resolve_min is None
    assert acknowledgement_verdict("P1", times, IncidentSettings()).status == "WARN"


def test_owner_default_from_class_configurable():
    record = {"actions": [{"summary": "fix data", "type": "prevent", "due": "2020-01-01"}, {"summary": "no type"}]}
    cause = RootCause("bad labels", "data", "test")
    frame = action_items(record, cause, IncidentSettings(), today=pd.Timestamp("2026-12-01").date())
    assert list(frame["owner"]) == ["algorithm", "algorithm"] and frame["overdue"].iloc[0]
    custom = IncidentSettings(owner_by_class={"data": "data-eng"})
    assert action_items(record, cause, custom, today=pd.Timestamp("2026-12-01").date())["owner"].iloc[0] == "data-eng"


def test_changed_evidence_fails(tmp_path):
    f = tmp_path / "a.log"
    f.write_text("x")
    sums = pd.DataFrame([{"file": str(f), "expected_sha256": "0" * 64, "manifest": "SHA256SUMS", "line": 1}])
    (row,) = evidence_verdicts(sums)
    assert row.status == "FAIL" and "no longer matches" in row.message
