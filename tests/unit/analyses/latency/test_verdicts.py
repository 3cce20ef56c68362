"""Latency verdicts and key figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency.analysis import analyze_latency
from opskit.analyses.latency.thresholds import LatencyThresholds
from opskit.analyses.latency.verdicts import latency_figures, latency_verdicts
from opskit.checks import Status, VerdictTable
from opskit.samples.latency import steady_requests as make_requests

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")


def test_error_budget_and_burn_verdicts():
    result = analyze_latency(make_requests(hours=30, rps=1, rollout_at=20))
    verdicts = VerdictTable(latency_verdicts(result))
    budget = verdicts.find("error budget")[0]
    # v2 (p95 ~ 500+ ms) serves the last 10 of 30 hours
    assert budget.observed == pytest.approx(100 * result.budget["slow_fraction"] / 0.05, rel=1e-3)
    three_day = verdicts.find("burn-rate alert", "ticket 3d/6h")[0]
    assert three_day.status == Status.SKIP  # 30 hours of data cannot fill a 3-day window


def test_many_endpoints_are_judged_busiest_first_with_the_rest_in_one_row():
    frame = make_requests(hours=3, rps=2)
    n = len(frame)
    names = np.where(np.arange(n) % 2 == 0, "/big", np.char.add("/tiny/", (np.arange(n) % 60).astype(str)))
    frame["endpoint"] = pd.Categorical(names)
    frame.loc[frame["endpoint"] == "/tiny/7", "latency_ms"] = 900.0
    verdicts = VerdictTable(latency_verdicts(analyze_latency(frame, LatencyThresholds(max_subjects=5))))
    rows = verdicts.find("latency SLO (p95)")
    assert len(rows) == 6
    assert verdicts.find("latency SLO (p95)", "/big")[0].status == Status.PASS
    (rest,) = verdicts.find("latency SLO (p95)", f"{31 - 5} smaller endpoints")
    assert rest.status == Status.FAIL and rest.observed == 1 and "/tiny/7" in rest.evidence


def test_figures_name_the_slow_version():  # without a result: the runbook's figures are {} (its unit test)
    result = analyze_latency(make_requests(hours=48, rps=1, rollout_at=30))
    figures = latency_figures(result)
    assert figures["slow_version"] == "v2"
    assert figures["slow_version_began"] == (T0 + pd.Timedelta(hours=30)).isoformat()
    assert figures["top_cause"] == "slow model version: v2"
    assert figures["requests"] == result.requests
    assert figures["load_spike_began"] is None
    assert figures["budget_consumed_pct"] == pytest.approx(100 * result.budget["slow_fraction"] / 0.05, abs=0.05)
