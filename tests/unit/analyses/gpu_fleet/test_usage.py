"""Weekly GPU usage: week selection, idle stretches, stalled GPUs, data gaps, groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.rollup import rollup_hourly
from opskit.analyses.gpu_fleet.usage import (
    NO_JOB,
    UNATTRIBUTED,
    UsageThresholds,
    analyze_gpu_usage,
    default_week,
    parse_week,
)
from opskit.errors import InputError
from opskit.samples.fleet import gpu_samples as samples


def analyze(frame: pd.DataFrame, **kw):
    r = rollup_hourly(frame)
    return analyze_gpu_usage(r.frame, interval_s=r.interval_s, **kw)


def test_parse_week_forms_and_errors():
    label, start, end = parse_week("2026-W48")
    assert label == "2026-W48" and start == pd.Timestamp("2026-11-23", tz="UTC") and end - start == pd.Timedelta("7D")
    assert parse_week("2026w48")[0] == parse_week("2026-48")[0] == "2026-W48"
    with pytest.raises(InputError) as err:
        parse_week("last week")
    assert err.value.column == "week"
    with pytest.raises(InputError):
        parse_week("2026-W54")


def test_default_is_last_full_week():
    hours = pd.Series(pd.date_range("2026-11-16", "2026-12-02", freq="h", tz="UTC"))
    assert default_week(hours) == ("2026-W48", True)  # W49 has only three days
    partial = pd.Series(pd.date_range("2026-11-18", "2026-11-20", freq="h", tz="UTC"))
    assert default_week(partial) == ("2026-W47", False)


def test_week_without_data_names_the_weeks_present():
    with pytest.raises(InputError) as err:
        analyze(week_of(50.0), week="2026-W40")
    assert err.value.column == "week" and "2026-W48" in err.value.hint


def test_hours_busy_and_flags_per_gpu():
    frame = pd.concat(
        [week_of(90.0, host="hot"), week_of(10.0, host="low"), week_of(50.0, host="mid")], ignore_index=True
    )
    u = analyze(frame)
    g = u.gpus.xs(0, level="gpu")
    assert g.loc["hot", "gpu_hours"] == pytest.approx(168)
    assert g.loc["hot", "busy_gpu_hours"] == pytest.approx(168 * 0.9)
    assert bool(g.loc["hot", "hot"]) and not bool(g.loc["hot", "underused"])
    assert bool(g.loc["low", "underused"]) and not bool(g.loc["mid", "underused"])
    assert g.loc["low", "underused_gpu_hours"] == pytest.approx(168)
    assert u.totals["util_mean_pct"] == pytest.approx(50.0)


def test_idle_needs_a_long_stretch():
    util = np.full(168 * 12, 60.0)
    util[12 * 10 : 12 * 13] = 0.0  # 3 hours: too short
    util[12 * 50 : 12 * 60] = 0.0  # 10 hours: idle
    u = analyze(week_of(util))
    assert len(u.idle) == 1
    row = u.idle.iloc[0]
    assert row["hours"] == 10 and row["start"] == pd.Timestamp("2026-11-25 02:00", tz="UTC")
    assert u.gpus["idle_gpu_hours"].iloc[0] == pytest.approx(10)


def test_gap_is_reported_as_gap_not_idle():
    frame = week_of(0.0)
    frame = frame[~frame["timestamp"].between("2026-11-24 00:00", "2026-11-24 05:59", inclusive="both")]
    u = analyze(frame, thresholds=UsageThresholds(idle_min_hours=200))
    assert len(u.gaps) == 1
    gap = u.gaps.iloc[0]
    assert gap["missing_hours"] == pytest.approx(6) and gap["start"] == pd.Timestamp("2026-11-24", tz="UTC")
    assert u.gpus["gpu_hours"].iloc[0] == pytest.approx(162)
    assert u.gpus["gap_gpu_hours"].iloc[0] == pytest.approx(6)
    # and the idle stretch stops at the gap
    u = analyze(frame, thresholds=UsageThresholds(idle_min_hours=100))
    assert u.idle["hours"].max() < 162


def test_short_gap_below_threshold_is_not_reported():
    frame = week_of(50.0)
    frame = frame.drop(index=[100])  # one 5-minute sample
    assert analyze(frame).gaps.empty


def test_stalled_by_sm_activity():
    util = np.full(168 * 12, 95.0)
    sm = np.full(168 * 12, 70.0)
    sm[12 * 24 : 12 * 30] = 2.0
    u = analyze(week_of(util, sm=sm, job="train-1"))
    assert len(u.stalled) == 1 and u.stalled.iloc[0]["hours"] == 6 and u.stalled.iloc[0]["job"] == "train-1"
    assert u.jobs.loc["train-1", "stalled_gpu_hours"] == pytest.approx(6)


def test_stalled_by_power_without_sm_activity():
    util = np.full(168 * 12, 95.0)
    power = np.full(168 * 12, 380.0)
    power[12 * 24 : 12 * 27] = 70.0
    u = analyze(week_of(util, power=power))
    assert u.stalled["hours"].tolist() == [3]
    # high utilization with busy power is not stalled
    assert analyze(week_of(95.0, power=380.0)).stalled.empty


def test_unattributed_and_jobless_rows_are_kept():
    frame = pd.concat([week_of(50.0, host="a", team="ml"), week_of(20.0, host="b", team=None)], ignore_index=True)
    u = analyze(frame)
    assert set(u.teams.index) == {"ml", UNATTRIBUTED}
    assert u.teams.loc[UNATTRIBUTED, "gpu_hours"] == pytest.approx(168)
    assert NO_JOB in set(u.rows["job"])


def test_duplicated_hours_are_not_counted_twice():
    frame = week_of(50.0)
    skewed = frame.copy()
    skewed["timestamp"] = skewed["timestamp"] + pd.Timedelta(seconds=7)  # a second file, clock skewed
    u = analyze(pd.concat([frame, skewed], ignore_index=True))
    assert u.gpus["gpu_hours"].iloc[0] == pytest.approx(168, abs=0.1)


def test_fleet_sample_finds_the_planted_faults():
    from opskit.samples import fleet

    u = analyze(fleet.generate_fleet())
    assert u.week == "2026-W48" and u.full_week
    assert set(u.idle["host"]) == {fleet.IDLE_HOST}
    assert set(u.stalled["host"]) == {fleet.STALL[0]} and set(u.stalled["job"]) == {fleet.STALLED_JOB}
    assert set(u.gaps["host"]) == {fleet.GAP[0]}
    assert u.gaps["missing_hours"].tolist() == [6.0] * 4
    assert u.teams.loc[fleet.UNDERUSED_TEAM, "underused"]
    assert u.teams.loc["llm", "hot"]


def test_samples_helper_sanity():
    s = samples(hours=1)
    assert len(s) == 12


def week_of(util=50.0, **kw) -> pd.DataFrame:
    """One GPU for the whole of ISO week 2026-W48."""
    return samples(start="2026-11-23", hours=168, util=util, **kw)
