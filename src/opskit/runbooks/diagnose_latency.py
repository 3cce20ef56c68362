"""What the ``diagnose_latency`` runbook shows: inputs read and judged in one call, and its section tables.

:func:`judge_latency` reads the request log (and GPU metrics), analyses and judges it; input that
cannot be read becomes an ERROR row, so the report still renders. The other functions turn a
:class:`~opskit.analyses.latency.analysis.LatencyResult` into the text and tables of the runbook's sections.
Nothing here displays: functions return a :class:`~opskit.checks.VerdictTable`, DataFrames and
Markdown text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from opskit.analyses.latency.analysis import LatencyResult, LatencyThresholds, analyze_latency
from opskit.analyses.latency.verdicts import latency_verdicts
from opskit.checks import Status, Verdict, VerdictTable, run_checks
from opskit.samples import resolve
from opskit.sources.requests import read_gpu_metrics, read_requests

VERSION_COLUMNS = (
    "endpoint",
    "model_version",
    "requests",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "slo_q_vs_fastest",
    "slow_pct",
    "error_pct",
    "first_seen",
    "rollout_at",
    "slow_version",
    "median_gpu_ms",
)


def judge_latency(
    requests: str,
    *,
    gpu_metrics: str | None = None,
    thresholds: LatencyThresholds | None = None,
    columns: Mapping[str, str] | None = None,
    fmt: str = "auto",
    latency_unit: str | None = None,
    engine: str = "auto",
) -> tuple[LatencyResult | None, VerdictTable]:
    """Read, analyse and judge a request log; the result is None when the requests could not be read.

    ``requests`` and ``gpu_metrics`` are paths or ``sample:<scenario>`` names. Two checks run: ``GPU
    metrics`` (SKIP when none are given; an ERROR row when they cannot be read, and the requests are
    then analysed without them) and ``requests`` (the verdicts of
    :func:`~opskit.analyses.latency.verdicts.latency_verdicts`, or one ERROR row for bad input).
    """
    loaded: dict[str, Any] = {}

    def check_gpu_metrics():
        if not gpu_metrics:
            return Verdict("GPU metrics", Status.SKIP, message="no GPU metrics given (-p gpu_metrics FILE)")
        loaded["gpu"] = read_gpu_metrics(resolve(gpu_metrics))
        return []

    def check_requests():
        frame = read_requests(resolve(requests), columns=dict(columns or {}), fmt=fmt, latency_unit=latency_unit)
        loaded["result"] = analyze_latency(frame, thresholds, gpu=loaded.get("gpu"), engine=engine)
        return latency_verdicts(loaded["result"])

    verdicts = run_checks([("GPU metrics", check_gpu_metrics), ("requests", check_requests)])
    return loaded.get("result"), verdicts


def rounded(frame: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Round the numeric columns only (times and text stay as they are)."""
    return frame.round({c: digits for c in frame.select_dtypes("number").columns})


def latency_overview(result: LatencyResult | None) -> str:
    """One Markdown sentence: requests, time span, quantiles, share slow and failed, quantile engine."""
    if result is None:
        return "The requests could not be analysed: see the ERROR row above."
    o = result.overall
    return (
        f"**{result.requests:,} requests** from {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC; "
        f"p50 {o['p50_ms']:.0f} ms, p95 {o['p95_ms']:.0f} ms, p99 {o['p99_ms']:.0f} ms; "
        f"{o['slow_fraction']:.2%} slower than {result.thresholds.slo_ms:g} ms (SLO {result.slo_label}); "
        f"{o['error_fraction']:.2%} server errors; quantiles by {result.engine}."
    )


def causes_note(result: LatencyResult) -> str:
    """What the causes table holds, or why it is empty."""
    if len(result.causes):
        return f"{len(result.causes)} likely causes, most of the budget first:"
    return "No cause stands out: latency is within the SLO or the slow requests are spread evenly."


def cause_table(result: LatencyResult) -> pd.DataFrame:
    """The ranked causes with their budget share in percent (column ``% of slow requests``)."""
    shown = result.causes.assign(budget_share=(100 * result.causes["budget_share"]).round(1))
    return shown.rename(columns={"budget_share": "% of slow requests"})


def breaches_note(result: LatencyResult) -> str:
    """How many breach periods and minutes in all, or that there was none."""
    if len(result.breaches) == 0:
        return "No breach period: no bucket had its quantile over the SLO."
    total = result.breaches["duration_min"].sum()
    return f"{len(result.breaches)} breach periods, {total:,.0f} min in all; the longest:"


def longest_breaches(result: LatencyResult, n: int = 10) -> pd.DataFrame:
    """The ``n`` longest breach periods, longest first."""
    return result.breaches.sort_values("duration_min", ascending=False).head(n)


def version_table(result: LatencyResult) -> pd.DataFrame:
    """Per endpoint and version: requests, quantiles, ratio to the fastest version, rollout (``VERSION_COLUMNS``)."""
    return result.by_version[[c for c in VERSION_COLUMNS if c in result.by_version]]


def table_note(frame: pd.DataFrame, title: str, empty: str) -> str:
    """``**title**`` over a table with rows, else the ``empty`` sentence."""
    return f"**{title}**" if len(frame) else empty


def figures_table(figures: Mapping[str, Any], title: str) -> pd.DataFrame:
    """A dict of figures (``result.cold_starts``, ``result.pathological``) as a one-column table named ``title``."""
    return pd.DataFrame({title: pd.Series(dict(figures), dtype=object)})


def with_rows(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    """The frames that have rows, in order: ``display(*with_rows(table))`` shows a table only when it has rows."""
    return [frame for frame in frames if len(frame)]
