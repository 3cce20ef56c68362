"""The weekly GPU utilization and cost report, assembled: inputs, analyses, verdicts and a chat summary.

``runbooks/report_gpu_cost.ipynb`` narrates this module: :func:`load_samples` reads any supported
source into the hourly rollup (Parquet in SQL when duckdb is installed, nvidia-smi CSV, dcgm-exporter
scrapes, long tables, Prometheus ``query_range``), :func:`build_report` computes the week and the one
before, :func:`judge` (from :mod:`opskit.analyses.gpu_fleet.verdicts`) judges it, and :func:`chat_summary`
writes the short Markdown for chat tools.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from opskit.analyses.gpu_fleet.cost import CostResult, compute_costs, load_prices
from opskit.analyses.gpu_fleet.recommendations import (
    RecommendationResult,
    RecommendationSettings,
    compare_weeks,
    recommend,
)
from opskit.analyses.gpu_fleet.rollup import Rollup, rollup_hourly, rollup_parquet
from opskit.analyses.gpu_fleet.usage import UsageResult, UsageThresholds, analyze_gpu_usage, parse_week
from opskit.analyses.gpu_fleet.verdicts import _money, build_and_judge, judge  # noqa: F401 (the runbook calls them here)
from opskit.checks import Status, VerdictTable
from opskit.errors import InputError
from opskit.samples import resolve

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


def resolve_inputs(samples: str, attribution: str | None = "auto") -> tuple[str | Path, Path | None]:
    """The runbook's ``samples`` and ``attribution`` parameters as a source and a mapping file.

    ``sample:NAME`` values are generated (:func:`opskit.samples.resolve`); a Prometheus URL stays a URL.
    ``attribution="auto"`` takes ``attribution.csv`` beside a file source when there is one (else no
    mapping); ``""`` or None means no mapping.
    """
    is_url = samples.startswith(("http://", "https://"))
    source: str | Path = samples if is_url else resolve(samples)
    if not attribution:
        return source, None
    if attribution == "auto":
        beside = None if is_url else Path(source).parent / "attribution.csv"
        return source, beside if beside is not None and beside.exists() else None
    return source, resolve(attribution)


def report_from_inputs(
    samples: str,
    *,
    attribution: str | None = "auto",
    source_format: str = "auto",
    week: str = "",
    prices: str | None = None,
    pricing: str = "on_demand",
    currency: str = "USD",
    thresholds: UsageThresholds | None = None,
    settings: RecommendationSettings | None = None,
    budgets: Mapping[str, float] | None = None,
) -> GpuReport:
    """The report from the runbook's parameters: :func:`resolve_inputs`, :func:`load_samples`, :func:`build_report`."""
    source, mapping = resolve_inputs(samples, attribution)
    rollup, _ = load_samples(source, attribution=mapping, source_format=source_format, week=week)
    return build_report(
        rollup,
        week=week,
        prices=resolve(prices) if prices else None,
        pricing=pricing,
        currency=currency,
        thresholds=thresholds,
        settings=settings,
        budgets=budgets,
    )


def _week_before(usage: UsageResult) -> str:
    iso = (usage.start - pd.Timedelta(days=7)).isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def chat_summary(report: GpuReport | None, verdicts: VerdictTable, *, top: int = 3) -> str:
    """A short Markdown summary for chat tools (Slack, Teams, Mattermost).

    Without a report (the input could not be read), the first verdict row says why.
    """
    if report is None:
        first = verdicts.rows[0].message if len(verdicts.rows) else "no input"
        return f"*GPU report*: no report\n- {first}\n"
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


def save_chat_summary(text: str, report_dir: str | Path | None) -> Path | None:
    """Write ``chat_summary.md`` into ``report_dir`` (the runner's report folder); None: nothing written."""
    if not report_dir:
        return None
    path = Path(report_dir) / "chat_summary.md"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- tables of the report
def at_a_glance(report: GpuReport) -> str:
    """The week's totals as a two-column Markdown table, then the usage notes as quotes."""
    u, c = report.usage, report.cost
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
        ("savings recommended", f"{report.recommendations.total_savings:,.0f} {cur} per week"),
    ]
    if report.previous_usage is not None:
        before = report.previous_usage.totals
        rows.append(
            (
                "vs " + report.previous_usage.week,
                f"utilization {t['util_mean_pct'] - before['util_mean_pct']:+.1f} pts, "
                f"waste {ct['waste_cost'] - report.previous_cost.totals['waste_cost']:+,.0f} {cur}",
            )
        )
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    return "\n\n".join([table, *(f"> **Note**: {note}" for note in u.notes)])


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


def recommendations_table(report: GpuReport) -> pd.DataFrame:
    """The recommendations, largest savings first, savings rounded to whole currency units."""
    recs = report.recommendations.to_frame()
    if recs.empty:
        return recs
    recs["savings_per_week"] = recs["savings_per_week"].round(0)
    return recs[RECOMMENDATION_COLUMNS]


def team_usage_table(report: GpuReport) -> pd.DataFrame:
    """Per team: GPUs, hours, utilization, memory, power, idle/stalled/missing hours, hot/underused flags."""
    return report.usage.teams[TEAM_USAGE_COLUMNS].round(1)


def team_cost_table(report: GpuReport) -> pd.DataFrame:
    """Per team: cost, its used and wasted parts, and the cost of one busy GPU-hour."""
    return report.cost.teams[TEAM_COST_COLUMNS].round(2)


def wasteful_jobs_table(report: GpuReport, n: int = 10) -> pd.DataFrame:
    """The ``n`` jobs with the largest wasted cost, one row each (``job`` a column)."""
    return report.cost.jobs.nlargest(n, "waste_cost")[JOB_COLUMNS].round(1).reset_index()


def nodes_table(report: GpuReport) -> pd.DataFrame:
    """Per node: model, main team, utilization, cost, waste and idle/stalled/missing hours."""
    return report.cost.nodes[NODE_COLUMNS].round(1)
