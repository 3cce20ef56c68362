"""Matplotlib helpers: each takes data and ``ax=None`` and returns the Axes it drew on.

Topic modules (``opskit.plots.drift``, ``opskit.plots.gpu``, ...) hold the plots of one area;
this module holds what they share. Helpers never call ``show()`` or ``savefig()`` and never change
global style.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from opskit.checks import Status

STATUS_COLOURS = {s.value: s.colour for s in Status}


def new_axes(ax: Axes | None = None, *, figsize: tuple[float, float] = (8, 3.5)) -> Axes:
    """Return ``ax`` or a new constrained-layout Axes of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def draw_threshold(ax: Axes, value: float, label: str, *, axis: str = "y", colour: str = "#c62828") -> Axes:
    """A dashed threshold line with its label, on the y (default) or x axis."""
    line = ax.axhline if axis == "y" else ax.axvline
    line(value, linestyle="--", linewidth=1, color=colour, label=label)
    return ax
