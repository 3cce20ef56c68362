"""Where a finding's evidence is: a line that only introduces the message below it hands over to that line.

A Python traceback's source line (``raise JSONDecodeError("Expecting value", s, err.value) from None``) is
code that ran, not what happened: the exception line that ends the traceback (``json.decoder.JSONDecodeError:
Expecting value: ...``) is. A C++ ``terminate called after throwing an instance of 'c10::DistBackendError'``
names only the exception's type; its ``what():`` line below says what went wrong (a watchdog timeout, an NCCL
error). Both are read from the lines around the finding, whatever words they hold.
"""

from __future__ import annotations

import re

LOOK_BACK = 4  # a frame's code may span lines (Python 3.11+ prints the whole expression, then ^^^ marks)
LOOK_AHEAD = 12  # code lines, caret lines and the frames below it before the exception line

_LABEL = re.compile(r"^(?:\[[^\]]*\]: ?|\d+: )")  # a rank's label in front of the line: [rank0]:, [default0]:, "0: "
_FRAME = re.compile(r'^[ \t]+File "[^"]*", line \d+')
# the exception line: ValueError: ..., json.decoder.JSONDecodeError: ..., KeyboardInterrupt
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?::|$)")
_TERMINATE = re.compile(r"terminate called after throwing an instance of", re.IGNORECASE)
_WHAT = re.compile(r"^[ \t]*what\(\):")


def _body(text: str) -> str:
    return _LABEL.sub("", text, count=1)


def _indented(text: str) -> bool:
    return text[:1] in (" ", "\t")


def may_introduce(text: str) -> bool:
    """Cheap test: whether a finding's line could be a traceback's code line or a C++ terminate header."""
    return _indented(_body(text)) or _TERMINATE.search(text) is not None


def is_code_line(lines: dict[int, str]) -> bool:
    """Whether line 0 is source code a traceback frame shows: indented, under a ``File "...", line N`` line."""
    if not _indented(_body(lines.get(0, ""))):
        return False
    for i in range(-1, -LOOK_BACK - 1, -1):
        text = lines.get(i)
        if text is None:
            return False
        body = _body(text)
        if _FRAME.match(body):
            return True
        if not _indented(body) or not body.strip():
            return False
    return False


def statement_after(lines: dict[int, str]) -> int | None:
    """The index (relative to line 0) of the line that states what line 0 only introduces, or None.

    ``lines`` maps relative index to text, 0 being the finding's line (``read_excerpt``'s output as a dict).
    """
    first = lines.get(0, "")
    if _TERMINATE.search(first):
        return next((i for i in (1, 2) if _WHAT.match(_body(lines.get(i, "")))), None)
    if not is_code_line(lines):
        return None
    for i in range(1, LOOK_AHEAD + 1):
        body = _body(lines.get(i, ""))
        if not body.strip():
            return None
        if _indented(body):  # more code, ^^^ marks, the frames below
            continue
        return i if _EXCEPTION.match(body) else None
    return None
