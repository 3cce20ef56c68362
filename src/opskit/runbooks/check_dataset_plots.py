"""Plots of ``check_dataset``: the distribution of the worst numeric columns against the reference.

Each panel is a histogram of one column (current data, and the reference outlined when there is one),
with the schema's hard range and the outlier bounds (median +- 3.5 x 1.4826 x MAD) drawn as lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from opskit.analyses.data.analysis import DataCheckResult
from opskit.analyses.data.columns import MAD_SCALE


def plot_columns(data: DataCheckResult, names: list[str]) -> Figure:
    """One histogram per named column (up to four), on a new figure; returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.0), layout="constrained", squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        check = next(c for c in data.columns if c.column == name)
        values = pd.to_numeric(data.frame[name].astype(object), errors="coerce").dropna().astype(float)
        ref = None
        if data.reference is not None and name in data.reference:
            ref = pd.to_numeric(data.reference[name].astype(object), errors="coerce").dropna().astype(float)
        both = pd.concat([values, ref]) if ref is not None else values
        bins = np.histogram_bin_edges(both, bins=40) if len(both) else 10
        ax.hist(values, bins=bins, color="#1565c0", alpha=0.7, label="current")
        if ref is not None and len(ref):
            ax.hist(ref, bins=bins, histtype="step", color="#424242", label="reference", density=False)
        if check.mad:
            bound = data.settings.outlier_z * MAD_SCALE * check.mad
            for x in (check.median - bound, check.median + bound):
                ax.axvline(x, color="#e65100", ls="--", lw=1)
        field = data.schema.field(name) if data.schema is not None else None
        for limit in (field.minimum, field.maximum) if field is not None else ():
            if limit is not None:
                ax.axvline(limit, color="#c62828", lw=1.2)
        ax.set_yscale("log")
        missing = f", {100 * check.missing_share:.0f} % missing" if check.missing_share else ""
        ax.set_title(f"{name}{missing}", fontsize=10)
        ax.set_xlabel(f"{name} (value)")
        ax.set_ylabel("rows (log)")
    axes[0][0].legend(fontsize=8, title="dashed: outlier bounds; red: schema range", title_fontsize=7)
    plt.close(fig)
    return fig
