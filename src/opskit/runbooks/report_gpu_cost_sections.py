"""The weekly GPU report's text and tables, from one analysed week: key figures, the glance, the chat summary.

Plain frames and strings; :class:`~opskit.runbooks.report_gpu_cost.ReportGpuCostResult` masks them
for display.
"""

from __future__ import annotations

import math

import pandas as pd

from opskit.analyses.gpu_fleet.cost import format_money
from opskit.analyses.gpu_fleet.week import FleetWeekResult
from opskit.checks import Status, VerdictTable

TEAM_USAGE_COLUMNS = [
    "gpus",
    "gpu_hours",
    "busy_gpu_hours",
    "util_mean_pct",
    "util_p95_pct",
    "mem_used_pct",
    "power_mean_w",
    "idle_gpu_hours",
    "stalled_gpu_hours",
    "gap_gpu_hours",
    "hot",
    "underused",
]
TEAM_COST_COLUMNS = [
    "cost",
    "used_cost",
    "waste_cost",
    "idle_cost",
    "underused_cost",
    "stalled_cost",
    "gap_cost",
    "cost_per_busy_gpu_hour",
    "unpriced_gpu_hours",
]
JOB_COLUMNS = ["team", "hosts", "gpus", "gpu_hours", "util_mean_pct", "cost", "waste_cost", "stalled_gpu_hours"]
NODE_COLUMNS = ["model", "team", "gpus", "gpu_hours", "util_mean_pct", "util_p95_pct", "mem_used_pct", "power_mean_w",
                "cost", "waste_cost", "idle_gpu_hours", "stalled_gpu_hours", "gap_gpu_hours"]  # fmt: skip
RECOMMENDATION_COLUMNS = ["kind", "action", "savings_per_week", "currency", "evidence", "caveat"]


def _round(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 2)


def key_figures(week: FleetWeekResult) -> dict[str, object]:
    """The figures ``summary.json`` carries for the week (and the change since the week before)."""
    t, c = week.usage.totals, week.cost.totals
    figures: dict[str, object] = {
        "week": week.usage.week,
        "gpus": t["gpus"],
        "gpu_hours": round(t["gpu_hours"], 1),
        "busy_gpu_hours": round(t["busy_gpu_hours"], 1),
        "util_mean_pct": round(t["util_mean_pct"], 1),
        "currency": week.cost.currency,
        "pricing": week.cost.pricing,
        "cost": _round(c["cost"]),
        "used_cost": _round(c["used_cost"]),
        "waste_cost": _round(c["waste_cost"]),
        "idle_cost": _round(c["idle_cost"]),
        "idle_gpu_hours": round(t["idle_gpu_hours"], 1),
        "stalled_gpu_hours": round(t["stalled_gpu_hours"], 1),
        "gap_gpu_hours": round(t["gap_gpu_hours"], 1),
        "unpriced_gpus": c["unpriced_gpus"],
        "savings_per_week": _round(week.recommendations.total_savings),
        "recommendations": len(week.recommendations.items),
    }
    if week.has_previous:
        before = week.previous_usage.totals
        figures["previous_week"] = week.previous_usage.week
        figures["util_mean_pct_change"] = round(t["util_mean_pct"] - before["util_mean_pct"], 1)
        figures["waste_cost_change"] = _round(c["waste_cost"] - week.previous_cost.totals["waste_cost"])
    return figures


def chat_summary(week: FleetWeekResult | None, verdicts: VerdictTable, *, top: int = 3) -> str:
    """A short Markdown summary for chat tools (Slack, Teams, Mattermost).

    Without a week (the input could not be read), the first verdict row says why.
    """
    if week is None:
        first = verdicts.rows[0].message if len(verdicts.rows) else "no input"
        return f"*GPU report*: no report\n- {first}\n"
    u, c = week.usage, week.cost
    t, ct = u.totals, c.totals
    cur = c.currency
    line = (
        f"*GPU report {u.week}*: {t['gpus']} GPUs, {t['gpu_hours']:,.0f} GPU-hours, "
        f"mean utilization {t['util_mean_pct']:.0f} %"
    )
    if week.has_previous:
        delta = t["util_mean_pct"] - week.previous_usage.totals["util_mean_pct"]
        line += f" ({delta:+.0f} pts vs {week.previous_usage.week})"
    lines = [
        line,
        "",
        f"Cost {format_money(ct['cost'], cur)} ({c.pricing.replace('_', ' ')}): used "
        f"{format_money(ct['used_cost'], cur)}, wasted {format_money(ct['waste_cost'], cur)} "
        f"(idle {format_money(ct['idle_cost'], cur)})",
        "",
    ]
    partial = [v for v in verdicts if v.name == "incomplete data"]  # never cut off below: it qualifies all else
    lines[1:1] = [f"- {v.status.value} {v.name} ({v.subject}): {v.message}" for v in partial]
    bad = [v for v in verdicts if v.status in (Status.FAIL, Status.ERROR, Status.WARN) and v not in partial]
    for v in bad[:6]:
        subject = f" {v.subject}" if v.subject else ""
        what = v.message or (f"{v.observed} {v.unit}" if v.observed is not None else "")
        lines.append(f"- {v.status.value} {v.name}{subject}: {what}")
    if len(bad) > 6:
        lines.append(f"- ... and {len(bad) - 6} more in the report")
    recs = week.recommendations.items[:top]
    if recs:
        lines += ["", f"Top savings ({format_money(week.recommendations.total_savings, cur)}/week in all):", ""]
        lines += [f"- {r.action}: {format_money(r.savings_per_week, r.currency)}/week" for r in recs]
    return "\n".join(lines) + "\n"


def at_a_glance(week: FleetWeekResult) -> str:
    """The week's totals as a two-column Markdown table, then the usage notes as quotes."""
    u, c = week.usage, week.cost
    t, ct = u.totals, c.totals
    cur = c.currency
    rows = [
        ("week", f"{u.week} ({u.start:%Y-%m-%d} to {u.end - pd.Timedelta(days=1):%Y-%m-%d}, UTC)"),
        ("GPUs / nodes / teams", f"{t['gpus']} / {t['nodes']} / {t['teams']}"),
        ("GPU-hours present", f"{t['gpu_hours']:,.0f}"),
        ("busy GPU-hours", f"{t['busy_gpu_hours']:,.0f} (mean utilization {t['util_mean_pct']:.1f} %)"),
        ("cost (allocation)", f"{ct['cost']:,.0f} {cur} at {c.pricing.replace('_', ' ')} prices"),
        ("used (utilization-weighted)", f"{ct['used_cost']:,.0f} {cur}"),
        ("wasted", f"{ct['waste_cost']:,.0f} {cur}, of which idle {ct['idle_cost']:,.0f} {cur}"),
        (
            "idle / stalled / missing GPU-hours",
            f"{t['idle_gpu_hours']:,.0f} / {t['stalled_gpu_hours']:,.0f} / {t['gap_gpu_hours']:,.1f}",
        ),
        ("savings recommended", f"{week.recommendations.total_savings:,.0f} {cur} per week"),
    ]
    if week.has_previous:
        before = week.previous_usage.totals
        rows.append(
            (
                "vs " + week.previous_usage.week,
                f"utilization {t['util_mean_pct'] - before['util_mean_pct']:+.1f} pts, "
                f"waste {ct['waste_cost'] - week.previous_cost.totals['waste_cost']:+,.0f} {cur}",
            )
        )
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    return "\n\n".join([table, *(f"> **Note**: {note}" for note in u.notes)])


def recommendations_table(week: FleetWeekResult) -> pd.DataFrame:
    """The recommendations, largest savings first, savings rounded to whole currency units."""
    recs = week.recommendations.to_frame()
    if recs.empty:
        return recs
    recs["savings_per_week"] = recs["savings_per_week"].round(0)
    return recs[RECOMMENDATION_COLUMNS]


def team_usage_table(week: FleetWeekResult) -> pd.DataFrame:
    """Per team: GPUs, hours, utilization, memory, power, idle/stalled/missing hours, hot/underused flags."""
    return week.usage.teams[TEAM_USAGE_COLUMNS].round(1)


def team_cost_table(week: FleetWeekResult) -> pd.DataFrame:
    """Per team: cost, its used and wasted parts, and the cost of one busy GPU-hour."""
    return week.cost.teams[TEAM_COST_COLUMNS].round(2)


def wasteful_jobs_table(week: FleetWeekResult, n: int = 10) -> pd.DataFrame:
    """The ``n`` jobs with the largest wasted cost, one row each (``job`` a column)."""
    return week.cost.jobs.nlargest(n, "waste_cost")[JOB_COLUMNS].round(1).reset_index()


def nodes_table(week: FleetWeekResult) -> pd.DataFrame:
    """Per node: model, main team, utilization, cost, waste and idle/stalled/missing hours."""
    return week.cost.nodes[NODE_COLUMNS].round(1)
