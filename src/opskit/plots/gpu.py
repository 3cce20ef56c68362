"""Plots of the weekly GPU utilization and cost report. Each draws on one Axes and returns it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from opskit.analyses.gpu_fleet.cost import CostResult
from opskit.analyses.gpu_fleet.usage import UsageResult
from opskit.plots import draw_threshold, new_axes

PRODUCTIVE = "#2e7d32"
IDLE = "#c62828"
STALLED = "#6a1b9a"
UNDERUSED = "#ef6c00"
FIGURE_LABELS = {
    "util_mean_pct": "mean utilization",
    "waste_cost": "wasted cost",
    "idle_cost": "idle cost",
    "gpu_hours": "GPU-hours",
    "busy_gpu_hours": "busy GPU-hours",
}
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_of_week_matrix(usage: UsageResult, by: str = "host") -> pd.DataFrame:
    """Mean utilization (%) per ``by`` (host or team) and hour of the week (0 = Monday 00:00 UTC)."""
    h = usage.hourly
    how = ((h["hour"] - usage.start) / pd.Timedelta(hours=1)).astype(int)
    weights = h["util_pct_known_s"]
    frame = pd.DataFrame({by: h[by], "how": how, "u": h["util_pct_s"], "w": weights})
    sums = frame.groupby([by, "how"])[["u", "w"]].sum()
    matrix = (sums["u"] / sums["w"].replace(0, np.nan)).unstack("how")
    return matrix.reindex(columns=range(168))


def plot_utilization_heatmap(
    usage: UsageResult, *, by: str = "host", max_rows: int = 40, ax: Axes | None = None
) -> Axes:
    """Hour-of-week heatmap of mean utilization per node or team; white cells have no data (gaps).

    With more than ``max_rows`` nodes or teams, the ``max_rows`` with the most GPU-hours are shown.
    """
    matrix = hour_of_week_matrix(usage, by)
    total = len(matrix)
    if total > max_rows:
        hours = usage.hourly.groupby(by)["coverage"].sum()
        matrix = matrix.loc[sorted(hours.nlargest(max_rows).index)]
    ax = new_axes(ax, figsize=(11, 0.3 * len(matrix) + 1.5))
    image = ax.imshow(matrix.to_numpy(float), aspect="auto", cmap="viridis", vmin=0, vmax=100, interpolation="none")
    ax.set_yticks(range(len(matrix)), [str(i) for i in matrix.index])
    ax.set_xticks([24 * d + 12 for d in range(7)], DAYS)
    for d in range(1, 7):
        ax.axvline(24 * d - 0.5, color="white", linewidth=0.8)
    ax.set_xlabel(f"hour of week {usage.week} (UTC)")
    shown = f" ({len(matrix)} of {total} with the most GPU-hours)" if total > len(matrix) else ""
    ax.set_title(f"GPU utilization by {by}, hour of week{shown}")
    ax.figure.colorbar(image, ax=ax, label="mean utilization (%)", pad=0.01)
    return ax


def plot_utilization_distribution(usage: UsageResult, *, ax: Axes | None = None) -> Axes:
    """Distribution of hourly GPU utilization per team, with the hot and underused thresholds."""
    h = usage.hourly
    teams = sorted(h["team"].dropna().unique())
    ax = new_axes(ax, figsize=(8, 0.45 * len(teams) + 1.5))
    data = [h.loc[h["team"] == t, "util_mean_pct"].dropna().to_numpy() for t in teams]
    ax.boxplot(data, orientation="horizontal", tick_labels=teams, whis=(5, 95), showfliers=False)
    means = [d.mean() if len(d) else np.nan for d in data]
    ax.scatter(means, range(1, len(teams) + 1), marker="D", color="black", zorder=3, label="mean")
    th = usage.thresholds
    draw_threshold(ax, th.hot_pct, f"hot > {th.hot_pct:g} %", axis="x", colour=IDLE)
    draw_threshold(ax, th.underused_pct, f"underused < {th.underused_pct:g} %", axis="x", colour=UNDERUSED)
    ax.set_xlim(0, 100)
    ax.set_xlabel("hourly GPU utilization (%) — box: quartiles, whiskers: p5-p95")
    ax.set_title("Utilization per team")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return ax


def cost_breakdown(cost: CostResult, by: str = "team") -> pd.DataFrame:
    """Per team (or node): productive, stalled, idle and other unused cost; the parts sum to the cost."""
    frame = cost.teams if by == "team" else cost.nodes
    out = pd.DataFrame(index=frame.index)
    out["idle"] = frame["idle_cost"].fillna(0)
    out["stalled"] = (frame["waste_cost"] - frame["unused_cost"]).fillna(0)
    out["unused"] = (frame["waste_cost"] - out["idle"] - out["stalled"]).clip(lower=0).fillna(0)
    out["productive"] = (frame["cost"] - frame["waste_cost"]).clip(lower=0).fillna(0)
    return out[["productive", "unused", "stalled", "idle"]].sort_values("productive")


def plot_cost_by_team(cost: CostResult, *, by: str = "team", ax: Axes | None = None) -> Axes:
    """Stacked bars of the week's cost per team: productive, underused, stalled and idle."""
    parts = cost_breakdown(cost, by)
    ax = new_axes(ax, figsize=(8, 0.45 * len(parts) + 1.5))
    left = np.zeros(len(parts))
    colours = {"productive": PRODUCTIVE, "unused": UNDERUSED, "stalled": STALLED, "idle": IDLE}
    labels = {"productive": "used", "unused": "unused (low utilization)", "stalled": "stalled", "idle": "idle"}
    for col in parts.columns:
        ax.barh([str(i) for i in parts.index], parts[col], left=left, color=colours[col], label=labels[col])
        left += parts[col].to_numpy()
    ax.set_xlabel(f"cost per week ({cost.currency}, {cost.pricing.replace('_', ' ')})")
    ax.set_title(f"Cost and waste per {by}, {cost.week}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return ax


def plot_top_wasteful_jobs(cost: CostResult, *, n: int = 10, ax: Axes | None = None) -> Axes:
    """The jobs whose GPU-hours were wasted most (unused plus stalled cost), largest at the top."""
    jobs = cost.jobs.dropna(subset=["waste_cost"]).nlargest(n, "waste_cost").iloc[::-1]
    ax = new_axes(ax, figsize=(8, 0.4 * max(len(jobs), 1) + 1.5))
    labels = [f"{job} ({team})" for job, team in zip(jobs.index, jobs["team"], strict=True)]
    stalled = (jobs["waste_cost"] - jobs["unused_cost"]).clip(lower=0)
    ax.barh(labels, jobs["unused_cost"], color=UNDERUSED, label="unused")
    ax.barh(labels, stalled, left=jobs["unused_cost"], color=STALLED, label="stalled")
    ax.set_xlabel(f"wasted cost per week ({cost.currency})")
    ax.set_title(f"Top {len(jobs)} wasteful jobs")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_week_over_week(wow: pd.DataFrame, *, figure: str = "cost", unit: str = "", ax: Axes | None = None) -> Axes:
    """Bars of one figure per team, this week beside last week (from ``compare_weeks``)."""
    frame = wow.drop(index="all", errors="ignore")
    ax = new_axes(ax, figsize=(8, 3.2))
    x = np.arange(len(frame))
    now = frame[f"{figure}_now"]
    ax.bar(x + 0.2, now, width=0.4, color="#1565c0", label="this week")
    if f"{figure}_before" in frame.columns:
        ax.bar(x - 0.2, frame[f"{figure}_before"], width=0.4, color="#90a4ae", label="last week")
    ax.set_xticks(x, [str(i) for i in frame.index])
    label = FIGURE_LABELS.get(figure, figure.replace("_", " "))
    ax.set_ylabel(f"{label}{f' ({unit})' if unit else ''}")
    ax.set_title(f"{label[0].upper()}{label[1:]} per team, week over week")
    ax.legend(fontsize=8)
    return ax


def plot_week_over_week_pair(wow: pd.DataFrame, *, currency: str = "", axes: np.ndarray | None = None) -> np.ndarray:
    """Mean utilization and wasted cost per team, this week beside last week, on two Axes side by side."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(12, 3.4), layout="constrained")
    plot_week_over_week(wow, figure="util_mean_pct", unit="%", ax=axes[0])
    plot_week_over_week(wow, figure="waste_cost", unit=currency, ax=axes[1])
    return axes
