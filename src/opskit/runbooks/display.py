"""What a runbook's section methods return: Markdown, masked tables and groups of outputs, ready to show.

A result's section method returns one of these and the notebook cell only shows it. Everything
text-like passes :mod:`opskit.privacy` here, so no notebook masks anything itself, and a section whose
input could not be read returns :func:`unavailable` instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from opskit.privacy import mask, mask_frame
from opskit.runbooks.tables import Table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


class Markdown(str):
    """Masked Markdown text: rendered as Markdown in a notebook, plain text elsewhere."""

    def __new__(cls, text: str) -> Markdown:
        return super().__new__(cls, mask(text) or "")

    def _repr_markdown_(self) -> str:
        return str(self)


class Outputs(tuple):
    """Several outputs shown one after another (a title, a table, a note) as one cell's result."""

    def __new__(cls, items: Iterable[Any]) -> Outputs:
        return super().__new__(cls, tuple(i for i in items if i is not None))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for item in self:
            display(item)


def table(frame: pd.DataFrame, *, empty: str = "Nothing to show.") -> Table | Markdown:
    """``frame`` with its text masked, shown in the one table style (:mod:`opskit.runbooks.tables`);
    ``empty`` as Markdown when it has no rows. The result is still a DataFrame."""
    if frame is None or not len(frame):
        return Markdown(empty)
    return Table(mask_frame(frame))


def unavailable(what: str, why: str | None = None) -> Markdown:
    """The note a section shows when its input could not be read: what is missing, and where to look."""
    reason = f": {why}" if why else ""
    return Markdown(f"**{what}** is not available{reason}. The verdict table above says which input failed.")


def shown_once(ax: Axes) -> Figure:
    """The figure ``ax`` was drawn on, let go by pyplot: it shows where the section puts it, and only there."""
    import matplotlib.pyplot as plt  # only when a section draws: importing a result module stays light

    plt.close(ax.figure)
    return ax.figure
