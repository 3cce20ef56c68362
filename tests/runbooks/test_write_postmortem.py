"""write_postmortem on its sample (P2 latency breach after a rollout, acknowledged late), in en and zh."""

from __future__ import annotations

import pytest

from opskit.runner import run_runbook

RUNBOOK = "write_postmortem"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sample_postmortem(reports, lang):
    run = run_runbook(RUNBOOK, {"incident": "sample:incident", "lang": lang}, reports_dir=reports)
    assert run.summary["error"] is None
    f = run.summary["figures"]
    # by hand from the sample: impact 14:05:00, alert 14:12:30, ack 14:46:30, rollback 15:00, resolved 15:25
    assert (f["time_to_detect_min"], f["time_to_acknowledge_min"]) == (7.5, 34.0)
    assert (f["time_to_mitigate_min"], f["time_to_resolve_min"]) == (55.0, 80.0)
    assert f["root_cause_class"] == "model" and f["root_cause"].startswith("slow_model_version")
    (ack,) = run.checks("acknowledgement")
    assert ack["status"] == "WARN" and ack["observed"] == 34.0 and ack["threshold"] == 30.0
    assert run.checks("events")[0]["subject"] == "events.jsonl:5"
    html = run.html_path.read_text(encoding="utf-8")
    assert "rollback to ranker-2.3.1" in html and "li.wei@example.com" not in html
    assert ("时间线" in html and "根本原因" in html) if lang == "zh" else ("Timeline" in html and "Root cause" in html)
    # the header's figures speak the report's language too: 7.5 minutes from impact to the alert
    detect = "发现用时" if lang == "zh" else "time to detect"
    assert run.summary["headline"][detect] == ("7.5 分钟" if lang == "zh" else "7.5 min")
