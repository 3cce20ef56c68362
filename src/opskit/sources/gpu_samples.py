"""GPU samples from any supported source: detect the format, then call the one reader for it.

Sources and their readers, all returning the GPU-samples frame of :mod:`opskit.sources.gpu_frame`:

- ``nvidia-smi``: ``nvidia-smi --query-gpu=... --format=csv -l 15`` files (:mod:`~opskit.sources.nvidia_smi`);
- ``dcgm``: saved dcgm-exporter scrapes, ``.prom``/``.txt``/``.metrics`` (:mod:`~opskit.sources.dcgm`);
- ``prometheus``: a server URL, aggregated per step on the server (:mod:`~opskit.sources.prometheus`);
- ``table`` and ``parquet``: long CSV or Parquet tables, opskit's own NVML sampler's among them
  (:mod:`~opskit.sources.gpu_tables`).

Large Parquet inputs are better rolled up where they lie (SQL over the files, see
``opskit.analyses.gpu_fleet.rollup.rollup_parquet``) than read here in full.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from opskit.errors import InputError

FORMATS = ("auto", "parquet", "nvidia-smi", "dcgm", "table", "prometheus")
_PARQUET = (".parquet", ".pq")
_SCRAPES = (".prom", ".txt", ".metrics")


def _suffix(path: Path) -> str:
    """``.csv`` for ``host.csv`` and ``host.csv.gz``."""
    return Path(path.name.lower().removesuffix(".gz")).suffix


_NOHEADER_STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d")


def _head(path: Path, *, first_line: bool = False) -> str | None:
    """The lower-cased start of a file (its first line, or 4 KiB), gunzipped; None when it cannot be read."""
    try:
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return (fh.readline() if first_line else fh.read(4096)).lower()
    except (OSError, EOFError):
        return None


def _csv_kind(path: Path) -> str:
    """``nvidia-smi`` when the header names nvidia-smi query fields, else ``table``."""
    head = _head(path, first_line=True)
    if head is None:  # unreadable or a .gz cut short: the table reader names the damage
        return "table"
    if "utilization.gpu" in head or "memory.used" in head:
        return "nvidia-smi"
    # noheader output: a first cell like "2026/11/16 00:00:05.123" and nvidia-smi's units or [N/A]
    cells = [c.strip() for c in head.split(",")]
    if len(cells) >= 4 and _NOHEADER_STAMP.match(cells[0]) and re.search(r" %|mib|\[n/a\]| w\b", head):
        return "nvidia-smi"
    return "table"


# What nvidia-smi's own outputs for people start with (its table, -q, dmon/pmon): read by the nvidia-smi reader,
# which refuses them by name with the command to record instead; a .txt of them is not a DCGM scrape.
_NVIDIA_SMI_TEXT = re.compile(
    r"nvidia-smi \d|={5,}nvsmi log|^# ?gpu +(?:pid|sm|pwr)|^\+-{5,}"
    r"|^[ \t]+(?:process id|gpu instance id|product name|driver version|used gpu memory)[ \t]+: "
    r"|utilization\.gpu|memory\.used|power\.draw|temperature\.gpu|clocks\.current|fan\.speed",
    re.MULTILINE,
)


def _text_kind(path: Path) -> str:
    """``nvidia-smi`` for a capture of nvidia-smi's human output or its CSV, else ``dcgm`` (a saved scrape)."""
    head = _head(path)
    if head is None:  # the scrape reader names the damage
        return "dcgm"
    if "dcgm_fi_" in head or "# type " in head:
        return "dcgm"
    if _NVIDIA_SMI_TEXT.search(head):
        return "nvidia-smi"
    return "dcgm"


def detect_format(source: str | os.PathLike[str]) -> str:
    """The format of ``source`` from its scheme, suffix (``.gz`` ignored) or a CSV's first line.

    A folder is judged by the files in it; one with no GPU sample files is an :class:`InputError`.
    """
    text = os.fspath(source)
    if text.startswith(("http://", "https://")):
        return "prometheus"
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        suffixes = {_suffix(f) for f in files}
        if suffixes & set(_PARQUET):
            return "parquet"
        if suffixes & set(_SCRAPES):
            return "dcgm"
        if ".csv" in suffixes:
            return _csv_kind(next(f for f in files if _suffix(f) == ".csv"))
        raise InputError("no GPU sample files in this folder", path=p, hint="Parquet, nvidia-smi CSV or .prom files")
    suffix = _suffix(p)
    if suffix in _PARQUET:
        return "parquet"
    if suffix == ".txt" and p.is_file():
        return _text_kind(p)
    if suffix in _SCRAPES:
        return "dcgm"
    if suffix == ".csv":
        return _csv_kind(p) if p.exists() else "table"
    return "table"


def read_gpu_samples(
    source: str | os.PathLike[str],
    format: str = "auto",
    *,
    columns: Mapping[str, str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    step: str = "1h",
    timezone: str = "UTC",
) -> pd.DataFrame:
    """The GPU-samples frame of ``source`` in ``format`` (``"auto"``: :func:`detect_format`).

    ``columns`` maps a long table's column names to the frame's (tables and Parquet only).
    ``start``, ``end`` and ``step`` bound and aggregate a Prometheus read; a Prometheus source
    needs both ends. ``timezone`` is the zone of naive timestamps (nvidia-smi CSV and long tables
    write local time); an unknown zone is an :class:`InputError` naming ``timezone``.
    An unknown format is an :class:`InputError` naming the known ones.
    """
    text = os.fspath(source)
    _check_timezone(timezone)
    fmt = detect_format(text) if format == "auto" else format
    if fmt == "nvidia-smi":
        from opskit.sources.nvidia_smi import read_nvidia_smi_csv

        return read_nvidia_smi_csv(text, timezone=timezone)
    if fmt == "dcgm":
        from opskit.sources.dcgm import read_dcgm_scrapes

        return read_dcgm_scrapes(text)
    if fmt in ("table", "parquet"):
        from opskit.sources.gpu_tables import read_gpu_table

        return read_gpu_table(text, columns=dict(columns or {}) or None, timezone=timezone)
    if fmt == "prometheus":
        from opskit.sources.prometheus import read_prometheus_gpus

        if start is None or end is None:
            raise InputError(
                "a Prometheus source needs the time range to read",
                path=text,
                column="start" if start is None else "end",
                hint="pass start and end (UTC), e.g. the ISO week to report and the one before",
            )
        return read_prometheus_gpus(text, start, end, step=step)
    raise InputError(f"unknown input format {fmt!r}", column="format", hint="one of " + ", ".join(FORMATS))


def _check_timezone(timezone: str) -> None:
    """An InputError naming ``timezone`` unless it is a time zone name (``UTC``, ``Europe/Berlin``)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(
            f"unknown time zone {timezone!r}",
            column="timezone",
            hint="pass an IANA name such as timezone='UTC', 'Europe/Berlin' or 'America/New_York'",
        ) from None
