"""Seeded incident folders: a latency breach after a model rollout (P2), and an older GPU OOM (P1).

``incidents/sample`` (the ``sample:incident`` scenario's main path), all times UTC on 2026-11-25:

| moment | time | from |
|---|---|---|
| rollout of ``ranker-2.4.0`` (trigger) | 14:00:00 | deploy event |
| start of impact | 14:05:00 | log event marked ``impact_start``, written as 22:05 +08:00 |
| detection | 14:12:30 | the first alert (``RankerLatencyP95High``, P2) |
| acknowledgement | 14:46:30 | action marked ``acknowledged``: 34 min after detection, over P2's 30 |
| mitigation | 15:00:00 | rollback to ``ranker-2.3.1``, marked ``mitigated`` |
| resolution | 15:25:00 | the alert resolved |

Also: one duplicated alert line, one line with an unreadable timestamp, an author's e-mail (masked in
the report), the summaries of a ``diagnose_latency`` and a ``triage_job`` run in ``reports/``, and a
``diagnose --keep`` style evidence bundle with ``SHA256SUMS``. ``incidents/INC-2026-0904-oom`` is an
older P1 with an action item past its due date.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from opskit.samples import scenario

SAMPLE_ID = "sample"
OLDER_ID = "INC-2026-0904-oom"
LOG_LINE = "2026-11-25 14:05:02,114 WARNING ranker-2.4.0 batch latency 812 ms > SLO 500 ms (gpu_ms 640)\n"

_EVENTS = [
    {
        "timestamp": "2026-11-25T14:00:00Z",
        "source": "argo",
        "kind": "deploy",
        "summary": "ranker-2.4.0 rollout started (10 % canary)",
        "author": "deploy-bot",
    },
    {
        "timestamp": "2026-11-25T22:05:00+08:00",
        "source": "server.log",
        "kind": "log",
        "summary": "first requests over the 500 ms SLO on /v1/rank",
        "mark": "impact_start",
    },
    {
        "timestamp": "2026-11-25T14:12:30Z",
        "source": "alertmanager",
        "kind": "alert",
        "summary": "RankerLatencyP95High [P2] firing: p95 of /v1/rank over 500 ms for 5 minutes",
    },
    {
        "timestamp": "2026-11-25T14:12:30Z",
        "source": "alertmanager",
        "kind": "alert",
        "summary": "RankerLatencyP95High [P2]  firing: p95 of /v1/rank over 500 ms for 5 minutes",
    },
    {"timestamp": "yesterday at noon", "source": "chat", "kind": "note", "summary": "pasted without a time"},
    {
        "timestamp": "2026-11-25T14:46:30Z",
        "source": "pager",
        "kind": "action",
        "summary": "on-call acknowledged the page",
        "author": "li.wei@example.com",
        "mark": "acknowledged",
    },
    {
        "timestamp": "2026-11-25T14:50:00Z",
        "source": "chat",
        "kind": "note",
        "summary": "p95 rose with ranker-2.4.0's share of traffic; rolling back",
        "author": "li.wei@example.com",
    },
    {
        "timestamp": "2026-11-25T15:00:00Z",
        "source": "argo",
        "kind": "deploy",
        "summary": "rollback to ranker-2.3.1",
        "author": "deploy-bot",
        "mark": "mitigated",
    },
    {
        "timestamp": "2026-11-25T15:25:00Z",
        "source": "alertmanager",
        "kind": "alert",
        "summary": "RankerLatencyP95High [P2] resolved",
    },
]


def _summary(runbook: str, started: str, status: str, checks: list[dict], figures: dict) -> dict:
    return {
        "runbook": runbook,
        "status": status,
        "opskit_version": "sample",
        "started_at": started,
        "finished_at": started,
        "duration_s": 4.0,
        "parameters": {},
        "checks": checks,
        "figures": figures,
        "error": None,
    }


def _write_sample(folder: Path) -> None:
    folder.mkdir(parents=True)
    record = {
        "title": "Ranking latency over the SLO after the ranker-2.4.0 rollout",
        "severity": "P2",
        "status": "resolved",
        "owners": {"incident_commander": "operations on-call", "scribe": "algorithm team"},
        "timezone": "UTC",
        "impact": {"requests_affected": 18400},
        "actions": [
            {
                "summary": "Gate model rollouts on the canary's p95 latency",
                "type": "prevent",
                "due": "2027-01-15",
                "status": "open",
            },
            {
                "summary": "Page the on-call phone directly for P2 latency alerts",
                "type": "detect",
                "owner": "operations",
                "due": "2027-01-08",
                "status": "open",
            },
            {
                "summary": "Rolled back to ranker-2.3.1",
                "type": "mitigate",
                "owner": "operations",
                "due": "2026-11-25",
                "status": "done",
            },
        ],
    }
    (folder / "incident.yaml").write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (folder / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in _EVENTS), encoding="utf-8")
    bundle = folder / "evidence" / "diagnose-20261125T143000Z"
    (bundle / "logs").mkdir(parents=True)
    (bundle / "logs" / "server.log").write_text(LOG_LINE, encoding="utf-8")
    digest = hashlib.sha256(LOG_LINE.encode()).hexdigest()
    (bundle / "SHA256SUMS").write_text(f"{digest}  logs/server.log\n", encoding="utf-8")
    (bundle / "manifest.json").write_text(
        json.dumps({"kind": "opskit incident evidence", "files": [{"copy": "logs/server.log", "sha256": digest}]}),
        encoding="utf-8",
    )
    latency = _summary(
        "diagnose_latency",
        "2026-11-25T14:30:00Z",
        "FAIL",
        [
            {
                "name": "latency SLO",
                "subject": "/v1/rank",
                "status": "FAIL",
                "observed": 612.0,
                "threshold": 500,
                "unit": "ms",
                "evidence": None,
                "next_step": "compare model versions",
                "message": "p95 over the SLO",
            }
        ],
        {
            "p95_ms": 612.0,
            "slo_ms": 500,
            "breach_minutes": 62.0,
            "slow_version": "ranker-2.4.0",
            "slow_version_began": "2026-11-25T14:00:00+00:00",
            "top_cause": "model version: ranker-2.4.0",
        },
    )
    triage = _summary(
        "triage_job",
        "2026-11-25T14:35:00Z",
        "FAIL",
        [
            {
                "name": "slow_model_version",
                "subject": "ranker-2.4.0",
                "status": "FAIL",
                "observed": 2.3,
                "threshold": 1.2,
                "unit": "x gpu_ms",
                "evidence": "evidence/diagnose-20261125T143000Z/logs/server.log:1",
                "message": "root cause",
                "next_step": "roll back to ranker-2.3.1 and profile 2.4.0's batch path",
            }
        ],
        {"root_cause": "slow_model_version", "root_cause_class": "model", "next_runbook": "diagnose_latency"},
    )
    for name, summary in (("diagnose_latency", latency), ("triage_job", triage)):
        run = folder / "reports" / name / summary["started_at"].replace("-", "").replace(":", "")
        run.mkdir(parents=True)
        (run / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")


def _write_older(folder: Path) -> None:
    folder.mkdir(parents=True)
    record = {
        "title": "Training job killed by CUDA out of memory on the shared pool",
        "severity": "P1",
        "status": "closed",
        "times": {
            "impact_start": "2026-09-04T02:10:00Z",
            "detected": "2026-09-04T02:18:00Z",
            "acknowledged": "2026-09-04T02:21:00Z",
            "mitigated": "2026-09-04T03:00:00Z",
            "resolved": "2026-09-04T04:10:00Z",
        },
        "root_cause": {"summary": "GPU memory fragmentation under a co-scheduled job", "class": "resource"},
        "actions": [
            {
                "summary": "Set expandable_segments on the shared pool",
                "type": "prevent",
                "due": "2026-09-30",
                "status": "open",
            },
        ],
    }
    (folder / "incident.yaml").write_text(yaml.safe_dump(record, sort_keys=False), encoding="utf-8")
    (folder / "events.jsonl").write_text("", encoding="utf-8")


@scenario("incident", "incident folders: a P2 latency breach after a model rollout (rolled back) and an older P1 OOM")
def write_incidents(folder: Path) -> Path:
    root = folder / "incidents"
    _write_sample(root / SAMPLE_ID)
    _write_older(root / OLDER_ID)
    return root / SAMPLE_ID
