"""Timestamps as logs write them (ISO 8601, glog, syslog and asctime text), read as UTC."""

from __future__ import annotations

import re

import pandas as pd

_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_TS_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T _](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?")
_TS_GLOG = re.compile(r"(?:^|[\[\s:])[IWEF](\d{1,2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{1,9})")  # E626 = June 26
_TS_TEXT = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?: (\d{4}))?", re.I
)


def _ts(year: int, month: int, day: int, hh: int, mm: int, ss: int, frac: str | None = None) -> pd.Timestamp | None:
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return pd.Timestamp(year, month, day, hh, mm, ss, micro, tz="UTC")
    except ValueError:
        return None


def parse_timestamp(text: str, *, default_year: int | None = None) -> tuple[pd.Timestamp | None, bool]:
    """The first timestamp in a log line, in UTC, and whether the line stated its year.

    Reads ISO 8601 (``2026-11-28 10:02:11,123``, ``2026-11-28T10:02:11Z``, torchrun's
    ``2026-11-28_10:02:11``), glog (``E1128 10:02:11.123456``, as PyTorch's C++ logs print) and
    syslog/``dmesg -T`` (``Nov 28 10:02:11 [2026]``). Times without a zone are taken as UTC; a
    missing year is ``default_year``; when None, the current year unless that puts the time more than a
    day in the future (a December stamp read in January), then the year before.
    """
    head = text[:300]
    m = _TS_ISO.search(head)
    if m:
        y, mo, d, hh, mi, ss, frac, zone = m.groups()
        ts = _ts(int(y), int(mo), int(d), int(hh), int(mi), int(ss), frac)
        if ts is not None and zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            ts = ts - sign * pd.Timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return ts, ts is not None
    m = _TS_GLOG.search(head)
    if m:
        mo, d, hh, mi, ss, frac = m.groups()
        return _yearless(default_year, int(mo), int(d), int(hh), int(mi), int(ss), frac), False
    m = _TS_TEXT.search(head)
    if m:
        mon, d, hh, mi, ss, y = m.groups()
        if y is not None:
            return _ts(int(y), _MONTHS[mon.lower()], int(d), int(hh), int(mi), int(ss)), True
        return _yearless(default_year, _MONTHS[mon.lower()], int(d), int(hh), int(mi), int(ss)), False
    return None, False


def _yearless(default_year: int | None, *fields: int | str | None) -> pd.Timestamp | None:
    """A time whose log wrote no year: ``default_year``, or the latest year that is not in the future."""
    if default_year is not None:
        return _ts(default_year, *fields)
    now = pd.Timestamp.now(tz="UTC")
    ts = _ts(now.year, *fields)
    if ts is not None and ts > now + pd.Timedelta(days=1):
        ts = _ts(now.year - 1, *fields)
    return ts
