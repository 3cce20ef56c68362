"""Incident readers: time zones to UTC, bad lines reported with file and line, the rest used."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.incidents import read_alertmanager_payload, read_events_csv, read_events_jsonl, read_incident_yaml


def test_jsonl_mixed_zones_to_utc_and_bad_lines_reported(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [
        {"timestamp": "2026-11-25T22:05:00+08:00", "kind": "log", "summary": "a"},
        {"timestamp": "2026-11-25T14:06:00Z", "kind": "alert", "summary": "b"},
        {"timestamp": "not a time", "kind": "note", "summary": "c"},
        {"timestamp": "2026-11-25T14:07:00Z", "kind": "gossip", "summary": "d"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n", encoding="utf-8")
    read = read_events_jsonl(path, timezone="Asia/Shanghai")
    assert list(read.frame["timestamp"]) == [
        pd.Timestamp("2026-11-25 14:05", tz="UTC"),
        pd.Timestamp("2026-11-25 14:06", tz="UTC"),
    ]
    assert [(p.line, p.path) for p in read.problems] == [(3, str(path)), (4, str(path)), (5, str(path))]


def test_naive_times_take_the_incident_timezone(tmp_path):
    path = tmp_path / "chat.csv"
    path.write_text("time,message,user\n2026-11-25 22:05:00,rolling back,wei\nsoon,later,x\n", encoding="utf-8")
    read = read_events_csv(path, timezone="Asia/Shanghai", kind="note")
    assert read.frame["timestamp"].iloc[0] == pd.Timestamp("2026-11-25 14:05", tz="UTC")
    assert read.frame["kind"].iloc[0] == "note" and read.frame["author"].iloc[0] == "wei"
    assert [p.line for p in read.problems] == [3]


def test_alertmanager_payload_firing_and_resolved(tmp_path):
    payload = {
        "version": "4",
        "status": "resolved",
        "alerts": [
            {
                "status": "resolved",
                "labels": {"alertname": "HighLatency", "severity": "P2"},
                "annotations": {"summary": "p95 over 500 ms"},
                "startsAt": "2026-11-25T14:12:30.123Z",
                "endsAt": "2026-11-25T15:25:00Z",
                "generatorURL": "http://prom/graph",
            },
            {
                "status": "firing",
                "labels": {"alertname": "Other"},
                "annotations": {},
                "startsAt": "2026-11-25T14:20:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            },
        ],
    }
    path = tmp_path / "am.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    frame = read_alertmanager_payload(path).frame
    assert list(frame["summary"]) == [
        "HighLatency [P2] firing: p95 over 500 ms",
        "HighLatency [P2] resolved",
        "Other firing",
    ]
    assert frame["timestamp"].iloc[1] == pd.Timestamp("2026-11-25 15:25", tz="UTC")


def test_incident_yaml_bad_severity_and_bad_yaml(tmp_path):
    path = tmp_path / "incident.yaml"
    path.write_text("severity: P9\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_incident_yaml(path)
    assert err.value.column == "severity"
    path.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_incident_yaml(path)
    assert err.value.path == str(path)


REAL = __import__("pathlib").Path(__file__).parents[2] / "fixtures" / "real" / "alertmanager"


def test_real_resolved_payload_fractional_seconds():
    read = read_alertmanager_payload(REAL / "webhook_resolved_k8s.json")
    assert not read.problems
    assert list(read.frame["timestamp"]) == [
        pd.Timestamp("2022-07-29 11:13:27.3", tz="UTC"),
        pd.Timestamp("2022-07-29 11:17:27.3", tz="UTC"),
    ]
    assert read.frame["summary"].iloc[0] == "Deployment [Warning] firing: Kubernetes Deployment Replicas Mismatch"


def test_real_hand_sent_payload_without_ends_at():
    read = read_alertmanager_payload(REAL / "webhook_firing_no_endsat.json")
    assert len(read.frame) == 1 and read.frame["summary"].iloc[0] == "TestAlert [warning] firing: 测试告警"
    assert read.frame["timestamp"].iloc[0] == pd.Timestamp("2025-08-21 10:00", tz="UTC")
