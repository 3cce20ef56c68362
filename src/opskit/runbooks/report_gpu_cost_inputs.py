"""The inputs of the weekly GPU report: ``sample:`` names and mapping files resolved, samples read and rolled up.

Parquet is rolled up where it lies (SQL with duckdb when installed, reading only the needed columns);
every other source is read into the GPU-samples frame by :func:`opskit.sources.gpu_samples.read_gpu_samples`
and rolled up in memory. With a mapping file, teams and projects are joined to the rollup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from opskit.analyses.gpu_fleet.rollup import Rollup, SourceWarning, rollup_hourly, rollup_parquet
from opskit.analyses.gpu_fleet.usage import parse_week
from opskit.errors import InputError
from opskit.samples import resolve
from opskit.sources.attribution import attribute
from opskit.sources.gpu_samples import FORMATS, detect_format, read_gpu_samples


def resolve_inputs(samples: str, attribution: str | None = "auto") -> tuple[str | Path, Path | None]:
    """The runbook's ``samples`` and ``attribution`` parameters as a source and a mapping file.

    ``sample:NAME`` values are generated (:func:`opskit.samples.resolve`); a Prometheus URL stays a URL.
    ``attribution="auto"`` takes ``attribution.csv`` beside a file source when there is one (else no
    mapping); ``""`` or None means no mapping.
    """
    is_url = samples.startswith(("http://", "https://"))
    source: str | Path = samples if is_url else resolve(samples)
    if not attribution:
        return source, None
    if attribution == "auto":
        beside = None if is_url else Path(source).parent / "attribution.csv"
        return source, beside if beside is not None and beside.exists() else None
    return source, resolve(attribution)


def prometheus_range(week: str = "") -> tuple[pd.Timestamp, pd.Timestamp]:
    """What to ask Prometheus for: ``week`` and the week before (default: the last full ISO week before now)."""
    if week:
        _, start, end = parse_week(week)
    else:
        now = pd.Timestamp.now(tz="UTC").normalize()
        end = now - pd.Timedelta(days=now.weekday())
        start = end - pd.Timedelta(days=7)
    return start - pd.Timedelta(days=7), end


def source_warnings(frame: pd.DataFrame) -> tuple[SourceWarning, ...]:
    """The warnings and infos Prometheus answered with (``frame.attrs["prometheus"].notes``), each with its query."""
    read = frame.attrs.get("prometheus")
    return tuple(SourceWarning(n.text, n.query, n.level) for n in getattr(read, "notes", ()))


def load_rollup(
    source: str | Path,
    *,
    attribution: str | Path | None = None,
    source_format: str = "auto",
    columns: Mapping[str, str] | None = None,
    week: str = "",
    engine: str = "auto",
    prometheus_step: str = "1h",
    timezone: str = "UTC",
) -> tuple[Rollup, str]:
    """GPU samples from any supported source as the hourly rollup, joined to teams; and the format read.

    ``engine`` applies to Parquet (``auto``, ``duckdb`` or ``pandas``). With ``attribution`` (a
    mapping file), rows no rule matches are ``unattributed``, never dropped. ``timezone`` is the zone of
    naive timestamps (nvidia-smi writes the node's local time). ``rollup.source_warnings`` holds what
    Prometheus warned about in its answers (partial data), so the report can say its data may be incomplete.
    """
    text = str(source)
    if source_format not in FORMATS:
        raise InputError(
            f"unknown input format {source_format!r}", column="source_format", hint="one of " + ", ".join(FORMATS)
        )
    fmt = detect_format(text) if source_format == "auto" else source_format
    if fmt == "parquet" and not columns:
        rollup = rollup_parquet(text, engine=engine)
    else:
        start, end = prometheus_range(week) if fmt == "prometheus" else (None, None)
        frame = read_gpu_samples(
            text, fmt, columns=columns, start=start, end=end, step=prometheus_step, timezone=timezone
        )
        rollup = rollup_hourly(frame, path=text)
        rollup = dataclasses.replace(rollup, source_warnings=source_warnings(frame))
    if attribution:
        rollup = dataclasses.replace(rollup, frame=attribute(rollup.frame, Path(str(attribution)).expanduser()))
    return rollup, fmt
