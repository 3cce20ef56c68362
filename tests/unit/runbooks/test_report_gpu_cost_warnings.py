"""The GPU report on Prometheus answers that carry warnings: a WARN row says the data may be incomplete."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from opskit.analyses.gpu_fleet.rollup import SourceWarning
from opskit.analyses.gpu_fleet.verdicts import check_source_warnings, judge
from opskit.analyses.gpu_fleet.week import analyze_week
from opskit.checks import Status
from opskit.runbooks.report_gpu_cost import run
from opskit.runbooks.report_gpu_cost_inputs import load_rollup
from opskit.samples import resolve

pytestmark = pytest.mark.xdist_group("fleet_week")

REAL = Path(__file__).parents[2] / "fixtures" / "real" / "prometheus"
WARNED = REAL / "warnings_remote_read_refused_matrix.json"
REFUSED = "connect: connection refused"


@pytest.fixture
def replay(answering_server):
    """Every query_range answered with one recorded answer (Prometheus 2.42, remote_read endpoint down)."""
    return answering_server(WARNED.read_bytes())


def test_the_warning_of_every_query_reaches_the_rollup(replay):
    rollup, fmt = load_rollup(replay, source_format="prometheus", week="2025-W48")
    assert fmt == "prometheus"
    # the recorded answer: GPU 0 of gpu-node-07 at 60 % for the hour from 2025-11-24 16:00 UTC
    row = rollup.frame.iloc[0]
    assert (len(rollup.frame), row["host"], row["util_pct_s"] / row["util_pct_known_s"]) == (1, "gpu-node-07", 60.0)
    queries = [w.query for w in rollup.source_warnings]
    assert (
        queries[0] == "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])"
        and "count_over_time(DCGM_FI_DEV_GPU_UTIL[1h])" in queries
    )
    assert all(REFUSED in w.text and w.level == "warning" for w in rollup.source_warnings)


def test_the_report_on_warned_answers_has_a_warn_row_naming_the_warning_and_the_query(replay):
    result = run(samples=replay, source_format="prometheus", week="2025-W48", attribution="")
    rows = [r for r in result.verdicts.rows if r.name == "incomplete data"]
    assert len(rows) == 1 and rows[0].status is Status.WARN
    assert rows[0].subject == "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])"
    assert rows[0].unit == "queries" and REFUSED in rows[0].message and "may be incomplete" in rows[0].message
    n = len({w.query for w in result.week.rollup.source_warnings})
    assert n == rows[0].observed == 8  # the seven metrics' means and the sample count
    assert f"{n} queries" in rows[0].evidence and "count_over_time(DCGM_FI_DEV_GPU_UTIL[1h])" in rows[0].evidence
    assert result.verdicts.worst is not Status.PASS
    checks = [c for c in result.verdicts.to_records() if c["name"] == "incomplete data"]
    assert checks[0]["status"] == "WARN" and REFUSED in checks[0]["message"]
    # the chat summary says so on its second line, before any other finding
    chat = str(result.chat_summary()).splitlines()
    assert chat[1].startswith("- WARN incomplete data (avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])): the data may be")
    assert sum("incomplete data" in line for line in chat) == 1


@pytest.fixture(scope="module")
def sample_week():
    main = resolve("sample:fleet_week")
    rollup, _ = load_rollup(main, attribution=main.parent / "attribution.csv")
    return rollup


def test_a_rollup_without_source_warnings_has_no_such_row(sample_week):
    week = analyze_week(sample_week)
    assert check_source_warnings(week) == []
    assert not [r for r in judge(week).rows if r.name in ("incomplete data", "query note")]


def test_an_info_is_a_query_note_not_incomplete_data(sample_week):
    note = SourceWarning("PromQL info: metric might not be a counter", "rate(x[5m])", "info")
    week = analyze_week(dataclasses.replace(sample_week, source_warnings=(note,)))
    [row] = check_source_warnings(week)
    assert (row.name, row.status, row.subject) == ("query note", Status.WARN, "rate(x[5m])")
    assert "incomplete" not in row.message and "might not be a counter" in row.message
