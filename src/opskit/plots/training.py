"""Plots of a training incident: loss per rank with NaN/spike markers, last step per rank, memory against capacity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from opskit.analyses.memory.estimate import MemoryEstimate
from opskit.analyses.training.progress import TrainingResult
from opskit.plots import STATUS_COLOURS, draw_threshold, new_axes


def plot_loss_by_rank(result: TrainingResult, *, ax: Axes | None = None, max_ranks: int = 16) -> Axes:
    """Loss against step, one line per rank; NaN/inf losses as red crosses at the top, spikes circled."""
    ax = new_axes(ax, figsize=(9, 4))
    records = result.records
    ranks = sorted(records["rank"].unique())[:max_ranks]
    finite = records[np.isfinite(records["loss"].to_numpy(dtype=float))]
    top = float(finite["loss"].max()) if not finite.empty else 1.0
    for rank in ranks:
        group = finite[finite["rank"] == rank].sort_values("step")
        ax.plot(group["step"].astype(float), group["loss"], linewidth=0.9, label=f"rank {rank}")
    if not result.nonfinite.empty:
        ax.scatter(
            result.nonfinite["step"].astype(float),
            np.full(len(result.nonfinite), top),
            marker="x",
            s=60,
            color=STATUS_COLOURS["FAIL"],
            zorder=5,
            label="NaN/inf loss (drawn at top)",
        )
    if not result.spikes.empty:
        ax.scatter(
            result.spikes["step"].astype(float),
            result.spikes["loss"],
            s=90,
            facecolors="none",
            edgecolors=STATUS_COLOURS["WARN"],
            linewidths=1.5,
            zorder=5,
            label=f"spike (robust z > {result.settings.spike_z:g})",
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("Training loss per rank")
    # outside the axes, on the right: inside, it covered the NaN markers drawn along the top
    ax.legend(fontsize=7, ncol=2 if len(ranks) > 8 else 1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_last_step_by_rank(result: TrainingResult, *, ax: Axes | None = None) -> Axes:
    """Last step reached per rank; lagging ranks in red, the rank that stopped first labelled."""
    ax = new_axes(ax, figsize=(8, 3))
    ranks = result.ranks.sort_values("rank")
    lagging = set(result.lagging_ranks)
    colours = [
        STATUS_COLOURS["FAIL"] if r == result.first_stopped_rank or r in lagging else STATUS_COLOURS["PASS"]
        for r in ranks["rank"]
    ]
    ax.bar(ranks["rank"].astype(str), ranks["last_step"], color=colours)
    if result.max_step is not None:
        draw_threshold(ax, float(result.max_step), f"furthest rank: step {result.max_step}", colour="#616161")
    low = float(ranks["last_step"].min())
    high = float(ranks["last_step"].max())
    margin = max(1.0, (high - low) * 0.5, high * 0.01)
    ax.set_ylim(max(0.0, low - margin), high + margin)
    if result.first_stopped_rank is not None:
        ax.set_title(f"Last step per rank: rank {result.first_stopped_rank} stopped first")
    else:
        ax.set_title("Last step per rank")
    ax.set_xlabel("rank")
    ax.set_ylabel("last step reached")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_memory_breakdown(
    estimate: MemoryEstimate, *, ax: Axes | None = None, observed_gib: float | None = None
) -> Axes:
    """Stacked bar of the estimated GiB per GPU by component, against the GPU capacity (and the OOM's in-use)."""
    ax = new_axes(ax, figsize=(8, 2.8))
    frame: pd.DataFrame = estimate.to_frame()
    left = 0.0
    palette = ["#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#9e9e9e"]
    for (_, row), colour in zip(frame.iterrows(), palette, strict=False):
        ax.barh(["estimate"], [row["gib_per_gpu"]], left=left, color=colour, label=f"{row['component']}")
        left += row["gib_per_gpu"]
    if estimate.capacity_gib > 0:
        draw_threshold(ax, estimate.capacity_gib, f"capacity {estimate.capacity_gib:.1f} GiB", axis="x")
    if observed_gib:
        draw_threshold(ax, observed_gib, f"in use at OOM {observed_gib:.1f} GiB", axis="x", colour="#616161")
    ax.set_xlabel("GiB per GPU")
    ax.set_title(f"Estimated memory per GPU: {estimate.total_gib:.1f} GiB")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax
