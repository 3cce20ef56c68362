"""NVIDIA Xid errors: the code in a kernel log line, decoded with the bundled table."""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from opskit.bundled import XID_CODES, bundled_text

_XID_LINE = re.compile(r"Xid \((?:PCI:)?([0-9A-Fa-f:.]+)\): (\d+)(?:, pid=(\d+|'<unknown>'))?")
# The driver's own words for Xid 79, printed with or without the Xid line (newer drivers split it over lines)
_FALLEN_OFF = re.compile(r"(?:NVRM|GPU).*fallen off the bus", re.IGNORECASE)
_PCI_ADDRESS = re.compile(r"\b([0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}(?:\.[0-7])?)\b")
_FALLEN_OFF_THE_BUS = 79


@dataclass(frozen=True)
class XidInfo:
    """An NVIDIA Xid code decoded with the bundled table (``data/xid.csv``)."""

    code: int
    meaning: str
    severity: str
    action: str
    source: str
    known: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def xid_table() -> dict[int, XidInfo]:
    """The bundled Xid table by code."""
    text = bundled_text(XID_CODES)
    rows = csv.DictReader(text.splitlines())
    return {
        int(r["code"]): XidInfo(int(r["code"]), r["meaning"], r["severity"], r["action"], r["source"], True)
        for r in rows
    }


def decode_xid(code: int | str) -> XidInfo:
    """Meaning, severity and immediate action (restart app, reset GPU, drain and reboot, contact support)."""
    number = int(code)
    known = xid_table().get(number)
    if known:
        return known
    return XidInfo(
        number,
        "not in the bundled table",
        "unknown",
        "contact support",
        "look it up in NVIDIA's Xid catalog (docs.nvidia.com/deploy/xid-errors)",
        False,
    )


def parse_xid_line(text: str) -> tuple[int, str | None] | None:
    """``(code, PCI address)`` from a kernel ``NVRM: Xid (PCI:0000:3b:00): 79, ...`` line.

    A driver line that says the GPU has fallen off the bus without the Xid (``NVRM: GPU 0000:a1:00.0: GPU has
    fallen off the bus.``, or the last line of the message newer drivers split over three) is Xid 79, the code
    NVIDIA's catalogue gives that message, so it gets the same action; its PCI address when the line names one.
    """
    m = _XID_LINE.search(text)
    if m:
        return int(m.group(2)), m.group(1)
    if _FALLEN_OFF.search(text):
        pci = _PCI_ADDRESS.search(text)
        return _FALLEN_OFF_THE_BUS, pci.group(1) if pci else None
    return None
