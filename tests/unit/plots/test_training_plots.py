"""Training incident plots: they draw on the given Axes, label units, mark NaN/spikes and thresholds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from opskit.analyses.memory.estimate import estimate_memory
from opskit.analyses.training.progress import analyze_training
from opskit.plots.training import plot_last_step_by_rank, plot_loss_by_rank, plot_memory_breakdown
from opskit.sources.job_config import JobConfig
from opskit.sources.training_logs import read_training_logs

FIXTURES = Path(__file__).parents[2] / "fixtures" / "training"


@pytest.fixture(scope="module")
def nan_run():
    # one file with torchrun prefixes: rank 1 logs a NaN loss at step 25
    return analyze_training(read_training_logs(FIXTURES / "torchtitan_colored_rank1_nan_step25.log"))


def test_loss_plot_draws_one_line_per_rank_and_the_nan_markers(nan_run):
    fig, ax = plt.subplots()
    assert plot_loss_by_rank(nan_run, ax=ax) is ax
    assert len(ax.lines) == nan_run.records["rank"].nunique()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "NaN/inf loss (drawn at top)" in labels
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"
    plt.close(fig)


def test_last_step_plot_has_a_bar_per_rank_and_the_furthest_step(nan_run):
    ax = plot_last_step_by_rank(nan_run)
    assert len(ax.patches) == len(nan_run.ranks)
    assert [line.get_ydata()[0] for line in ax.lines] == [nan_run.max_step]
    plt.close(ax.figure)


def test_memory_breakdown_stacks_to_the_total_and_draws_capacity_and_in_use():
    estimate = estimate_memory(JobConfig(params=7e9, gpus=8, zero_stage=1, gpu_memory_gib=80.0))
    ax = plot_memory_breakdown(estimate, observed_gib=70.0)
    widths = sum(patch.get_width() for patch in ax.patches)
    assert widths == pytest.approx(estimate.total_gib)
    assert sorted(line.get_xdata()[0] for line in ax.lines) == [70.0, 80.0]
    assert "GiB" in ax.get_xlabel()
    plt.close(ax.figure)


def test_loss_plot_legend_leaves_the_nan_markers_visible(nan_run):
    ax = plot_loss_by_rank(nan_run)
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    markers = next(c for c in ax.collections if c.get_label() == "NaN/inf loss (drawn at top)")
    points = ax.transData.transform(markers.get_offsets())
    assert len(points) and not any(legend.contains(x, y) for x, y in points)
    plt.close(fig)
