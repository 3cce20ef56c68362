"""One week of the fleet from its rollup: the settings passed down once, and the week before when present."""

from __future__ import annotations

import pytest

from opskit.analyses.gpu_fleet.cost import format_money
from opskit.analyses.gpu_fleet.recommendations import RecommendationSettings
from opskit.analyses.gpu_fleet.rollup import rollup_hourly
from opskit.analyses.gpu_fleet.usage import UsageThresholds
from opskit.analyses.gpu_fleet.week import FleetSettings, analyze_week
from opskit.samples import fleet
from opskit.sources.gpu_prices import load_prices


def _two_weeks(util=40.0):
    return rollup_hourly(fleet.gpu_samples("a", 0, start="2026-11-16", hours=14 * 24, util=util, team="t"))


def test_settings_default_to_the_documented_thresholds_and_copy_the_budgets():
    budgets = {"t": 5.0}
    s = FleetSettings(budgets=budgets)
    budgets["t"] = 99.0
    assert s.budgets == {"t": 5.0}
    assert s.thresholds == UsageThresholds() and s.recommendations == RecommendationSettings()
    assert (s.pricing, s.currency) == ("on_demand", "USD")
    assert FleetSettings(budgets=None).budgets == {}


def test_the_settings_reach_every_stage():
    s = FleetSettings(
        thresholds=UsageThresholds(underused_pct=50.0),
        recommendations=RecommendationSettings(serving_pattern="nothing"),
        pricing="spot",
    )
    week = analyze_week(_two_weeks(), s)
    assert week.settings is s and week.usage.thresholds is s.thresholds
    assert week.recommendations.settings is s.recommendations and week.cost.pricing == "spot"
    assert bool(week.usage.teams.loc["t", "underused"])  # 40 % is under a 50 % floor


def test_the_week_before_is_analysed_when_the_data_covers_it():
    week = analyze_week(_two_weeks(), week="2026-W48")
    assert week.has_previous and week.previous_usage.week == "2026-W47"
    assert "util_mean_pct_before" in week.week_over_week.columns
    first = analyze_week(_two_weeks(), week="2026-W47")
    assert not first.has_previous and first.previous_cost is None
    assert all(c.endswith("_now") for c in first.week_over_week.columns)


def test_a_price_table_can_be_given():
    table = load_prices()
    week = analyze_week(_two_weeks(), week="2026-W48", prices=table)
    assert week.prices is table


def test_money_is_unknown_when_the_price_is():
    assert format_money(1234.4, "USD") == "1,234 USD"
    assert format_money(float("nan"), "EUR") == "unknown" and format_money(None, "EUR") == "unknown"
    assert format_money(0.0, "USD") == "0 USD"


def test_a_week_without_data_is_an_input_error():
    from opskit.errors import InputError

    with pytest.raises(InputError) as err:
        analyze_week(_two_weeks(), week="2026-W10")
    assert err.value.column == "week"
