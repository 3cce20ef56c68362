"""Plots of a :class:`~opskit.analyses.latency.result.LatencyResult`: each takes ``ax=None`` and returns the Axes."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
from matplotlib.axes import Axes

from opskit.analyses.latency.result import LatencyResult
from opskit.plots import draw_threshold, new_axes

_BREACH = "#c62828"
_SPIKE = "#ef6c00"
_CHANGE = "#6a1b9a"


def _time_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("time (UTC)")


def plot_latency_timeline(result: LatencyResult, *, ax: Axes | None = None) -> Axes:
    """p50/p95/p99 per bucket with the SLO, breach periods (red), load spikes (orange) and regime changes."""
    ax = new_axes(ax, figsize=(11, 4))
    data = result.by_bucket[result.by_bucket["requests"] > 0]
    x = data["start"].dt.tz_localize(None)
    for column, label, width in (("p50_ms", "p50", 0.8), ("p95_ms", "p95", 1.2), ("p99_ms", "p99", 0.8)):
        ax.plot(x, data[column], linewidth=width, label=label)
    draw_threshold(ax, result.thresholds.slo_ms, f"SLO {result.slo_label}")
    for i, b in enumerate(result.breaches.itertuples()):
        ax.axvspan(b.start.tz_localize(None), b.end.tz_localize(None), color=_BREACH, alpha=0.08, lw=0,
                   label="SLO breach" if i == 0 else None)  # fmt: skip
    for i, s in enumerate(result.spikes.itertuples()):
        ax.axvspan(s.start.tz_localize(None), s.end.tz_localize(None), color=_SPIKE, alpha=0.3, lw=0,
                   label="load spike" if i == 0 else None)  # fmt: skip
    for i, c in enumerate(result.changes.itertuples()):
        ax.axvline(c.at.tz_localize(None), color=_CHANGE, linestyle=":", linewidth=1.2,
                   label="regime change" if i == 0 else None)  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylabel(f"latency per {result.thresholds.bucket} (ms, log)")
    ax.set_title("Latency quantiles per time bucket")
    _time_axis(ax)
    ax.legend(loc="upper left", fontsize=8, ncols=4)
    return ax


def plot_version_latency(result: LatencyResult, *, ax: Axes | None = None) -> Axes:
    """p95 per bucket of each model version, with each rollout marked."""
    ax = new_axes(ax, figsize=(11, 3.5))
    data = result.by_bucket_version[result.by_bucket_version["requests"] >= result.thresholds.min_bucket_requests]
    for version, part in data.groupby("model_version", observed=True):
        ax.plot(part["start"].dt.tz_localize(None), part["p95_ms"], linewidth=0.9, label=str(version))
    for v in result.by_version.dropna(subset=["rollout_at"]).itertuples():
        ax.axvline(v.rollout_at.tz_localize(None), color="#424242", linestyle="--", linewidth=1)
        at = (v.rollout_at.tz_localize(None), 1)
        ax.annotate(f"rollout {v.model_version}", at, xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize=8)  # fmt: skip
    draw_threshold(ax, result.thresholds.slo_ms, "SLO")
    ax.set_yscale("log")
    ax.set_ylabel("p95 (ms, log)")
    ax.set_title("p95 by model version")
    _time_axis(ax)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_burn_rates(result: LatencyResult, *, ax: Axes | None = None) -> Axes:
    """Long-window burn rate of each alert rule (per minute) against its factor."""
    ax = new_axes(ax, figsize=(11, 3.5))
    series = result.burn_series
    x = series["minute"].dt.tz_localize(None)
    for rule in result.burn.itertuples():
        values = series[f"{rule.rule} long"]
        (drawn,) = ax.plot(x, values, linewidth=0.9, label=f"{rule.rule} (x{rule.factor:g})")
        ax.axhline(rule.factor, color=drawn.get_color(), linestyle="--", linewidth=0.8)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylabel("burn rate (x budget)")
    ax.set_title(f"Error-budget burn rate, long windows (budget {result.thresholds.budget:.0%} of requests)")
    _time_axis(ax)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_load_vs_latency(result: LatencyResult, *, ax: Axes | None = None) -> Axes:
    """p95 against requests per second, one point per bucket; colour is GPU utilisation when known."""
    ax = new_axes(ax, figsize=(6, 4))
    data = result.by_bucket[result.by_bucket["requests"] >= result.thresholds.min_bucket_requests]
    if "gpu_util_pct" in data and data["gpu_util_pct"].notna().any():
        points = ax.scatter(data["rps"], data["p95_ms"], c=data["gpu_util_pct"], s=6, cmap="viridis", vmin=0, vmax=100)
        ax.figure.colorbar(points, ax=ax, label="GPU utilisation (%)")
    else:
        ax.scatter(data["rps"], data["p95_ms"], s=6)
    draw_threshold(ax, result.thresholds.slo_ms, "SLO")
    ax.set_xlabel("load (requests per second)")
    ax.set_ylabel("p95 (ms)")
    ax.set_yscale("log")
    ax.set_title("Latency against load")
    return ax


def plot_latency_breakdown(result: LatencyResult, *, ax: Axes | None = None) -> Axes:
    """Mean queue, compute and other time of all requests and of slow requests (stacked bars)."""
    ax = new_axes(ax, figsize=(6, 3))
    table = result.breakdown
    if table.empty:
        ax.text(0.5, 0.5, "no queue_ms/gpu_ms columns", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    labels = ["all requests", f"slow (> {result.thresholds.slo_ms:g} ms)"]
    left = np.zeros(2)
    for row in table.itertuples():
        values = np.array([row.mean_all_ms, row.mean_slow_ms])
        ax.barh(labels, values, left=left, label=row.component)
        left += np.nan_to_num(values)
    ax.set_xlabel("mean time per request (ms)")
    ax.set_title("Where the time goes")
    ax.legend(fontsize=8, loc="lower right")
    return ax
