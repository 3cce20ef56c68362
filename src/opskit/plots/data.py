"""Plots of the data checks: the distribution of a numeric column against the reference.

A panel is a histogram of one column (current data, and the reference outlined when there is one),
with the schema's hard range (solid red) and the outlier bounds (median +- z x 1.4826 x MAD, dashed)
drawn as lines, on a log count axis so that a few outliers stay visible beside the bulk.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from opskit.analyses.data.analysis import DataCheckResult
from opskit.analyses.data.columns import MAD_SCALE
from opskit.plots import new_axes

CURRENT = "#1565c0"
REFERENCE = "#424242"
OUTLIER_BOUND = "#e65100"
SCHEMA_RANGE = "#c62828"
BINS = 40


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    """The values of ``column`` that read as numbers, as floats (text and missing values left out)."""
    return pd.to_numeric(frame[column].astype(object), errors="coerce").dropna().astype(float)


def plot_column_histogram(data: DataCheckResult, column: str, *, ax: Axes | None = None, legend: bool = True) -> Axes:
    """Histogram of one checked column beside the reference, with its outlier bounds and schema range."""
    ax = new_axes(ax, figsize=(3.6, 3.0))
    check = next((c for c in data.columns if c.column == column), None)
    if check is None:
        raise KeyError(f"{column!r} is not a checked column; one of {[c.column for c in data.columns]}")
    values = _numbers(data.frame, column)
    ref = _numbers(data.reference, column) if data.reference is not None and column in data.reference else None
    both = pd.concat([values, ref]) if ref is not None else values
    bins = np.histogram_bin_edges(both, bins=BINS) if len(both) else 10
    ax.hist(values, bins=bins, color=CURRENT, alpha=0.7, label="current")
    if ref is not None and len(ref):
        ax.hist(ref, bins=bins, histtype="step", color=REFERENCE, label="reference")
    if check.mad:
        bound = data.settings.outlier_z * MAD_SCALE * check.mad
        for x in (check.median - bound, check.median + bound):
            ax.axvline(x, color=OUTLIER_BOUND, ls="--", lw=1)
    field = data.schema.field(column) if data.schema is not None else None
    for limit in (field.minimum, field.maximum) if field is not None else ():
        if limit is not None:
            ax.axvline(limit, color=SCHEMA_RANGE, lw=1.2)
    ax.set_yscale("log")
    missing = f", {100 * check.missing_share:.0f} % missing" if check.missing_share else ""
    ax.set_title(f"{column}{missing}", fontsize=10)
    ax.set_xlabel(f"{column} (value)")
    ax.set_ylabel("rows (log)")
    if legend:
        ax.legend(fontsize=8, title="dashed: outlier bounds; red: schema range", title_fontsize=7)
    return ax


def plot_column_histograms(
    data: DataCheckResult, columns: Sequence[str], *, axes: Sequence[Axes] | None = None
) -> list[Axes]:
    """One histogram per column, side by side (the legend on the first); returns the Axes in order."""
    if axes is None:
        _, grid = plt.subplots(1, len(columns), figsize=(3.6 * len(columns), 3.0), layout="constrained", squeeze=False)
        axes = list(grid[0])
    if len(axes) != len(columns):
        raise ValueError(f"{len(columns)} columns to plot on {len(axes)} Axes")
    return [
        plot_column_histogram(data, c, ax=ax, legend=i == 0)
        for i, (ax, c) in enumerate(zip(axes, columns, strict=True))
    ]
