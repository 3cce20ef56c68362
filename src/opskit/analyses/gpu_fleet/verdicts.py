"""The verdicts of the weekly GPU week: teams, idle and stalled GPUs, data gaps, prices, attribution.

One :class:`~opskit.checks.Verdict` per subject (team, node, GPU model, a query the source warned about),
read from a :class:`~opskit.analyses.gpu_fleet.week.FleetWeekResult`. :func:`judge` runs them all; a check
that raises becomes an ERROR row and the others still run. A warning in the source's answers (Prometheus
partial data) is a WARN row, so the report never passes silently on incomplete data.
"""

from __future__ import annotations

import math

import pandas as pd

from opskit.analyses.gpu_fleet.cost import format_money
from opskit.analyses.gpu_fleet.usage import UNATTRIBUTED
from opskit.analyses.gpu_fleet.week import FleetWeekResult
from opskit.checks import Status, Verdict, VerdictTable, run_checks


def _span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{start:%a %Y-%m-%d %H:%M} to {end:%a %H:%M} UTC"


def _gpu_list(gpus) -> str:
    gpus = sorted(int(g) for g in gpus)
    return f"GPU {gpus[0]}" if len(gpus) == 1 else "GPUs " + ",".join(map(str, gpus))


def _recommendation_for(week: FleetWeekResult, kind: str, subject: str) -> str | None:
    for r in week.recommendations.items:
        if r.kind == kind and r.subject == subject:
            return f"{r.action} (saves {format_money(r.savings_per_week, r.currency)}/week)"
    return None


def check_teams(week: FleetWeekResult) -> list[Verdict]:
    """One verdict per team: under the utilization floor (FAIL), over its budget (FAIL), else PASS."""
    th, cur = week.usage.thresholds, week.cost.currency
    out = []
    for team, t in week.cost.teams.iterrows():
        evidence = (
            f"{int(t['gpus'])} GPUs, {t['gpu_hours']:,.0f} GPU-hours, p95 {t['util_p95_pct']:.0f} %, cost "
            f"{format_money(t['cost'], cur)} of which unused {format_money(t['unused_cost'], cur)}"
        )
        budget = week.settings.budgets.get(str(team))
        if budget is not None and not math.isnan(t["cost"]) and t["cost"] > budget:
            out.append(
                Verdict(
                    "team over budget",
                    Status.FAIL,
                    subject=str(team),
                    observed=round(float(t["cost"]), 2),
                    threshold=float(budget),
                    unit=cur,
                    evidence=evidence,
                    next_step="see this team's recommendations below, or raise its budget",
                )
            )
        under = bool(t["underused"])
        out.append(
            Verdict(
                "team utilization",
                Status.FAIL if under else Status.PASS,
                subject=str(team),
                observed=round(float(t["util_mean_pct"]), 1),
                threshold=f">= {th.underused_pct:g} %",
                unit="%",
                evidence=evidence,
                message=(
                    f"{t['util_mean_pct']:.0f} % is under the {th.underused_pct:g} % floor"
                    if under
                    else ("hot" if t["hot"] else None)
                ),
                next_step=(_recommendation_for(week, "consolidate", str(team)) or "pack the team's work on fewer GPUs")
                if under
                else None,
            )
        )
    return out


def check_idle(week: FleetWeekResult) -> list[Verdict]:
    """Per node: GPUs idle for hours at a stretch; FAIL when idle most of the week (a reservation nobody uses)."""
    u, c = week.usage, week.cost
    th = u.thresholds
    if u.idle.empty:
        return [
            Verdict(
                "idle GPUs",
                Status.PASS,
                observed=0,
                threshold=f"{th.idle_min_hours:g} h below {th.idle_pct:g} %",
                unit="GPU-hours",
            )
        ]
    out = []
    share = week.recommendations.settings.release_idle_share
    for host, part in u.idle.groupby("host"):
        gpus = c.gpus.loc[host]
        idle_hours = float(gpus["idle_gpu_hours"].sum())
        mostly = bool((gpus["idle_gpu_hours"] >= share * gpus["gpu_hours"]).any())
        longest = part.loc[part["hours"].idxmax()]
        out.append(
            Verdict(
                "idle GPUs",
                Status.FAIL if mostly else Status.WARN,
                subject=str(host),
                observed=round(idle_hours, 1),
                threshold=f"{th.idle_min_hours:g} h below {th.idle_pct:g} %",
                unit="GPU-hours",
                evidence=(
                    f"{_gpu_list(part['gpu'].unique())} ({longest['team']}) idle, longest "
                    f"{_span(longest['start'], longest['end'])} ({longest['hours']:g} h); idle cost "
                    f"{format_money(float(gpus['idle_cost'].sum(min_count=1)), c.currency)}"
                ),
                message=(
                    f"{len(part['gpu'].unique())} GPUs idle most of the week: a reservation nobody uses"
                    if mostly
                    else f"{len(part['gpu'].unique())} GPUs idle for {longest['hours']:g} h or more at a stretch"
                ),
                next_step=_recommendation_for(week, "release", str(host))
                or "ask the owning team whether these GPUs are still needed",
            )
        )
    return out


def check_stalled(week: FleetWeekResult) -> list[Verdict]:
    """Per node: hours of high utilization with SM activity (or power) near idle: a hung job."""
    u, c = week.usage, week.cost
    th = u.thresholds
    if u.stalled.empty:
        return [
            Verdict(
                "stalled GPUs",
                Status.PASS,
                observed=0,
                threshold=f"util >= {th.stall_util_pct:g} % with SM activity < {th.stall_sm_pct:g} %",
                unit="GPU-hours",
            )
        ]
    out = []
    for host, part in u.stalled.groupby("host"):
        first = part.loc[part["start"].idxmin()]
        jobs = sorted({j for js in part["job"] for j in str(js).split(", ")})
        cost = float(c.gpus.loc[host]["stalled_cost"].sum(min_count=1))
        out.append(
            Verdict(
                "stalled GPUs",
                Status.FAIL,
                subject=str(host),
                observed=float(part["hours"].sum()),
                threshold=f"util >= {th.stall_util_pct:g} % with SM activity < {th.stall_sm_pct:g} %",
                unit="GPU-hours",
                evidence=(
                    f"job {', '.join(jobs)} on {_gpu_list(part['gpu'].unique())}: utilization ~100 % while SM "
                    f"activity and power stayed near idle, {_span(first['start'], part['end'].max())}; "
                    f"cost {format_money(cost, c.currency)}"
                ),
                message=f"job {', '.join(jobs)} busy but stalled on {len(part['gpu'].unique())} GPUs",
                next_step=(
                    "a hung collective (NCCL) looks like this: read the job's logs around the start "
                    "(opskit run triage_job), and set a collective timeout so a hang fails fast"
                ),
            )
        )
    return out


def check_gaps(week: FleetWeekResult) -> list[Verdict]:
    """Per node: hours without samples between a GPU's first and last sample (reported, not idle)."""
    u = week.usage
    th = u.thresholds
    if u.gaps.empty:
        return [Verdict("data gaps", Status.PASS, observed=0, threshold=f"{th.gap_min_hours:g} h", unit="GPU-hours")]
    out = []
    for host, part in u.gaps.groupby("host"):
        spans = part.groupby(["start", "end"])["gpu"].apply(list)
        text = "; ".join(f"{_gpu_list(g)}: no samples {_span(s, e)}" for (s, e), g in spans.items())
        out.append(
            Verdict(
                "data gaps",
                Status.WARN,
                subject=str(host),
                observed=round(float(part["missing_hours"].sum()), 2),
                threshold=f"{th.gap_min_hours:g} h",
                unit="GPU-hours",
                evidence=text,
                message=(
                    f"{part['gpu'].nunique()} GPUs without samples for up to {part['hours'].max():g} h: "
                    "counted as missing, not as idle"
                ),
                next_step="check the exporter or sampler on this node for that time (restarts, scrape errors)",
            )
        )
    return out


def check_prices(week: FleetWeekResult) -> list[Verdict]:
    """Per GPU model without a price: its cost is unknown (not zero)."""
    c = week.cost
    if c.unpriced.empty:
        return [
            Verdict(
                "unknown prices",
                Status.PASS,
                observed=0,
                unit="GPU models",
                message=f"every GPU model has a price ({c.pricing.replace('_', ' ')}, {c.currency})",
            )
        ]
    return [
        Verdict(
            "unknown prices",
            Status.WARN,
            subject=str(row["model"]),
            observed=round(float(row["gpu_hours"]), 1),
            unit="GPU-hours",
            evidence=f"{int(row['gpus'])} GPUs on {row['hosts']}",
            message=f"no {c.pricing} price in {c.currency}: cost shown as unknown, not zero",
            next_step="add the model to a price CSV and pass it as prices=FILE (columns: model,currency,on_demand,...)",
        )
        for _, row in c.unpriced.iterrows()
    ]


def check_attribution(week: FleetWeekResult) -> Verdict:
    """GPU-hours no attribution rule matched; they stay in the report as 'unattributed'."""
    teams = week.usage.teams
    hours = float(teams.loc[UNATTRIBUTED, "gpu_hours"]) if UNATTRIBUTED in teams.index else 0.0
    if not hours:
        return Verdict("attribution", Status.PASS, observed=0, unit="unattributed GPU-hours")
    gpus = week.usage.gpus[week.usage.gpus["team"] == UNATTRIBUTED].reset_index()
    hosts = ", ".join(sorted(set(gpus["host"])))
    return Verdict(
        "attribution",
        Status.WARN,
        subject=UNATTRIBUTED,
        observed=round(hours, 1),
        unit="GPU-hours",
        evidence=f"{len(gpus)} GPUs mostly unattributed on {hosts}",
        next_step="add rules for these hosts or namespaces to the attribution file",
    )


def check_data(week: FleetWeekResult) -> Verdict:
    """How the input looked: duplicates, out-of-order samples, a partial week."""
    r, u = week.rollup, week.usage
    problems = []
    if r.duplicates:
        problems.append(f"{r.duplicates:,} duplicated samples counted once")
    if r.out_of_order:
        problems.append(f"{r.out_of_order:,} samples out of order (sorted)")
    if not u.full_week:
        problems.append(f"{u.week} is not fully covered by the data")
    evidence = f"{r.samples:,} samples every {r.interval_s:g} s read with {r.engine}; weeks present: " + ", ".join(
        u.weeks_available
    )
    return Verdict(
        "input data",
        Status.WARN if problems else Status.PASS,
        observed=r.samples,
        unit="samples",
        evidence=evidence,
        message="; ".join(problems) or None,
        next_step="check for overlapping files or clock skew on the nodes" if problems else None,
    )


def check_source_warnings(week: FleetWeekResult) -> list[Verdict]:
    """One WARN per distinct warning (or info) the source answered with: the figures may rest on partial data.

    The subject is the first query that drew it; the evidence names every query that did.
    """
    queries: dict[tuple[str, str], list[str]] = {}
    for w in week.rollup.source_warnings:
        asked = queries.setdefault((w.level, w.text), [])
        if w.query and w.query not in asked:
            asked.append(w.query)
    out = []
    for (level, text), asked in queries.items():
        partial = level != "info"
        which = f"{len(asked)} queries" if len(asked) > 1 else "the query"
        out.append(
            Verdict(
                "incomplete data" if partial else "query note",
                Status.WARN,
                subject=asked[0] if asked else None,
                observed=len(asked),
                unit="queries",
                evidence=f"Prometheus answered {which} {', '.join(asked) or '(not recorded)'} with the "
                f"{'warning' if partial else 'info'}: {text}",
                message=f"the data may be incomplete: {text}" if partial else f"Prometheus flagged the query: {text}",
                next_step=(
                    "fix what the warning names (a store, remote-read endpoint or ingester down, a limit hit) "
                    "and rerun the report before acting on its figures"
                    if partial
                    else "check the query the info names"
                ),
            )
        )
    return out


CHECKS = (
    ("incomplete data", check_source_warnings),  # first: among equal statuses it leads, it qualifies the rest
    ("team utilization", check_teams),
    ("idle GPUs", check_idle),
    ("stalled GPUs", check_stalled),
    ("data gaps", check_gaps),
    ("unknown prices", check_prices),
    ("attribution", check_attribution),
    ("input data", check_data),
)


def judge(week: FleetWeekResult) -> VerdictTable:
    """All checks of the week; a check that raises becomes an ERROR row."""
    return run_checks([(name, lambda fn=fn: fn(week)) for name, fn in CHECKS])
