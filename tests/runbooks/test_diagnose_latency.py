"""diagnose_latency on its sample week (slow version rollout, load spike), on an access log and on bad input."""

from __future__ import annotations

import pytest

from opskit.runner import run_runbook
from opskit.samples import latency as sample

RUNBOOK = "diagnose_latency"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def sample_run(reports):
    return run_runbook(RUNBOOK, {}, reports_dir=reports)


def _utc(ts) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC"


def test_names_the_slow_version_with_its_rollout_time(sample_run):
    run = sample_run
    assert run.summary["error"] is None
    assert run.exit_code == 1
    (slow,) = run.checks("model version", f"/v1/rank {sample.SLOW_VERSION}")
    assert slow["status"] == "FAIL"
    assert slow["observed"] > slow["threshold"] == 500
    assert f"rolled out {_utc(sample.ROLLOUT_AT)}" in slow["evidence"]
    assert run.checks("model version", f"/v1/rank {sample.OLD_VERSION}")[0]["status"] == "PASS"
    assert run.checks("model version", f"/v1/embed {sample.EMBED_VERSION}")[0]["status"] == "PASS"
    figures = run.summary["figures"]
    assert figures["slow_version"] == sample.SLOW_VERSION
    assert figures["slow_version_began"] == sample.ROLLOUT_AT.isoformat()
    assert figures["top_cause"] == f"slow model version: {sample.SLOW_VERSION}"


def test_names_the_load_spike_with_its_start(sample_run):
    run = sample_run
    (spike,) = run.checks("load spike")
    assert spike["status"] == "FAIL"
    assert spike["subject"] == f"from {_utc(sample.SPIKE_START)}"
    assert spike["observed"] == pytest.approx(sample.SPIKE_FACTOR, rel=0.15)
    assert _utc(sample.SPIKE_END) in spike["evidence"]
    assert run.summary["figures"]["load_spike_began"] == sample.SPIKE_START.isoformat()
    causes = [c["subject"] for c in run.checks("likely cause")]
    assert causes[:2] == [
        f"#1 slow model version: {sample.SLOW_VERSION}",
        f"#2 saturation: load spike {sample.SPIKE_START:%Y-%m-%d %H:%M}",
    ]
    # the minor planted faults are listed after the two that spent the budget
    assert {c.split(": ")[0].split(" ", 1)[1] for c in causes[2:]} == {"pathological inputs", "cold starts"}


def test_regime_changes_line_up_with_the_rollout_and_the_spike(sample_run):
    changes = {c["subject"]: c for c in sample_run.checks("latency regime change")}
    rollout = changes[_utc(sample.ROLLOUT_AT)]
    assert rollout["status"] == "WARN" and f"rollout of {sample.SLOW_VERSION}" in rollout["evidence"]
    spike = changes[_utc(sample.SPIKE_START)]
    assert "load increase" in spike["evidence"]


def test_slo_budget_and_alerts(sample_run):
    run = sample_run
    assert run.checks("latency SLO (p95)", "/v1/rank")[0]["status"] == "FAIL"
    assert run.checks("latency SLO (p95)", "/v1/embed")[0]["status"] == "PASS"
    assert run.checks("error budget")[0]["status"] == "FAIL"
    page = run.checks("burn-rate alert", "page 1h/5m")[0]
    assert page["status"] == "FAIL"  # only the spike burns 14.4x the budget over an hour
    assert "2026-11-27 18:" in page["evidence"]
    assert run.checks("GPU saturation")[0]["status"] == "WARN"
    assert run.summary["figures"]["p95_ms"] > 500


def test_report_shows_the_verdicts_first_then_plots(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    assert html.index("opskit-verdict") < html.index('id="Likely-causes') < html.index('id="Latency-over-time')
    assert html.count("data:image/png;base64") >= 5
    figures = sample_run.summary["figures"]
    assert f"{figures['requests']:,} requests" in html  # the overview sentence under the verdicts
    assert html.index("likely causes, most of the budget first") < html.index('id="Latency-over-time')  # causes table


def test_access_log_without_gpu_metrics_runs(fixtures, reports):
    run = run_runbook(
        RUNBOOK,
        {"requests": str(fixtures / "latency" / "nginx_combined_request_time.log"), "gpu_metrics": None},
        reports_dir=reports,
    )
    assert run.summary["error"] is None
    assert run.checks("GPU metrics")[0]["status"] == "SKIP"
    assert run.checks("latency SLO (p95)", "/healthz")[0]["status"] == "PASS"
    assert all(c["status"] == "SKIP" for c in run.checks("burn-rate alert"))  # minutes of data only


def test_bad_input_renders_the_error_first(fixtures, reports):
    run = run_runbook(
        RUNBOOK,
        {"requests": str(fixtures / "latency" / "requests_latency_not_number_line4.csv"), "gpu_metrics": None},
        reports_dir=reports,
    )
    assert run.summary["error"] is None
    first = run.summary["checks"][0]
    assert first["status"] == "ERROR" and first["name"] == "requests"
    assert "requests_latency_not_number_line4.csv:4" in first["message"]
    assert "latency_ms" in first["message"]
    assert run.summary["status"] == "ERROR" and run.exit_code == 2
    html = run.html_path.read_text(encoding="utf-8")
    table = html[html.index("opskit-verdict") :]
    first_row = table[table.index("<tbody>") : table.index("</tr>", table.index("<tbody>"))]
    assert "ERROR" in first_row and "line4.csv:4" in first_row
