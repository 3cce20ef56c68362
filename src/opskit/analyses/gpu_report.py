"""The weekly GPU utilization and cost report, assembled: inputs, analyses, verdicts and a chat summary.

``runbooks/report_gpu_cost.ipynb`` narrates this module: :func:`load_samples` reads any supported
source into the hourly rollup (Parquet in SQL when duckdb is installed, nvidia-smi CSV, dcgm-exporter
scrapes, long tables, Prometheus ``query_range``), :func:`build_report` computes the week and the one
before, :func:`checks` judges it, and :func:`chat_summary` writes the short Markdown for chat tools.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from opskit.analyses.gpu_cost import CostResult, compute_costs, load_prices
from opskit.analyses.gpu_recommendations import (
    RecommendationResult,
    RecommendationSettings,
    compare_weeks,
    recommend,
)
from opskit.analyses.gpu_rollup import Rollup, rollup_hourly, rollup_parquet
from opskit.analyses.gpu_usage import UNATTRIBUTED, UsageResult, UsageThresholds, analyze_gpu_usage, parse_week
from opskit.checks import Status, Verdict, VerdictTable, error_verdict, run_checks
from opskit.errors import InputError

FORMATS = ("auto", "parquet", "nvidia-smi", "dcgm", "table", "prometheus")


def _suffix(path: Path) -> str:
    """``.csv`` for ``host.csv`` and ``host.csv.gz``."""
    name = path.name.lower().removesuffix(".gz")
    return Path(name).suffix


def detect_format(source: str) -> str:
    """The input format of ``source`` from its scheme, suffix (``.gz`` ignored) or first line."""
    if source.startswith(("http://", "https://")):
        return "prometheus"
    p = Path(source)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        suffixes = {_suffix(f) for f in files}
        if suffixes & {".parquet", ".pq"}:
            return "parquet"
        if suffixes & {".prom", ".txt", ".metrics"}:
            return "dcgm"
        if ".csv" in suffixes:
            return _csv_kind(next(f for f in files if _suffix(f) == ".csv"))
        raise InputError("no GPU sample files in this folder", path=p, hint="Parquet, nvidia-smi CSV or .prom files")
    suffix = _suffix(p)
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".prom", ".txt", ".metrics"):
        return "dcgm"
    if suffix == ".csv":
        return _csv_kind(p) if p.exists() else "table"
    return "table"


def _csv_kind(path: Path) -> str:
    """``nvidia-smi`` when the header names nvidia-smi query fields, else ``table``."""
    import gzip

    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            head = fh.readline().lower()
    except OSError:
        return "table"
    return "nvidia-smi" if "utilization.gpu" in head or "memory.used" in head else "table"


def _read_frame(source: str, fmt: str, columns: Mapping[str, str] | None, week: str, prometheus_step: str):
    if fmt == "nvidia-smi":
        from opskit.sources.nvidia_smi import read_nvidia_smi_csv

        return read_nvidia_smi_csv(source)
    if fmt == "dcgm":
        from opskit.sources.dcgm import read_dcgm_scrapes

        return read_dcgm_scrapes(source)
    if fmt == "table":
        from opskit.sources.gpu_tables import read_gpu_table

        return read_gpu_table(source, columns=dict(columns or {}) or None)
    if fmt == "prometheus":
        from opskit.sources.prometheus import read_prometheus_gpus

        if week:
            _, start, end = parse_week(week)
        else:  # the last full ISO week before now
            now = pd.Timestamp.now(tz="UTC").normalize()
            end = now - pd.Timedelta(days=now.weekday())
            start = end - pd.Timedelta(days=7)
        return read_prometheus_gpus(source, start - pd.Timedelta(days=7), end, step=prometheus_step)
    raise InputError(f"unknown input format {fmt!r}", column="source_format", hint="one of " + ", ".join(FORMATS))


def load_samples(
    source: str | Path,
    *,
    attribution: str | Path | None = None,
    source_format: str = "auto",
    columns: Mapping[str, str] | None = None,
    week: str = "",
    engine: str = "auto",
    prometheus_step: str = "1h",
) -> tuple[Rollup, str]:
    """Read GPU samples from any supported source into the hourly rollup, joined to teams.

    Returns the rollup and the format read. Parquet is rolled up in SQL (duckdb) reading only the
    needed columns; other formats are read into a frame first. With ``attribution`` (a mapping
    file), teams and projects are joined; rows no rule matches are ``unattributed``, never dropped.
    """
    text = str(source)
    fmt = detect_format(text) if source_format == "auto" else source_format
    if fmt not in FORMATS:
        raise InputError(f"unknown input format {fmt!r}", column="source_format", hint="one of " + ", ".join(FORMATS))
    if fmt == "parquet" and not columns:
        rollup = rollup_parquet(text, engine=engine)
    else:
        rollup = rollup_hourly(_read_frame(text, fmt, columns, week, prometheus_step), path=text)
    if attribution:
        from opskit.sources.attribution import attribute

        frame = attribute(rollup.frame, Path(str(attribution)).expanduser())
        rollup = Rollup(frame, rollup.interval_s, rollup.samples, rollup.duplicates, rollup.out_of_order, rollup.engine)
    return rollup, fmt


@dataclass(frozen=True)
class GpuReport:
    """One week's usage, cost and recommendations, with the week before when the data has it."""

    rollup: Rollup
    usage: UsageResult
    cost: CostResult
    recommendations: RecommendationResult
    previous_usage: UsageResult | None
    previous_cost: CostResult | None
    week_over_week: pd.DataFrame
    prices: pd.DataFrame  # the whole price table used (bundled and user rows)
    budgets: Mapping[str, float]

    @property
    def figures(self) -> dict[str, object]:
        """Key figures for ``summary.json``."""
        t, c = self.usage.totals, self.cost.totals
        figures: dict[str, object] = {
            "week": self.usage.week,
            "gpus": t["gpus"],
            "gpu_hours": round(t["gpu_hours"], 1),
            "busy_gpu_hours": round(t["busy_gpu_hours"], 1),
            "util_mean_pct": round(t["util_mean_pct"], 1),
            "currency": self.cost.currency,
            "pricing": self.cost.pricing,
            "cost": _round(c["cost"]),
            "used_cost": _round(c["used_cost"]),
            "waste_cost": _round(c["waste_cost"]),
            "idle_cost": _round(c["idle_cost"]),
            "idle_gpu_hours": round(t["idle_gpu_hours"], 1),
            "stalled_gpu_hours": round(t["stalled_gpu_hours"], 1),
            "gap_gpu_hours": round(t["gap_gpu_hours"], 1),
            "unpriced_gpus": c["unpriced_gpus"],
            "savings_per_week": _round(self.recommendations.total_savings),
            "recommendations": len(self.recommendations.items),
        }
        if self.previous_usage is not None:
            before = self.previous_usage.totals
            figures["previous_week"] = self.previous_usage.week
            figures["util_mean_pct_change"] = round(t["util_mean_pct"] - before["util_mean_pct"], 1)
            figures["waste_cost_change"] = _round(c["waste_cost"] - self.previous_cost.totals["waste_cost"])
        return figures


def _round(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 2)


def build_report(
    rollup: Rollup,
    *,
    week: str = "",
    prices: str | Path | None = None,
    pricing: str = "on_demand",
    currency: str = "USD",
    thresholds: UsageThresholds | None = None,
    settings: RecommendationSettings | None = None,
    budgets: Mapping[str, float] | None = None,
) -> GpuReport:
    """Usage, cost and recommendations of ``week`` (default: the last full ISO week), and the week before."""
    table = load_prices(prices)
    usage = analyze_gpu_usage(rollup.frame, interval_s=rollup.interval_s, week=week or None, thresholds=thresholds)
    cost = compute_costs(usage, table, pricing=pricing, currency=currency)
    previous_label = _week_before(usage)
    prev_usage = prev_cost = None
    if previous_label in usage.weeks_available:
        prev_usage = analyze_gpu_usage(
            rollup.frame, interval_s=rollup.interval_s, week=previous_label, thresholds=thresholds
        )
        prev_cost = compute_costs(prev_usage, table, pricing=pricing, currency=currency)
    return GpuReport(
        rollup=rollup,
        usage=usage,
        cost=cost,
        recommendations=recommend(usage, cost, settings),
        previous_usage=prev_usage,
        previous_cost=prev_cost,
        week_over_week=compare_weeks(cost, prev_cost),
        prices=table,
        budgets=dict(budgets or {}),
    )


def _week_before(usage: UsageResult) -> str:
    iso = (usage.start - pd.Timedelta(days=7)).isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def _money(x: float, currency: str) -> str:
    return "unknown" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f} {currency}"


def _span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{start:%a %Y-%m-%d %H:%M} to {end:%a %H:%M} UTC"


def _gpu_list(gpus) -> str:
    gpus = sorted(int(g) for g in gpus)
    return f"GPU {gpus[0]}" if len(gpus) == 1 else "GPUs " + ",".join(map(str, gpus))


def _recommendation_for(report: GpuReport, kind: str, subject: str) -> str | None:
    for r in report.recommendations.items:
        if r.kind == kind and r.subject == subject:
            return f"{r.action} (saves {_money(r.savings_per_week, r.currency)}/week)"
    return None


def check_teams(report: GpuReport) -> list[Verdict]:
    """One verdict per team: under the utilization floor (FAIL), over its budget (FAIL), else PASS."""
    th, cur = report.usage.thresholds, report.cost.currency
    out = []
    for team, t in report.cost.teams.iterrows():
        evidence = (
            f"{int(t['gpus'])} GPUs, {t['gpu_hours']:,.0f} GPU-hours, p95 {t['util_p95_pct']:.0f} %, cost "
            f"{_money(t['cost'], cur)} of which unused {_money(t['unused_cost'], cur)}"
        )
        budget = report.budgets.get(str(team))
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
                next_step=(
                    _recommendation_for(report, "consolidate", str(team)) or "pack the team's work on fewer GPUs"
                )
                if under
                else None,
            )
        )
    return out


def check_idle(report: GpuReport) -> list[Verdict]:
    """Per node: GPUs idle for hours at a stretch; FAIL when idle most of the week (a reservation nobody uses)."""
    u, c = report.usage, report.cost
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
    share = report.recommendations.settings.release_idle_share
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
                    f"{_money(float(gpus['idle_cost'].sum(min_count=1)), c.currency)}"
                ),
                message=(
                    f"{len(part['gpu'].unique())} GPUs idle most of the week: a reservation nobody uses"
                    if mostly
                    else f"{len(part['gpu'].unique())} GPUs idle for {longest['hours']:g} h or more at a stretch"
                ),
                next_step=_recommendation_for(report, "release", str(host))
                or "ask the owning team whether these GPUs are still needed",
            )
        )
    return out


def check_stalled(report: GpuReport) -> list[Verdict]:
    """Per node: hours of high utilization with SM activity (or power) near idle: a hung job."""
    u, c = report.usage, report.cost
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
                    f"cost {_money(cost, c.currency)}"
                ),
                message=f"job {', '.join(jobs)} busy but stalled on {len(part['gpu'].unique())} GPUs",
                next_step=(
                    "a hung collective (NCCL) looks like this: read the job's logs around the start "
                    "(opskit run triage_job), and set a collective timeout so a hang fails fast"
                ),
            )
        )
    return out


def check_gaps(report: GpuReport) -> list[Verdict]:
    """Per node: hours without samples between a GPU's first and last sample (reported, not idle)."""
    u = report.usage
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


def check_prices(report: GpuReport) -> list[Verdict]:
    """Per GPU model without a price: its cost is unknown (not zero)."""
    c = report.cost
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


def check_attribution(report: GpuReport) -> Verdict:
    """GPU-hours no attribution rule matched; they stay in the report as 'unattributed'."""
    teams = report.usage.teams
    hours = float(teams.loc[UNATTRIBUTED, "gpu_hours"]) if UNATTRIBUTED in teams.index else 0.0
    if not hours:
        return Verdict("attribution", Status.PASS, observed=0, unit="unattributed GPU-hours")
    gpus = report.usage.gpus[report.usage.gpus["team"] == UNATTRIBUTED].reset_index()
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


def check_data(report: GpuReport) -> Verdict:
    """How the input looked: duplicates, out-of-order samples, a partial week."""
    r, u = report.rollup, report.usage
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


CHECKS = (
    ("team utilization", check_teams),
    ("idle GPUs", check_idle),
    ("stalled GPUs", check_stalled),
    ("data gaps", check_gaps),
    ("unknown prices", check_prices),
    ("attribution", check_attribution),
    ("input data", check_data),
)


def judge(report: GpuReport) -> VerdictTable:
    """All checks of the report; a check that raises becomes an ERROR row."""
    return run_checks([(name, lambda fn=fn: fn(report)) for name, fn in CHECKS])


def build_and_judge(build: Callable[[], GpuReport]) -> tuple[GpuReport | None, VerdictTable]:
    """Build the report and judge it; when the input cannot be read, one ERROR row says why."""
    try:
        report = build()
    except Exception as exc:  # the verdict table shows the reason first; the notebook still renders
        return None, VerdictTable([error_verdict("input data", exc)])
    return report, judge(report)


def chat_summary(report: GpuReport, verdicts, *, top: int = 3) -> str:
    """A short Markdown summary for chat tools (Slack, Teams, Mattermost)."""
    u, c = report.usage, report.cost
    t, ct = u.totals, c.totals
    cur = c.currency
    line = (
        f"*GPU report {u.week}*: {t['gpus']} GPUs, {t['gpu_hours']:,.0f} GPU-hours, "
        f"mean utilization {t['util_mean_pct']:.0f} %"
    )
    if report.previous_usage is not None:
        delta = t["util_mean_pct"] - report.previous_usage.totals["util_mean_pct"]
        line += f" ({delta:+.0f} pts vs {report.previous_usage.week})"
    lines = [
        line,
        f"Cost {_money(ct['cost'], cur)} ({c.pricing.replace('_', ' ')}): used {_money(ct['used_cost'], cur)}, "
        f"wasted {_money(ct['waste_cost'], cur)} (idle {_money(ct['idle_cost'], cur)})",
    ]
    bad = [v for v in verdicts if v.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    for v in bad[:6]:
        subject = f" {v.subject}" if v.subject else ""
        what = v.message or (f"{v.observed} {v.unit}" if v.observed is not None else "")
        lines.append(f"- {v.status.value} {v.name}{subject}: {what}")
    if len(bad) > 6:
        lines.append(f"- ... and {len(bad) - 6} more in the report")
    recs = report.recommendations.items[:top]
    if recs:
        lines.append(f"Top savings ({_money(report.recommendations.total_savings, cur)}/week in all):")
        lines += [f"- {r.action}: {_money(r.savings_per_week, r.currency)}/week" for r in recs]
    return "\n".join(lines) + "\n"
