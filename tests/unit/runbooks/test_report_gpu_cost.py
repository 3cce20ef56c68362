"""The GPU report assembled: formats, verdicts, chat summary, and the same week from every source."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.checks import Status
from opskit.errors import InputError
from opskit.runbooks import report_gpu_cost as gr
from opskit.samples import fleet, resolve

# the sample fleet is generated once per session: keep its users on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("fleet_week")


def test_detect_format(tmp_path):
    assert gr.detect_format("http://prom:9090") == "prometheus"
    assert gr.detect_format(str(tmp_path / "x.parquet")) == "parquet"
    assert gr.detect_format(str(tmp_path / "node.prom.gz")) == "dcgm"
    smi = tmp_path / "node-1.csv"
    smi.write_text("timestamp, name, index, utilization.gpu [%], memory.used [MiB]\n")
    table = tmp_path / "table.csv"
    table.write_text("time,node,gpu,util\n")
    assert gr.detect_format(str(smi)) == "nvidia-smi"
    assert gr.detect_format(str(table)) == "table"
    folder = tmp_path / "smi"
    folder.mkdir()
    (folder / "a.csv").write_text(smi.read_text())
    assert gr.detect_format(str(folder)) == "nvidia-smi"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as err:
        gr.detect_format(str(empty))
    assert err.value.path == str(empty)


def test_unknown_format_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as err:
        gr.load_samples(tmp_path / "x.parquet", source_format="excel")
    assert err.value.column == "source_format"


@pytest.fixture(scope="module")
def fleet_report():
    main = resolve("sample:fleet_week")
    rollup, fmt = gr.load_samples(main, attribution=main.parent / "attribution.csv")
    assert fmt == "parquet"
    return gr.build_report(rollup)


def test_verdicts_on_the_fleet(fleet_report):
    verdicts = gr.judge(fleet_report)
    assert verdicts.worst == Status.FAIL
    assert [v.subject for v in verdicts.find("idle GPUs")] == [fleet.IDLE_HOST]
    assert [v.subject for v in verdicts.find("stalled GPUs")] == [fleet.STALL[0]]
    assert [v.subject for v in verdicts.find("data gaps")] == [fleet.GAP[0]]
    failing_teams = {v.subject for v in verdicts.find("team utilization") if v.status == Status.FAIL}
    assert fleet.UNDERUSED_TEAM in failing_teams and "llm" not in failing_teams
    assert verdicts.find("attribution")[0].status == Status.PASS


def test_budget_check():
    frame = fleet.gpu_samples("a", 0, start="2026-11-23", hours=168, util=90.0, team="t")
    from opskit.analyses.gpu_fleet.rollup import rollup_hourly

    report = gr.build_report(rollup_hourly(frame), budgets={"t": 10.0})
    (over,) = gr.judge(report).find("team over budget", "t")
    assert over.status == Status.FAIL and over.threshold == 10.0 and over.observed > 10


def test_chat_summary_is_short_and_names_the_faults(fleet_report):
    text = gr.chat_summary(fleet_report, gr.judge(fleet_report))
    assert text.startswith("*GPU report 2026-W48*")
    assert fleet.IDLE_HOST in text and fleet.STALL[0] in text
    assert "vs 2026-W47" in text
    assert len(text.splitlines()) <= 14


def test_build_and_judge_turns_bad_input_into_one_error_row(tmp_path):
    def build():
        rollup, _ = gr.load_samples(tmp_path / "missing.parquet")
        return gr.build_report(rollup)

    report, verdicts = gr.build_and_judge(build)
    assert report is None and len(verdicts) == 1
    (row,) = verdicts.rows
    assert row.status == Status.ERROR and row.name == "input data" and "missing.parquet" in row.message


def test_resolve_inputs_finds_the_mapping_beside_a_file_source(tmp_path):
    samples = tmp_path / "fleet.parquet"
    assert gr.resolve_inputs(str(samples)) == (samples, None)  # auto, nothing beside
    (tmp_path / "attribution.csv").write_text("pattern,team\n")
    assert gr.resolve_inputs(str(samples)) == (samples, tmp_path / "attribution.csv")
    assert gr.resolve_inputs(str(samples), "") == (samples, None)
    assert gr.resolve_inputs(str(samples), None) == (samples, None)
    assert gr.resolve_inputs(str(samples), str(tmp_path / "teams.csv")) == (samples, tmp_path / "teams.csv")
    # a Prometheus URL stays a URL and has nothing beside it
    assert gr.resolve_inputs("http://prom:9090") == ("http://prom:9090", None)


def test_report_from_inputs_uses_the_mapping_beside_the_sample(fleet_report):
    report = gr.report_from_inputs("sample:fleet_week", budgets={"llm": 1.0})
    assert report.usage.week == fleet_report.usage.week
    assert report.cost.totals["cost"] == pytest.approx(fleet_report.cost.totals["cost"])
    assert "unattributed" not in set(report.usage.teams.index)
    assert report.budgets == {"llm": 1.0}
    without = gr.report_from_inputs("sample:fleet_week", attribution="")
    assert set(without.usage.teams.index) == {"unattributed"}


def test_chat_summary_without_a_report_says_why(tmp_path):
    _, verdicts = gr.build_and_judge(lambda: gr.report_from_inputs(str(tmp_path / "missing.parquet")))
    text = gr.chat_summary(None, verdicts)
    assert text.startswith("*GPU report*: no report") and "missing.parquet" in text
    assert gr.save_chat_summary(text, None) is None
    saved = gr.save_chat_summary(text, tmp_path)
    assert saved == tmp_path / "chat_summary.md" and saved.read_text(encoding="utf-8") == text


def test_report_tables(fleet_report):
    glance = gr.at_a_glance(fleet_report)
    assert "| week | 2026-W48 (2026-11-23 to 2026-11-29, UTC) |" in glance
    assert "| vs 2026-W47 |" in glance
    recs = gr.recommendations_table(fleet_report)
    assert list(recs.columns) == gr.RECOMMENDATION_COLUMNS
    assert recs["savings_per_week"].is_monotonic_decreasing and (recs["savings_per_week"] % 1 == 0).all()
    teams = gr.team_usage_table(fleet_report)
    assert list(teams.columns) == gr.TEAM_USAGE_COLUMNS and fleet.UNDERUSED_TEAM in teams.index
    assert list(gr.team_cost_table(fleet_report).columns) == gr.TEAM_COST_COLUMNS
    jobs = gr.wasteful_jobs_table(fleet_report, n=3)
    assert len(jobs) == 3 and jobs["waste_cost"].is_monotonic_decreasing
    nodes = gr.nodes_table(fleet_report)
    assert fleet.IDLE_HOST in nodes.index and list(nodes.columns) == gr.NODE_COLUMNS


@pytest.mark.parametrize("scenario", ["fleet_week_nvidia_smi", "fleet_week_dcgm"])
def test_the_same_week_from_every_format_gives_the_same_team_hours_and_cost(fleet_report, scenario):
    main = resolve(f"sample:{scenario}")
    rollup, _ = gr.load_samples(main, attribution=main.parent / "attribution.csv")
    other = gr.build_report(rollup, week="2026-W48")
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
    from opskit.analyses.gpu_fleet.rollup import rollup_hourly

    report = gr.build_report(rollup_hourly(frame))
    assert len(hours) == len(frame)
    assert report.usage.totals["gpu_hours"] == pytest.approx(167.5)
