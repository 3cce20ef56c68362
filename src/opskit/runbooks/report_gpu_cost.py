"""The weekly GPU utilization and cost report: ``run`` reads, analyses and judges one week of the fleet.

``runbooks/report_gpu_cost.ipynb`` calls :func:`run` once and shows the sections of the
:class:`ReportGpuCostResult`. Inputs are read by :mod:`opskit.runbooks.report_gpu_cost_inputs`, the
week is analysed by :func:`opskit.analyses.gpu_fleet.week.analyze_week` and judged by
:func:`opskit.analyses.gpu_fleet.verdicts.judge`; text and tables come from
:mod:`opskit.runbooks.report_gpu_cost_sections`. Input that cannot be read is one ERROR row, and
every section then says it is not available.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from opskit.analyses.gpu_fleet.recommendations import RecommendationSettings
from opskit.analyses.gpu_fleet.usage import UsageThresholds
from opskit.analyses.gpu_fleet.verdicts import judge
from opskit.analyses.gpu_fleet.week import FleetSettings, FleetWeekResult, analyze_week
from opskit.checks import VerdictTable, error_verdict
from opskit.plots import gpu as gpu_plots
from opskit.runbooks import report_gpu_cost_sections as sections
from opskit.runbooks.display import Markdown, Outputs, shown_once, table, unavailable
from opskit.runbooks.report_gpu_cost_inputs import load_rollup, resolve_inputs
from opskit.samples import resolve
from opskit.sources.gpu_prices import load_prices

HEATMAP_ROWS = ("host", "team")
NO_JOBS = "No jobs this week: no sample names a job."


@dataclass(frozen=True)
class ReportGpuCostResult:
    """The week's verdicts, key figures, chat summary and display-ready (masked) sections.

    ``week`` is None when the input could not be read; the first verdict then says why.
    """

    verdicts: VerdictTable
    week: FleetWeekResult | None = None
    heatmap_by: str = "host"

    @property
    def figures(self) -> dict[str, object]:
        """Key figures for ``summary.json``; none without a week."""
        return sections.key_figures(self.week) if self.week is not None else {}

    @property
    def headline(self) -> dict[str, str]:
        """The report header's figures: the week, its GPU cost, the waste (share of cost), the savings."""
        if self.week is None:
            return {}
        c = self.week.cost.totals
        money = {"USD": "${:,.0f}", "EUR": "€{:,.0f}", "GBP": "£{:,.0f}"}.get(
            self.week.cost.currency, "{:,.0f} " + self.week.cost.currency
        )
        share = f" ({c['waste_cost'] / c['cost']:.0%})".replace("%", " %") if c["cost"] else ""
        return {
            "week": self.week.usage.week,
            "GPU cost": money.format(c["cost"]),
            "waste": money.format(c["waste_cost"]) + share,
            "savings if acted on": money.format(self.week.recommendations.total_savings) + " per week",
        }

    @property
    def attachments(self) -> dict[str, str]:
        """Files written beside the report: the chat summary."""
        return {"chat_summary.md": str(self.chat_summary())}

    def _why(self) -> str | None:
        rows = self.verdicts.rows
        return rows[0].message if rows else None

    def _missing(self, what: str) -> Markdown:
        return unavailable(what, self._why())

    # ------------------------------------------------------------------------------------ sections
    def at_a_glance(self) -> Markdown:
        """The week's totals, then the usage notes."""
        if self.week is None:
            return self._missing("The week at a glance")
        return Markdown(sections.at_a_glance(self.week))

    def recommendations(self) -> pd.DataFrame | Markdown:
        """The recommendations, largest savings first."""
        if self.week is None:
            return self._missing("Recommendations")
        return table(sections.recommendations_table(self.week), empty="No recommendation this week.")

    def plot_utilization_heatmap(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """Mean utilization per node (or team, ``heatmap_by``) and hour of the week."""
        if self.week is None:
            return self._missing("The utilization heatmap")
        if self.heatmap_by not in HEATMAP_ROWS:
            return unavailable("The utilization heatmap", f"heatmap_by is {self.heatmap_by!r}, not host or team")
        return gpu_plots.plot_utilization_heatmap(self.week.usage, by=self.heatmap_by, ax=ax)

    def utilization_heatmap(self) -> Figure | Markdown:
        """The heatmap as its own figure, shown once where the cell puts it, or the note saying why not."""
        drawn = self.plot_utilization_heatmap()
        return shown_once(drawn) if isinstance(drawn, Axes) else drawn

    def plot_team_utilization(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """The distribution of hourly utilization per team, with the hot and underused thresholds."""
        if self.week is None:
            return self._missing("Utilization per team")
        return gpu_plots.plot_utilization_distribution(self.week.usage, ax=ax)

    def team_usage(self) -> pd.DataFrame | Markdown:
        """Per team: GPUs, hours, utilization, memory, power, idle/stalled/missing hours."""
        if self.week is None:
            return self._missing("Usage per team")
        return table(sections.team_usage_table(self.week))

    def plot_team_cost(self, *, ax: Axes | None = None) -> Axes | Markdown:
        """Each team's cost: used, unused, stalled and idle."""
        if self.week is None:
            return self._missing("Cost per team")
        return gpu_plots.plot_cost_by_team(self.week.cost, ax=ax)

    def team_cost(self) -> pd.DataFrame | Markdown:
        """Per team: cost, its used and wasted parts, and the cost of one busy GPU-hour."""
        if self.week is None:
            return self._missing("Cost per team")
        return table(sections.team_cost_table(self.week))

    def plot_wasteful_jobs(self, *, n: int = 10, ax: Axes | None = None) -> Axes | Markdown:
        """The ``n`` jobs with the most wasted cost."""
        if self.week is None:
            return self._missing("Wasteful jobs")
        if not len(self.week.cost.jobs):
            return Markdown(NO_JOBS)
        return gpu_plots.plot_top_wasteful_jobs(self.week.cost, n=n, ax=ax)

    def wasteful_jobs(self, n: int = 10) -> pd.DataFrame | Markdown:
        """The ``n`` jobs with the most wasted cost, one row each."""
        if self.week is None:
            return self._missing("Wasteful jobs")
        if not len(self.week.cost.jobs):
            return Markdown(NO_JOBS)
        return table(sections.wasteful_jobs_table(self.week, n=n))

    def stretches(self, *, rows: int = 20) -> Outputs | Markdown:
        """Idle and stalled stretches and data gaps, each with its count and first ``rows`` rows."""
        if self.week is None:
            return self._missing("Idle, stalled and missing hours")
        u = self.week.usage
        out: list[object] = []
        for title, frame in (("Idle stretches", u.idle), ("Stalled stretches", u.stalled), ("Data gaps", u.gaps)):
            out.append(Markdown(f"**{title}**: {len(frame)}"))
            out.append(table(frame.head(rows)) if len(frame) else None)
        return Outputs(out)

    def plot_week_over_week(self) -> np.ndarray | Markdown:
        """Mean utilization and wasted cost per team, this week beside the week before."""
        if self.week is None:
            return self._missing("Week over week")
        if not self.week.has_previous:
            return Markdown("No data for the week before.")
        return gpu_plots.plot_week_over_week_pair(self.week.week_over_week, currency=self.week.cost.currency)

    def week_over_week(self) -> Outputs | Markdown:
        """This week's figures per team, the week before's and the change."""
        if self.week is None:
            return self._missing("Week over week")
        note = None if self.week.has_previous else Markdown("No data for the week before.")
        return Outputs([note, table(self.week.week_over_week.round(1))])

    def nodes(self) -> pd.DataFrame | Markdown:
        """Per node: model, main team, utilization, cost, waste and idle/stalled/missing hours."""
        if self.week is None:
            return self._missing("Nodes")
        return table(sections.nodes_table(self.week))

    def thresholds_and_prices(self) -> Outputs | Markdown:
        """Every threshold and setting used, the sampling interval, and the prices per GPU model."""
        if self.week is None:
            return self._missing("Thresholds and prices")
        w = self.week
        return Outputs(
            [
                table(w.usage.thresholds.to_frame()),
                table(w.recommendations.settings.to_frame()),
                Markdown(
                    f"Sampling interval **{w.rollup.interval_s:g} s**, pricing **{w.cost.pricing}**, "
                    f"currency **{w.cost.currency}**."
                ),
                table(w.cost.prices.reset_index()),
            ]
        )

    def chat_summary(self) -> Markdown:
        """The short Markdown message for chat tools, also saved as ``chat_summary.md``."""
        return Markdown(sections.chat_summary(self.week, self.verdicts))


def run(
    *,
    samples: str = "sample:fleet_week",
    attribution: str = "auto",
    week: str = "",
    source_format: Literal["auto", "parquet", "nvidia-smi", "dcgm", "table", "prometheus"] = "auto",
    timezone: str = "UTC",
    prices: str | None = None,
    pricing: Literal["on_demand", "reserved_1y", "reserved_3y", "spot"] = "on_demand",
    currency: str = "USD",
    hot_pct: float = 85.0,
    underused_pct: float = 30.0,
    idle_pct: float = 2.0,
    idle_min_hours: float = 4.0,
    stall_util_pct: float = 90.0,
    stall_sm_pct: float = 10.0,
    gap_min_hours: float = 0.5,
    serving_pattern: str = "serv|infer|online|endpoint|api",
    team_budgets: dict = {},
    heatmap_by: Literal["host", "team"] = "host",
) -> ReportGpuCostResult:
    """The weekly report from the notebook's parameters; input that cannot be read is one ERROR row."""
    try:
        settings = FleetSettings(
            thresholds=UsageThresholds(
                hot_pct=hot_pct,
                underused_pct=underused_pct,
                idle_pct=idle_pct,
                idle_min_hours=idle_min_hours,
                stall_util_pct=stall_util_pct,
                stall_sm_pct=stall_sm_pct,
                gap_min_hours=gap_min_hours,
            ),
            recommendations=RecommendationSettings(serving_pattern=serving_pattern),
            pricing=pricing,
            currency=currency,
            budgets=team_budgets,
        )
        source, mapping = resolve_inputs(samples, attribution)
        rollup, _ = load_rollup(source, attribution=mapping, source_format=source_format, week=week, timezone=timezone)
        table_used = load_prices(resolve(prices) if prices else None)
        fleet_week = analyze_week(rollup, settings, week=week, prices=table_used)
    except Exception as exc:  # the verdict table shows the reason first; every section says it is missing
        return ReportGpuCostResult(VerdictTable([error_verdict("input data", exc)]), heatmap_by=heatmap_by)
    return ReportGpuCostResult(judge(fleet_week), fleet_week, heatmap_by=heatmap_by)
