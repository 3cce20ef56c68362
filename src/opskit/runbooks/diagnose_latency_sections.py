"""The sections of the ``diagnose_latency`` runbook, from a :class:`LatencyResult` to what a cell shows.

The functions that end in a display value (:func:`overview`, :func:`likely_causes`, ...) return
masked Markdown, tables and groups of them (:mod:`opskit.runbooks.display`); the helpers before them
return plain text and DataFrames. All take a result that exists: the runbook's result says
"unavailable" itself when the requests could not be analysed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from opskit.analyses.latency.result import LatencyResult
from opskit.runbooks.display import Markdown, Outputs, table

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


# -- text and tables --------------------------------------------------------------------------


def rounded(frame: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """Round the numeric columns only (times and text stay as they are)."""
    return frame.round({c: digits for c in frame.select_dtypes("number").columns})


def latency_overview(result: LatencyResult) -> str:
    """One Markdown sentence: requests, time span, quantiles, share slow and failed, quantile engine."""
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
    """The frames that have rows, in order: a note already says when a table is empty."""
    return [frame for frame in frames if len(frame)]


def _masked(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    return [table(frame) for frame in with_rows(*frames)]


# -- what each section shows ------------------------------------------------------------------


def overview(result: LatencyResult) -> Markdown:
    return Markdown(latency_overview(result))


def likely_causes(result: LatencyResult) -> Outputs:
    return Outputs([Markdown(causes_note(result)), *_masked(cause_table(result))])


def breach_periods(result: LatencyResult, n: int = 10) -> Outputs:
    return Outputs([Markdown(breaches_note(result)), *_masked(rounded(longest_breaches(result, n)))])


def burn_rates(result: LatencyResult) -> pd.DataFrame | Markdown:
    return table(rounded(result.burn, 2), empty="No burn-rate rule to show.")


def endpoints_and_versions(result: LatencyResult) -> Outputs:
    return Outputs([table(rounded(result.by_endpoint)), table(rounded(version_table(result), 2))])


def regime_changes_and_load_spikes(result: LatencyResult) -> Outputs:
    return Outputs(
        [
            Markdown(table_note(result.changes, "Regime changes", "No latency regime change found.")),
            *_masked(rounded(result.changes, 2)),
            Markdown(table_note(result.spikes, "Load spikes", "No load spike found.")),
            *_masked(rounded(result.spikes, 2)),
        ]
    )


def latency_breakdown(result: LatencyResult) -> pd.DataFrame | Markdown:
    return table(rounded(result.breakdown, 3), empty="No queue_ms/gpu_ms columns in the requests: no breakdown.")


def load_correlations(result: LatencyResult) -> pd.DataFrame | Markdown:
    return table(rounded(result.correlations, 3), empty="Too few buckets with a varying driver to correlate.")


def cold_starts_and_pathological_inputs(result: LatencyResult) -> Outputs:
    return Outputs(
        [
            table(figures_table(result.cold_starts, "cold starts")),
            table(figures_table(result.pathological, "pathological inputs")),
        ]
    )
