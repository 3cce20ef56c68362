"""Where a line of a log starts: the byte offset of a line so many lines from a known one, read again from the file.

A finding keeps the offset of its evidence line so that the excerpt a report shows around it marks that line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opskit.sources.log_encoding import read_until_damage

if TYPE_CHECKING:
    from opskit.sources.logs import LogSource


def line_start(source: LogSource, offset: int, delta: int, *, window_bytes: int = 16384) -> int | None:
    """The byte offset of the line ``delta`` lines after (before, when negative) the line that starts at
    ``offset``; None when the source cannot be read again or the line lies outside the window."""
    if delta == 0:
        return offset
    if source.path is None:
        return None
    start = max(0, offset - window_bytes)
    with source.open() as fh:
        fh.seek(start)
        window = read_until_damage(fh, offset - start + window_bytes)
    here = offset - start
    if delta > 0:
        pos = here
        for _ in range(delta):
            pos = window.find(b"\n", pos)
            if pos < 0:
                return None
            pos += 1
        return start + pos
    pos = here - 1  # the line end before the line at offset
    for _ in range(-delta):
        if pos < 0:
            return None
        pos = window.rfind(b"\n", 0, pos)
        if pos < 0 and start > 0:
            return None  # the line starts before the window
    return start + pos + 1
