"""One week of the fleet, analysed: usage, cost and recommendations, and the week before when the data has it.

:class:`FleetSettings` holds every choice the analysis makes (usage thresholds, recommendation
settings, pricing, currency, team budgets), built once by the runbook and passed down as one value;
:func:`analyze_week` turns an hourly rollup into a :class:`FleetWeekResult`, the value the verdicts
(:mod:`opskit.analyses.gpu_fleet.verdicts`) and the report's sections read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from opskit.analyses.gpu_fleet.cost import CostResult, compute_costs
from opskit.analyses.gpu_fleet.recommendations import (
    RecommendationResult,
    RecommendationSettings,
    compare_weeks,
    recommend,
)
from opskit.analyses.gpu_fleet.rollup import Rollup
from opskit.analyses.gpu_fleet.usage import UsageResult, UsageThresholds, analyze_gpu_usage, week_label
from opskit.sources.gpu_prices import load_prices


@dataclass(frozen=True)
class FleetSettings:
    """How a week of the fleet is judged and priced; every field comes from a runbook parameter."""

    thresholds: UsageThresholds = field(default_factory=UsageThresholds)
    recommendations: RecommendationSettings = field(default_factory=RecommendationSettings)
    pricing: str = "on_demand"  # on_demand, reserved_1y, reserved_3y or spot
    currency: str = "USD"  # prices in this currency only, never converted
    budgets: Mapping[str, float] = field(default_factory=dict)  # weekly budget per team, in the currency

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", dict(self.budgets or {}))


@dataclass(frozen=True)
class FleetWeekResult:
    """One week's usage, cost and recommendations, with the week before when the data covers it."""

    rollup: Rollup
    settings: FleetSettings
    usage: UsageResult
    cost: CostResult
    recommendations: RecommendationResult
    previous_usage: UsageResult | None
    previous_cost: CostResult | None
    week_over_week: pd.DataFrame
    prices: pd.DataFrame  # the whole price table used (bundled and user rows)

    @property
    def has_previous(self) -> bool:
        """Whether the data covers the week before (then ``previous_usage`` and ``previous_cost`` are set)."""
        return self.previous_usage is not None and self.previous_cost is not None


def analyze_week(
    rollup: Rollup,
    settings: FleetSettings | None = None,
    *,
    week: str = "",
    prices: pd.DataFrame | None = None,
) -> FleetWeekResult:
    """Usage, cost and recommendations of ``week`` (default: the last full ISO week), and the week before.

    ``prices`` is a table from :func:`~opskit.sources.gpu_prices.load_prices` (default: the bundled one).
    """
    s = settings or FleetSettings()
    table = load_prices() if prices is None else prices
    usage = analyze_gpu_usage(rollup.frame, interval_s=rollup.interval_s, week=week or None, thresholds=s.thresholds)
    cost = compute_costs(usage, table, pricing=s.pricing, currency=s.currency)
    previous = week_label(usage.start - pd.Timedelta(days=7))
    prev_usage = prev_cost = None
    if previous in usage.weeks_available:
        prev_usage = analyze_gpu_usage(
            rollup.frame, interval_s=rollup.interval_s, week=previous, thresholds=s.thresholds
        )
        prev_cost = compute_costs(prev_usage, table, pricing=s.pricing, currency=s.currency)
    return FleetWeekResult(
        rollup=rollup,
        settings=s,
        usage=usage,
        cost=cost,
        recommendations=recommend(usage, cost, s.recommendations),
        previous_usage=prev_usage,
        previous_cost=prev_cost,
        week_over_week=compare_weeks(cost, prev_cost),
        prices=table,
    )
