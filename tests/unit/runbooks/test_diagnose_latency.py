"""The diagnose_latency runbook: run() reads and judges in one call (bad input as an ERROR row), its sections."""

from __future__ import annotations

import dataclasses
import inspect

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from opskit.analyses.latency.analysis import analyze_latency
from opskit.checks import Status, publish_summary
from opskit.runbooks import diagnose_latency_sections as sections
from opskit.runbooks.diagnose_latency import DiagnoseLatencyResult, run
from opskit.runbooks.display import Markdown, Outputs
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


@pytest.fixture(scope="module")
def rollout_run(rollout_log):
    return run(requests=str(rollout_log), gpu_metrics=None)


@pytest.fixture
def unreadable_run(fixtures):
    return run(requests=str(fixtures / "latency" / "requests_latency_not_number_line4.csv"), gpu_metrics=None)


def _section_methods(result: DiagnoseLatencyResult) -> dict[str, object]:
    """Every public method of the result (the sections and plots), called with its defaults."""
    names = [n for n, f in inspect.getmembers(type(result), inspect.isfunction) if not n.startswith("_")]
    shown = {name: getattr(result, name)() for name in names}
    plt.close("all")
    return shown


def test_run_reads_analyses_and_judges_a_log(rollout_log):
    result = run(requests=str(rollout_log), gpu_metrics=None, slo_ms=450)
    assert result.latency is not None and result.latency.thresholds.slo_ms == 450
    assert result.thresholds.slo_ms == 450
    verdicts = result.verdicts
    assert verdicts.find("GPU metrics")[0].status == Status.SKIP
    assert verdicts.find("model version", "/v1/rank v2")[0].status == Status.FAIL
    assert "GPU saturation" in {v.name for v in verdicts}


def test_run_builds_the_thresholds_once_from_its_parameters(rollout_log):
    result = run(
        requests=str(rollout_log), gpu_metrics=None, slo_ms=300, slo_quantile=0.99, bucket="10min", load_spike_ratio=2
    )
    th = result.latency.thresholds
    assert th is result.thresholds
    assert (th.slo_ms, th.slo_quantile, th.bucket, th.load_spike_ratio) == (300, 0.99, "10min", 2)
    assert result.verdicts.find("latency SLO (p99)")


def test_run_joins_gpu_metrics_when_given(rollout_log, tmp_path):
    gpu = write_requests_week_gpu(tmp_path)
    result = run(requests=str(rollout_log), gpu_metrics=str(gpu))
    assert result.verdicts.find("GPU metrics") == []
    assert "gpu_util_pct" in result.latency.by_bucket
    assert result.verdicts.find("GPU saturation")[0].status in (Status.PASS, Status.WARN)


def test_unreadable_gpu_metrics_are_an_error_row_and_the_requests_still_analysed(rollout_log, tmp_path):
    broken = tmp_path / "gpu.csv"
    broken.write_text("this,is,not\n1,2,3\n", encoding="utf-8")
    result = run(requests=str(rollout_log), gpu_metrics=str(broken))
    assert result.verdicts.find("GPU metrics")[0].status == Status.ERROR
    assert result.latency is not None and "gpu_util_pct" not in result.latency.by_bucket
    assert result.verdicts.find("GPU saturation")[0].status == Status.SKIP


def test_unreadable_requests_are_one_error_row_and_no_analysis(unreadable_run):
    assert unreadable_run.latency is None
    (error,) = unreadable_run.verdicts.find("requests")
    assert error.status == Status.ERROR
    assert unreadable_run.verdicts.worst == Status.ERROR
    assert "line4.csv:4" in error.message
    assert unreadable_run.figures == {}


def test_every_section_still_shows_something_without_an_analysis(unreadable_run):
    shown = _section_methods(unreadable_run)
    assert len(shown) >= 14
    for name, value in shown.items():
        assert isinstance(value, Markdown), name
        assert "not available" in value or "ERROR row" in value, name
    assert "ERROR row" in unreadable_run.overview()


def test_a_missing_file_and_a_bad_setting_are_error_rows_too(tmp_path, rollout_log):
    missing = run(requests=str(tmp_path / "nope.parquet"), gpu_metrics=str(tmp_path / "nope.csv"))
    assert [v.status for v in missing.verdicts] == [Status.ERROR, Status.ERROR]
    assert {v.name for v in missing.verdicts} == {"GPU metrics", "requests"}
    bad = run(requests=str(rollout_log), gpu_metrics=None, bucket="not a bucket", engine="nope")
    assert bad.verdicts.find("requests")[0].status == Status.ERROR and bad.latency is None
    publish_summary(bad)  # still publishable


def test_every_section_is_displayable_with_an_analysis(rollout_run):
    for name, value in _section_methods(rollout_run).items():
        if name.startswith("plot_"):
            assert isinstance(value, Axes), name
        else:
            assert isinstance(value, Markdown | Outputs | pd.DataFrame), name


def test_sections_are_masked(rollout_log, tmp_path):
    frame = steady_requests(hours=30, rps=1, rollout_at=20)
    frame["model_version"] = frame["model_version"].cat.rename_categories({"v2": "v2-alice@example.com"})
    path = tmp_path / "leaky.parquet"
    frame.to_parquet(path, index=False)
    result = run(requests=str(path), gpu_metrics=None)
    shown = [result.likely_causes(), result.endpoints_and_versions(), result.regime_changes_and_load_spikes()]
    text = "".join(item.to_csv() if isinstance(item, pd.DataFrame) else str(item) for out in shown for item in out)
    assert "<email>" in text and "alice@example.com" not in text


def test_figures_are_the_key_figures_of_the_analysis(rollout_run, rollout_result):
    figures = rollout_run.figures
    assert figures["slow_version"] == "v2"
    assert figures["requests"] == rollout_result.requests
    assert publish_summary(rollout_run)["figures"]["slow_version"] == "v2"


def test_the_result_is_frozen(rollout_run):
    with pytest.raises(dataclasses.FrozenInstanceError):
        rollout_run.latency = None


def test_column_mapping_reaches_the_reader(tmp_path):
    frame = steady_requests(hours=3, rps=1).rename(columns={"latency_ms": "duration_ms"})
    path = tmp_path / "renamed.parquet"
    frame.to_parquet(path, index=False)
    result = run(requests=str(path), gpu_metrics=None, columns={"latency_ms": "duration_ms"})
    assert result.latency is not None and result.latency.requests == len(frame)
    assert result.verdicts.find("requests") == []


def test_overview_names_the_quantiles(rollout_result):
    text = sections.latency_overview(rollout_result)
    assert f"{rollout_result.requests:,} requests" in text
    assert f"p95 {rollout_result.overall['p95_ms']:.0f} ms" in text
    assert sections.overview(rollout_result) == text


def test_cause_table_shows_the_budget_share_in_percent(rollout_result):
    table = sections.cause_table(rollout_result)
    assert "budget_share" not in table
    expected = (100 * rollout_result.causes["budget_share"]).round(1)
    assert table["% of slow requests"].tolist() == expected.tolist()
    assert table["cause"].iloc[0] == "slow model version"
    assert sections.causes_note(rollout_result).startswith(f"{len(table)} likely causes")


def test_notes_say_when_a_table_is_empty():
    steady = analyze_latency(steady_requests(hours=30, rps=1))
    assert sections.causes_note(steady).startswith("No cause stands out")
    assert sections.breaches_note(steady).startswith("No breach period")
    assert sections.table_note(steady.changes, "Regime changes", "none") == "none"
    assert sections.table_note(pd.DataFrame({"a": [1]}), "Regime changes", "none") == "**Regime changes**"
    # a section whose tables are empty shows its note alone
    assert list(sections.likely_causes(steady)) == [sections.causes_note(steady)]


def test_longest_breaches_come_first(rollout_result):
    fake = pd.DataFrame({"start": pd.date_range(T0, periods=12, freq="1h"), "duration_min": np.arange(12.0) * 5})
    result = type(rollout_result)(**{**rollout_result.__dict__, "breaches": fake})
    longest = sections.longest_breaches(result, n=3)
    assert longest["duration_min"].tolist() == [55.0, 50.0, 45.0]
    assert sections.breaches_note(result) == "12 breach periods, 330 min in all; the longest:"


def test_version_table_keeps_the_documented_columns(rollout_result):
    table = sections.version_table(rollout_result)
    assert list(table.columns) == [c for c in sections.VERSION_COLUMNS if c in rollout_result.by_version]
    assert "median_gpu_ms" in table  # the requests log has gpu_ms
    assert len(table) == len(rollout_result.by_version)


def test_rounded_rounds_numbers_only():
    frame = pd.DataFrame({"at": [T0], "name": ["x"], "ms": [1.23456]})
    out = sections.rounded(frame, 2)
    assert out["ms"].iloc[0] == 1.23 and out["at"].iloc[0] == T0 and out["name"].iloc[0] == "x"


def test_figures_table_is_one_named_column():
    table = sections.figures_table({"requests": 3, "keyed_by": "instance"}, "cold starts")
    assert list(table.columns) == ["cold starts"]
    assert table.loc["keyed_by", "cold starts"] == "instance"
    assert sections.figures_table({}, "empty").empty


def test_with_rows_drops_empty_tables_and_keeps_the_order():
    a, b = pd.DataFrame({"x": [1]}), pd.DataFrame({"y": [2, 3]})
    kept = sections.with_rows(a, pd.DataFrame(columns=["z"]), b)
    assert [list(f.columns) for f in kept] == [["x"], ["y"]]
    assert sections.with_rows() == []


def test_bad_bucket_is_an_error_row_naming_the_parameter():
    from opskit.runbooks.diagnose_latency import run as run_latency

    result = run_latency(bucket="banana", gpu_metrics=None)
    (row,) = result.verdicts.rows
    assert row.status is Status.ERROR and "bucket" in row.message and "'5min'" in row.next_step
    assert result.latency is None


def test_mixed_log_gets_a_warn_row_with_the_skipped_lines():
    from pathlib import Path

    from opskit.runbooks.diagnose_latency import run as run_latency

    log = Path(__file__).parents[2] / "fixtures" / "real" / "access_logs" / "ingress_nginx_kubectl_mixed.log"
    result = run_latency(requests=str(log), gpu_metrics=None)
    warn = next(row for row in result.verdicts.rows if row.name == "requests input")
    assert warn.status is Status.WARN and warn.observed == 4 and warn.evidence.startswith("line 1:")
