"""The GPU report assembled: inputs, verdicts, chat summary, sections, and the same week from every source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.rollup import rollup_hourly
from opskit.analyses.gpu_fleet.verdicts import judge
from opskit.analyses.gpu_fleet.week import FleetSettings, analyze_week
from opskit.checks import REPORT_DIR_ENV, Status, publish_summary
from opskit.errors import InputError
from opskit.runbooks import report_gpu_cost_sections as sections
from opskit.runbooks.display import Markdown
from opskit.runbooks.report_gpu_cost import ReportGpuCostResult, run
from opskit.runbooks.report_gpu_cost_inputs import load_rollup, prometheus_range, resolve_inputs
from opskit.samples import fleet, resolve

# the sample fleet is generated once per session: keep its users on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("fleet_week")

SECTIONS = (
    "at_a_glance",
    "recommendations",
    "plot_utilization_heatmap",
    "utilization_heatmap",
    "plot_team_utilization",
    "team_usage",
    "plot_team_cost",
    "team_cost",
    "plot_wasteful_jobs",
    "wasteful_jobs",
    "stretches",
    "plot_week_over_week",
    "week_over_week",
    "nodes",
    "thresholds_and_prices",
    "chat_summary",
)


def test_the_sections_listed_here_are_all_of_the_results():
    public = {n for n, v in vars(ReportGpuCostResult).items() if callable(v) and not n.startswith("_")}
    assert public == set(SECTIONS)


def test_unknown_format_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        load_rollup(tmp_path / "x.parquet", source_format="excel")
    assert err.value.column == "source_format"


@pytest.fixture(scope="module")
def fleet_report():
    main = resolve("sample:fleet_week")
    rollup, fmt = load_rollup(main, attribution=main.parent / "attribution.csv")
    assert fmt == "parquet"
    return analyze_week(rollup)


def test_verdicts_on_the_fleet(fleet_report):
    verdicts = judge(fleet_report)
    assert verdicts.worst == Status.FAIL
    assert [v.subject for v in verdicts.find("idle GPUs")] == [fleet.IDLE_HOST]
    assert [v.subject for v in verdicts.find("stalled GPUs")] == [fleet.STALL[0]]
    assert [v.subject for v in verdicts.find("data gaps")] == [fleet.GAP[0]]
    failing_teams = {v.subject for v in verdicts.find("team utilization") if v.status == Status.FAIL}
    assert fleet.UNDERUSED_TEAM in failing_teams and "llm" not in failing_teams
    assert verdicts.find("attribution")[0].status == Status.PASS


def test_budget_check():
    frame = fleet.gpu_samples("a", 0, start="2026-11-23", hours=168, util=90.0, team="t")
    report = analyze_week(rollup_hourly(frame), FleetSettings(budgets={"t": 10.0}))
    (over,) = judge(report).find("team over budget", "t")
    assert over.status == Status.FAIL and over.threshold == 10.0 and over.observed > 10


def test_chat_summary_is_short_and_names_the_faults(fleet_report):
    text = sections.chat_summary(fleet_report, judge(fleet_report))
    assert text.startswith("*GPU report 2026-W48*")
    assert fleet.IDLE_HOST in text and fleet.STALL[0] in text
    assert "vs 2026-W47" in text
    lines = text.splitlines()
    assert len([line for line in lines if line.strip()]) <= 14
    # Markdown: the headline, the cost line and each list are separate blocks, so chat tools do not run them together
    assert lines[1] == "" and lines[2].startswith("Cost ") and lines[3] == ""
    tops = lines.index(next(line for line in lines if line.startswith("Top savings")))
    assert lines[tops - 1] == "" and lines[tops + 1] == "" and lines[tops + 2].startswith("- ")


def test_run_turns_bad_input_into_one_error_row(tmp_path):
    result = run(samples=str(tmp_path / "missing.parquet"))
    assert result.week is None and len(result.verdicts) == 1
    (row,) = result.verdicts.rows
    assert row.status == Status.ERROR and row.name == "input data" and "missing.parquet" in row.message
    assert result.figures == {}


@pytest.mark.parametrize(
    "bad",
    [
        {"samples": "/no/such/fleet.parquet"},
        {"week": "2026-W10"},
        {"week": "not a week"},
        {"source_format": "excel"},
        {"pricing": "free"},
        {"prices": "/no/such/prices.csv"},
        {"serving_pattern": "(unclosed"},
    ],
    ids=lambda p: next(iter(p)),
)
def test_every_section_still_shows_something_when_the_input_is_bad(bad):
    result = run(**bad)
    assert result.week is None and result.verdicts.rows[0].status == Status.ERROR
    for name in SECTIONS:
        shown = getattr(result, name)()
        assert isinstance(shown, Markdown), name
        assert "not available" in shown or name == "chat_summary", name
    assert result.chat_summary().startswith("*GPU report*: no report")
    assert set(result.attachments) == {"chat_summary.md"}


def test_resolve_inputs_finds_the_mapping_beside_a_file_source(tmp_path):
    samples = tmp_path / "fleet.parquet"
    assert resolve_inputs(str(samples)) == (samples, None)  # auto, nothing beside
    (tmp_path / "attribution.csv").write_text("pattern,team\n")
    assert resolve_inputs(str(samples)) == (samples, tmp_path / "attribution.csv")
    assert resolve_inputs(str(samples), "") == (samples, None)
    assert resolve_inputs(str(samples), None) == (samples, None)
    assert resolve_inputs(str(samples), str(tmp_path / "teams.csv")) == (samples, tmp_path / "teams.csv")
    # a Prometheus URL stays a URL and has nothing beside it
    assert resolve_inputs("http://prom:9090") == ("http://prom:9090", None)


def test_prometheus_is_asked_for_the_week_and_the_one_before():
    start, end = prometheus_range("2026-W48")
    assert start == pd.Timestamp("2026-11-16", tz="UTC") and end == pd.Timestamp("2026-11-30", tz="UTC")
    start, end = prometheus_range()
    assert end.weekday() == 0 and end - start == pd.Timedelta(days=14)


def test_run_uses_the_mapping_beside_the_sample(fleet_report):
    report = run(samples="sample:fleet_week", team_budgets={"llm": 1.0}).week
    assert report.usage.week == fleet_report.usage.week
    assert report.cost.totals["cost"] == pytest.approx(fleet_report.cost.totals["cost"])
    assert "unattributed" not in set(report.usage.teams.index)
    assert report.settings.budgets == {"llm": 1.0}
    without = run(samples="sample:fleet_week", attribution="").week
    assert set(without.usage.teams.index) == {"unattributed"}


def test_run_builds_the_settings_once_from_the_parameters():
    result = run(hot_pct=80.0, underused_pct=25.0, idle_min_hours=6.0, serving_pattern="infer", pricing="spot")
    s = result.week.settings
    assert s.thresholds.hot_pct == 80.0 and s.thresholds.underused_pct == 25.0 and s.thresholds.idle_min_hours == 6.0
    assert s.recommendations.serving_pattern == "infer" and s.pricing == "spot"
    assert result.week.usage.thresholds is s.thresholds and result.week.recommendations.settings is s.recommendations
    assert result.figures["pricing"] == "spot"


def test_chat_summary_without_a_report_says_why(tmp_path, monkeypatch):
    result = run(samples=str(tmp_path / "missing.parquet"))
    text = sections.chat_summary(None, result.verdicts)
    assert text.startswith("*GPU report*: no report") and "missing.parquet" in text
    assert result.attachments == {"chat_summary.md": text}
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    monkeypatch.setenv(REPORT_DIR_ENV, str(report_dir))
    publish_summary(result)
    assert (report_dir / "chat_summary.md").read_text(encoding="utf-8") == text


def test_report_tables(fleet_report):
    glance = sections.at_a_glance(fleet_report)
    assert "| week | 2026-W48 (2026-11-23 to 2026-11-29, UTC) |" in glance
    assert "| vs 2026-W47 |" in glance
    recs = sections.recommendations_table(fleet_report)
    assert list(recs.columns) == sections.RECOMMENDATION_COLUMNS
    assert recs["savings_per_week"].is_monotonic_decreasing and (recs["savings_per_week"] % 1 == 0).all()
    teams = sections.team_usage_table(fleet_report)
    assert list(teams.columns) == sections.TEAM_USAGE_COLUMNS and fleet.UNDERUSED_TEAM in teams.index
    assert list(sections.team_cost_table(fleet_report).columns) == sections.TEAM_COST_COLUMNS
    jobs = sections.wasteful_jobs_table(fleet_report, n=3)
    assert len(jobs) == 3 and jobs["waste_cost"].is_monotonic_decreasing
    nodes = sections.nodes_table(fleet_report)
    assert fleet.IDLE_HOST in nodes.index and list(nodes.columns) == sections.NODE_COLUMNS


def test_sections_of_the_sample_week(fleet_report):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    result = ReportGpuCostResult(judge(fleet_report), fleet_report)
    assert "| vs 2026-W47 |" in result.at_a_glance()
    assert isinstance(result.plot_utilization_heatmap(), Axes)
    assert len(result.plot_week_over_week()) == 2
    assert [type(o).__name__ for o in result.stretches()] == ["Markdown", "Table"] * 3  # a Table is a DataFrame
    by_gpu = ReportGpuCostResult(result.verdicts, fleet_report, heatmap_by="gpu")
    assert "not host or team" in by_gpu.plot_utilization_heatmap()
    assert "not host or team" in by_gpu.utilization_heatmap(), "a plot-only cell still says why it has no plot"
    plt.close("all")
    figure = result.utilization_heatmap()
    assert type(figure).__name__ == "Figure" and plt.get_fignums() == [], "shown once, where the cell puts it"
    assert result.figures["week"] == "2026-W48" and result.figures["previous_week"] == "2026-W47"
    assert result.attachments["chat_summary.md"] == sections.chat_summary(fleet_report, result.verdicts)
    plt.close("all")


def test_sections_of_a_week_without_jobs_or_a_week_before():
    week = analyze_week(rollup_hourly(fleet.gpu_samples("a", 0, start="2026-11-23", hours=168, util=50.0)))
    result = ReportGpuCostResult(judge(week), week)
    assert not week.has_previous
    assert result.plot_week_over_week() == "No data for the week before."
    assert result.week_over_week()[0] == "No data for the week before."
    assert "No jobs" in result.plot_wasteful_jobs() and "No jobs" in result.wasteful_jobs()
    assert "previous_week" not in result.figures


@pytest.mark.parametrize("scenario", ["fleet_week_nvidia_smi", "fleet_week_dcgm"])
def test_the_same_week_from_every_format_gives_the_same_team_hours_and_cost(fleet_report, scenario):
    main = resolve(f"sample:{scenario}")
    rollup, _ = load_rollup(main, attribution=main.parent / "attribution.csv")
    other = analyze_week(rollup, week="2026-W48")
    ref = fleet_report.cost.teams
    got = other.cost.teams.reindex(ref.index)
    np.testing.assert_allclose(got["gpu_hours"], ref["gpu_hours"], rtol=1e-6)
    np.testing.assert_allclose(got["busy_gpu_hours"], ref["busy_gpu_hours"], rtol=1e-3)
    np.testing.assert_allclose(got["cost"], ref["cost"], rtol=1e-6)
    assert list(other.usage.gaps["host"].unique()) == [fleet.GAP[0]]
    assert set(other.usage.idle["host"]) == {fleet.IDLE_HOST}


def test_prometheus_frame_with_interval_column_weighs_rows():
    # a reader's hourly aggregates: one row per GPU-hour standing for the seconds it saw
    hours = pd.date_range("2026-11-23", periods=168, freq="h", tz="UTC")
    frame = fleet.gpu_samples("a", 0, start="2026-11-23", hours=168, util=50.0, interval_s=3600)
    frame["interval_s"] = 3600.0
    frame.loc[10, "interval_s"] = 1800.0  # half the hour seen
    report = analyze_week(rollup_hourly(frame))
    assert len(hours) == len(frame)
    assert report.usage.totals["gpu_hours"] == pytest.approx(167.5)


def _nvidia_smi_week(path, *, header=True, name=None):
    """A week of 15-minute nvidia-smi readings of one GPU at 50 % (no model name unless ``name``)."""
    import pandas as pd

    start = pd.Timestamp("2026-11-23", tz="UTC")
    head = "timestamp, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]"
    lines = [head + (", name" if name else "")] if header else []
    for i in range(7 * 24 * 4):
        stamp = (start + pd.Timedelta(minutes=15 * i)).strftime("%Y/%m/%d %H:%M:%S.000")
        lines.append(f"{stamp}, 0, 50 %, 1000 MiB, 20000 MiB" + (f", {name}" if name else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_gpu_without_a_model_is_an_unknown_price_not_a_pass(tmp_path):
    from opskit.runbooks.report_gpu_cost import run as run_report

    result = run_report(samples=str(_nvidia_smi_week(tmp_path / "n1.csv")), attribution="", week="2026-W48")
    (prices,) = result.verdicts.find("unknown prices")
    assert prices.status.name == "WARN" and prices.observed == 168.0
    assert result.figures["cost"] is None and result.figures["unpriced_gpus"] == 1


def test_timezone_parameter_moves_local_captures_to_utc(tmp_path):
    from opskit.runbooks.report_gpu_cost_inputs import load_rollup

    source = _nvidia_smi_week(tmp_path / "n1.csv")
    utc, _ = load_rollup(source, week="2026-W48")
    tokyo, _ = load_rollup(source, week="2026-W48", timezone="Asia/Tokyo")
    assert utc.frame["hour"].min() == pd.Timestamp("2026-11-23", tz="UTC")
    assert tokyo.frame["hour"].min() == pd.Timestamp("2026-11-22 15:00", tz="UTC")  # 00:00 in Tokyo is 15:00 UTC


def test_headerless_nvidia_smi_csv_through_the_runbook_is_a_clear_error(tmp_path):
    from opskit.runbooks.report_gpu_cost import run as run_report

    source = _nvidia_smi_week(tmp_path / "n1.csv", header=False)
    (row,) = run_report(samples=str(source), attribution="", week="2026-W48").verdicts.rows
    assert row.status.name == "ERROR" and "n1.csv:1" in row.message and "found 5" in row.message
    assert "header line first" in row.next_step and "pyarrow" not in row.message


def test_headerless_nvidia_smi_csv_in_the_documented_order_is_read(tmp_path):
    from opskit.runbooks.report_gpu_cost_inputs import load_rollup

    lines = [
        f"2026/11/23 {h:02d}:{m:02d}:00.000, NVIDIA L4, 00000000:01:00.0, 0, GPU-a, 40 %, 1000 MiB, 23034 MiB, 30.5 W"
        for h in range(24)
        for m in range(0, 60, 15)
    ]
    (tmp_path / "n1.csv").write_text("\n".join(lines) + "\n")
    rollup, fmt = load_rollup(tmp_path / "n1.csv", week="2026-W48")
    assert fmt == "nvidia-smi" and rollup.interval_s == 900.0 and len(rollup.frame) == 24
