"""Error budget: multi-window burn-rate rules and breach periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency.error_budget import breach_periods, burn_rates, true_runs
from opskit.analyses.latency.thresholds import BurnRule, LatencyThresholds

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")


def test_page_rule_fires_when_both_windows_burn_fast_enough():
    # 10 requests a minute for 3 hours; every request slow from minute 60 to 129
    minutes = np.repeat(np.arange(180), 10)
    ts_ns = (T0.value + minutes * 60 * 10**9).astype("int64")
    slow = (minutes >= 60) & (minutes < 130)
    th = LatencyThresholds(burn_rules=(BurnRule("page 1h/5m", "page", "1h", "5min", 14.4),))
    table, series = burn_rates(ts_ns, slow, th)
    rule = table.iloc[0]
    # the 1-hour window reaches 14.4 x 5 % = 72 % slow after 44 slow minutes (44/60 = 73 %): minute 103
    assert rule["fired"]
    assert rule["first_fired"] == T0 + pd.Timedelta(minutes=103)
    assert rule["max_long_burn"] == pytest.approx(20.0)  # a full hour slow: 100 % / 5 %
    assert series["page 1h/5m short"].iloc[100] == pytest.approx(20.0)
    # at minute 130 the 5-minute window is still 4/5 slow (16x); at 131 it is 3/5 (12x): the page stops
    assert rule["minutes_firing"] == 131 - 103


def test_rule_longer_than_the_data_is_not_judged():
    minutes = np.repeat(np.arange(120), 5)
    ts_ns = (T0.value + minutes * 60 * 10**9).astype("int64")
    th = LatencyThresholds(burn_rules=(BurnRule("ticket 1d/2h", "ticket", "1D", "2h", 3.0),))
    table, _ = burn_rates(ts_ns, np.ones(len(minutes), bool), th)
    assert not table.iloc[0]["covered"]
    assert not table.iloc[0]["fired"]


def test_breach_periods_are_runs_of_buckets_over_the_slo():
    start = pd.date_range(T0, periods=8, freq="5min")
    by_bucket = pd.DataFrame(
        {
            "start": start,
            "requests": [100, 100, 100, 100, 5, 100, 100, 100],
            "slo_q_ms": [300, 600, 700, 300, 900, 550, 560, 200],
            "slow": [0, 10, 20, 0, 5, 8, 9, 0],
        }
    )
    periods = breach_periods(by_bucket, 500, pd.Timedelta("5min"), min_requests=20)
    assert periods["start"].tolist() == [start[1], start[5]]
    assert periods["duration_min"].tolist() == [10.0, 10.0]
    assert periods["end"].tolist() == [start[3], start[7]]
    assert periods["peak_ms"].tolist() == [700, 560]


def test_true_runs_are_start_stop_pairs_of_consecutive_true():
    mask = np.array([True, True, False, True, False, False, True])
    assert true_runs(mask) == [(0, 2), (3, 4), (6, 7)]
    assert true_runs(np.zeros(3, bool)) == []
