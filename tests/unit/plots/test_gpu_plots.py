"""GPU report plots: they draw on the given Axes, label units, show thresholds, and add up."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.cost import compute_costs
from opskit.analyses.gpu_fleet.recommendations import compare_weeks
from opskit.analyses.gpu_fleet.rollup import rollup_hourly
from opskit.analyses.gpu_fleet.usage import analyze_gpu_usage
from opskit.plots import gpu
from opskit.samples.fleet import gpu_samples
from opskit.sources.gpu_prices import load_prices


@pytest.fixture(scope="module")
def result():
    frames = [
        gpu_samples("a", 0, start="2026-11-16", hours=336, util=80.0, team="t1", job="train-1"),
        gpu_samples("b", 0, start="2026-11-16", hours=336, util=0.0, team="t2"),
        gpu_samples("c", 0, start="2026-11-16", hours=336, util=20.0, team="t2", job="serve"),
    ]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame[~frame["timestamp"].between("2026-11-25 00:00", "2026-11-25 05:59") | (frame["host"] != "a")]
    r = rollup_hourly(frame)
    now = analyze_gpu_usage(r.frame, interval_s=r.interval_s)
    before = analyze_gpu_usage(r.frame, interval_s=r.interval_s, week="2026-W47")
    prices = load_prices()
    return now, compute_costs(now, prices), compute_costs(before, prices)


def test_heatmap_hour_of_week_with_gap_left_blank(result):
    usage, _, _ = result
    m = gpu.hour_of_week_matrix(usage, "host")
    assert m.shape == (3, 168)
    assert m.loc["a"].isna().sum() == 6  # the gap is blank, not 0 %
    assert m.loc["b"].max() == 0
    _, ax = plt.subplots()
    assert gpu.plot_utilization_heatmap(usage, ax=ax) is ax
    assert "UTC" in ax.get_xlabel()
    ax = gpu.plot_utilization_heatmap(usage, max_rows=2)
    assert len(ax.get_yticklabels()) == 2 and "2 of 3" in ax.get_title()
    plt.close("all")


def test_distribution_draws_thresholds(result):
    usage, _, _ = result
    ax = gpu.plot_utilization_distribution(usage)
    xs = {line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"}
    assert {usage.thresholds.hot_pct, usage.thresholds.underused_pct} <= xs
    assert "%" in ax.get_xlabel()
    plt.close("all")


def test_cost_breakdown_adds_up_to_cost(result):
    _, cost, _ = result
    parts = gpu.cost_breakdown(cost)
    np.testing.assert_allclose(parts.sum(axis=1), cost.teams.loc[parts.index, "cost"])
    assert parts.loc["t2", "idle"] > 0
    ax = gpu.plot_cost_by_team(cost)
    assert cost.currency in ax.get_xlabel()
    plt.close("all")


def test_jobs_and_week_over_week(result):
    _, cost, before = result
    ax = gpu.plot_top_wasteful_jobs(cost, n=1)
    assert len(ax.get_yticklabels()) == 1
    ax = gpu.plot_week_over_week(compare_weeks(cost, before), figure="waste_cost", unit=cost.currency)
    assert len(ax.patches) == 2 * 2  # two teams, two weeks
    plt.close("all")


def test_week_over_week_pair_draws_utilization_beside_waste(result):
    _, cost, before = result
    wow = compare_weeks(cost, before)
    axes = gpu.plot_week_over_week_pair(wow, currency=cost.currency)
    assert len(axes) == 2 and axes[0].figure is axes[1].figure
    assert "%" in axes[0].get_ylabel() and cost.currency in axes[1].get_ylabel()
    _, given = plt.subplots(1, 2)
    assert gpu.plot_week_over_week_pair(wow, axes=given) is given
    plt.close("all")
