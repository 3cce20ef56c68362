"""What the diagnose_latency runbook shows: inputs judged in one call (bad input as an ERROR row), section tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency.analysis import LatencyThresholds, analyze_latency
from opskit.checks import Status
from opskit.runbooks import diagnose_latency as report
from opskit.samples.latency import steady_requests, write_requests_week_gpu

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")


@pytest.fixture(scope="module")
def rollout_log(tmp_path_factory):
    """48 hours of requests as Parquet, version v2 (slow) from hour 30."""
    path = tmp_path_factory.mktemp("requests") / "requests.parquet"
    steady_requests(hours=48, rps=1, rollout_at=30).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def rollout_result(rollout_log):
    return analyze_latency(pd.read_parquet(rollout_log))


def test_judge_reads_analyses_and_judges_a_log(rollout_log):
    result, verdicts = report.judge_latency(str(rollout_log), thresholds=LatencyThresholds(slo_ms=450))
    assert result is not None and result.thresholds.slo_ms == 450
    assert verdicts.find("GPU metrics")[0].status == Status.SKIP
    assert verdicts.find("model version", "/v1/rank v2")[0].status == Status.FAIL
    assert "GPU saturation" in {v.name for v in verdicts}


def test_judge_joins_gpu_metrics_when_given(rollout_log, tmp_path):
    gpu = write_requests_week_gpu(tmp_path)
    result, verdicts = report.judge_latency(str(rollout_log), gpu_metrics=str(gpu))
    assert verdicts.find("GPU metrics") == []
    assert "gpu_util_pct" in result.by_bucket
    assert verdicts.find("GPU saturation")[0].status in (Status.PASS, Status.WARN)


def test_unreadable_requests_are_one_error_row_and_no_result(fixtures):
    bad = fixtures / "latency" / "requests_latency_not_number_line4.csv"
    result, verdicts = report.judge_latency(str(bad))
    assert result is None
    (error,) = verdicts.find("requests")
    assert error.status == Status.ERROR
    assert verdicts.worst == Status.ERROR
    assert "line4.csv:4" in error.message


def test_unreadable_gpu_metrics_are_an_error_row_and_the_requests_still_analysed(rollout_log, tmp_path):
    broken = tmp_path / "gpu.csv"
    broken.write_text("this,is,not\n1,2,3\n", encoding="utf-8")
    result, verdicts = report.judge_latency(str(rollout_log), gpu_metrics=str(broken))
    assert verdicts.find("GPU metrics")[0].status == Status.ERROR
    assert result is not None and "gpu_util_pct" not in result.by_bucket
    assert verdicts.find("GPU saturation")[0].status == Status.SKIP


def test_column_mapping_reaches_the_reader(tmp_path):
    frame = steady_requests(hours=3, rps=1).rename(columns={"latency_ms": "duration_ms"})
    path = tmp_path / "renamed.parquet"
    frame.to_parquet(path, index=False)
    result, verdicts = report.judge_latency(str(path), columns={"latency_ms": "duration_ms"})
    assert result is not None and result.requests == len(frame)
    assert verdicts.find("requests") == []


def test_overview_names_the_quantiles_and_what_to_do_without_a_result(rollout_result):
    text = report.latency_overview(rollout_result)
    assert f"{rollout_result.requests:,} requests" in text
    assert f"p95 {rollout_result.overall['p95_ms']:.0f} ms" in text
    assert "ERROR row" in report.latency_overview(None)


def test_cause_table_shows_the_budget_share_in_percent(rollout_result):
    table = report.cause_table(rollout_result)
    assert "budget_share" not in table
    expected = (100 * rollout_result.causes["budget_share"]).round(1)
    assert table["% of slow requests"].tolist() == expected.tolist()
    assert table["cause"].iloc[0] == "slow model version"
    assert report.causes_note(rollout_result).startswith(f"{len(table)} likely causes")


def test_notes_say_when_a_table_is_empty():
    steady = analyze_latency(steady_requests(hours=30, rps=1))
    assert report.causes_note(steady).startswith("No cause stands out")
    assert report.breaches_note(steady).startswith("No breach period")
    assert report.table_note(steady.changes, "Regime changes", "none") == "none"
    assert report.table_note(pd.DataFrame({"a": [1]}), "Regime changes", "none") == "**Regime changes**"


def test_longest_breaches_come_first(rollout_result):
    fake = pd.DataFrame({"start": pd.date_range(T0, periods=12, freq="1h"), "duration_min": np.arange(12.0) * 5})
    result = type(rollout_result)(**{**rollout_result.__dict__, "breaches": fake})
    longest = report.longest_breaches(result, n=3)
    assert longest["duration_min"].tolist() == [55.0, 50.0, 45.0]
    assert report.breaches_note(result) == "12 breach periods, 330 min in all; the longest:"


def test_version_table_keeps_the_documented_columns(rollout_result):
    table = report.version_table(rollout_result)
    assert list(table.columns) == [c for c in report.VERSION_COLUMNS if c in rollout_result.by_version]
    assert "median_gpu_ms" in table  # the requests log has gpu_ms
    assert len(table) == len(rollout_result.by_version)


def test_rounded_rounds_numbers_only():
    frame = pd.DataFrame({"at": [T0], "name": ["x"], "ms": [1.23456]})
    out = report.rounded(frame, 2)
    assert out["ms"].iloc[0] == 1.23 and out["at"].iloc[0] == T0 and out["name"].iloc[0] == "x"


def test_figures_table_is_one_named_column():
    table = report.figures_table({"requests": 3, "keyed_by": "instance"}, "cold starts")
    assert list(table.columns) == ["cold starts"]
    assert table.loc["keyed_by", "cold starts"] == "instance"
    assert report.figures_table({}, "empty").empty


def test_with_rows_drops_empty_tables_and_keeps_the_order():
    a, b = pd.DataFrame({"x": [1]}), pd.DataFrame({"y": [2, 3]})
    kept = report.with_rows(a, pd.DataFrame(columns=["z"]), b)
    assert [list(f.columns) for f in kept] == [["x"], ["y"]]
    assert report.with_rows() == []
