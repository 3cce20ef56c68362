"""Drift plots: PSI per feature, reference against current per bin, PSI trend (lines, or a heatmap of
features x windows when there are many windows), accuracy per window.

Window labels are thinned to at most :data:`MAX_TICKS` so that 50-200 windows stay readable.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from opskit.analyses.drift.methods import PSI_DRIFT, PSI_WATCH
from opskit.plots import STATUS_COLOURS, draw_threshold, new_axes

_REF = "#90a4ae"
_CUR = "#1565c0"
MAX_TICKS = 12  # window labels shown at most; with more windows every n-th is labelled


def _window_ticks(ax: Axes, labels: list[str], *, axis: str = "x") -> None:
    """Label at most MAX_TICKS of ``labels`` (evenly spaced, the last always), rotated on the x axis."""
    step = max(1, -(-len(labels) // MAX_TICKS))
    at = list(range(0, len(labels), step))
    if labels and at[-1] != len(labels) - 1:
        at[-1] = len(labels) - 1  # the latest window is the one to read
    if axis == "x":
        ax.set_xticks(at, [labels[i] for i in at], rotation=30, ha="right", fontsize=8)
    else:
        ax.set_yticks(at, [labels[i] for i in at], fontsize=8)


def _psi_lines(ax: Axes, axis: str = "y") -> None:
    draw_threshold(ax, PSI_WATCH, f"watch ({PSI_WATCH})", axis=axis, colour="#e65100")
    draw_threshold(ax, PSI_DRIFT, f"drift ({PSI_DRIFT})", axis=axis, colour="#c62828")


def plot_psi_by_feature(table: pd.DataFrame, *, ax: Axes | None = None, top: int = 20) -> Axes:
    """Horizontal bars of PSI per feature (``DriftResult.table()``), coloured by status, with the levels."""
    data = table.dropna(subset=["psi"]).head(top).iloc[::-1]
    ax = new_axes(ax, figsize=(8, max(2.5, 0.35 * len(data) + 1)))
    colours = [STATUS_COLOURS.get(s, "#616161") for s in data["status"]]
    ax.barh(data["feature"], data["psi"], color=colours)
    _psi_lines(ax, axis="x")
    ax.set_xlabel("PSI (population stability index)")
    ax.set_title("Feature drift, highest PSI on top")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_bin_shares(bin_table: pd.DataFrame, feature: str = "", *, ax: Axes | None = None) -> Axes:
    """Reference against current share of rows per PSI bin (the histogram behind the PSI)."""
    ax = new_axes(ax, figsize=(8, 3.2))
    x = np.arange(len(bin_table))
    width = 0.42
    ax.bar(x - width / 2, bin_table["ref_share"] * 100, width, color=_REF, label="reference")
    ax.bar(x + width / 2, bin_table["cur_share"] * 100, width, color=_CUR, label="current")
    ax.set_xticks(x, bin_table["bin"], rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("share of rows (%)")
    psi = float(bin_table["contribution"].sum())
    ax.set_title(f"{feature}: PSI {psi:.3f}" if feature else f"PSI {psi:.3f}")
    ax.legend(fontsize=8)
    return ax


def plot_psi_trend(trend: pd.DataFrame, *, features: Iterable[str] | None = None, ax: Axes | None = None) -> Axes:
    """PSI per window for each feature (``psi_trend``), with the watch and drift levels."""
    ax = new_axes(ax, figsize=(8, 3.5))
    wanted = list(features) if features is not None else sorted(trend["feature"].unique())
    order = list(dict.fromkeys(trend["window"]))
    for name in wanted:
        part = trend[trend["feature"] == name]
        positions = [order.index(w) for w in part["window"]]
        ax.plot(positions, part["psi"].clip(lower=1e-3), marker="o", markersize=3, label=name)
    _psi_lines(ax)
    _window_ticks(ax, order)
    ax.set_xlabel(
        "window"
        if len(order) <= MAX_TICKS
        else f"window ({len(order)} windows, a label every {-(-len(order) // MAX_TICKS)})"
    )
    log = bool(len(trend)) and trend["psi"].max() > 1.0
    if log:  # an abrupt shift would flatten the slow ones on a linear axis
        ax.set_yscale("log")
        ax.set_ylim(bottom=1e-3)
    ax.set_ylabel("PSI (log scale)" if log else "PSI")
    ax.set_title("PSI per window")
    ax.legend(fontsize=7, ncols=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def plot_psi_heatmap(
    trend: pd.DataFrame,
    *,
    features: Iterable[str] | None = None,
    watch: float = PSI_WATCH,
    drift: float = PSI_DRIFT,
    ax: Axes | None = None,
) -> Axes:
    """Features (rows) x windows (columns) coloured by PSI level: stable, watch, drift; grey for too few rows.

    For many windows, where lines would overlap: each cell is one feature in one window, so a step
    (an abrupt shift) and a slow darkening (a drift) both show at a glance.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    wanted = list(features) if features is not None else sorted(trend["feature"].unique())
    order = list(dict.fromkeys(trend["window"]))
    data = trend[trend["feature"].isin(wanted)]
    judged = data[data["level"].isin(["stable", "watch", "drift"])]
    grid = judged.pivot_table(index="feature", columns="window", values="psi", aggfunc="first")
    grid = grid.reindex(index=wanted, columns=order)
    ax = new_axes(ax, figsize=(9, max(2.0, 0.35 * len(wanted) + 1.2)))
    cmap = ListedColormap([STATUS_COLOURS["PASS"], STATUS_COLOURS["WARN"], STATUS_COLOURS["FAIL"]]).with_extremes(
        bad="#e0e0e0"
    )
    norm = BoundaryNorm([0.0, watch, drift, max(drift * 1e6, 1e6)], cmap.N)
    mesh = ax.imshow(np.ma.masked_invalid(grid.to_numpy(dtype=float)), aspect="auto", cmap=cmap, norm=norm,
                     interpolation="nearest")  # fmt: skip
    ax.set_yticks(range(len(wanted)), wanted, fontsize=8)
    _window_ticks(ax, order)
    ax.set_xlabel(f"window ({len(order)})")
    colourbar = ax.figure.colorbar(mesh, ax=ax, ticks=[watch / 2, (watch + drift) / 2, drift * 1.5], fraction=0.04)
    colourbar.ax.set_yticklabels([f"stable < {watch}", "watch", f"drift > {drift}"], fontsize=7)
    ax.set_title("PSI level per feature and window (grey: too few rows or not significant)")
    return ax


def plot_accuracy_by_window(
    windows: pd.DataFrame, reference_accuracy: float, *, tolerance: float = 0.05, ax: Axes | None = None
) -> Axes:
    """Accuracy per window with its bootstrap interval, the reference line and the tolerance band."""
    ax = new_axes(ax, figsize=(8, 3.2))
    data = windows[windows["window"] != "all"]
    x = np.arange(len(data))
    acc = data["accuracy"].to_numpy() * 100
    lo = (data["ci_low"].to_numpy() + reference_accuracy) * 100
    hi = (data["ci_high"].to_numpy() + reference_accuracy) * 100
    colours = [STATUS_COLOURS.get(s, "#616161") for s in data["status"]]
    ax.errorbar(x, acc, yerr=[np.maximum(acc - lo, 0), np.maximum(hi - acc, 0)], fmt="none", ecolor="#757575")
    ax.scatter(x, acc, c=colours, zorder=3, s=12 if len(data) > MAX_TICKS else None)
    ref = reference_accuracy * 100
    ax.axhspan(ref - tolerance * 100, ref + tolerance * 100, color="#e0e0e0", alpha=0.6, label="tolerance")
    ax.axhline(ref, color="#424242", linewidth=1, label=f"reference {ref:.1f} %")
    _window_ticks(ax, list(data["window"]))
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy per window (bootstrap interval of the change, placed on the window)")
    ax.legend(fontsize=8)
    return ax
