"""Read long GPU-sample tables (CSV or Parquet, one row per GPU per time) into the GPU-samples frame.

For exports from a metrics store, a data warehouse or opskit's own sampler. Columns named as in
:mod:`opskit.sources.gpu_frame` are taken as they are; others are mapped with ``columns``, a dict
from the table's name to the frame's, e.g. ``{"ts": "timestamp", "node": "host", "gpu_util":
"util_pct"}``. Only the frame's columns (documented, after mapping) are read from the file, so a
wide Parquet export costs only what it must. Timestamps without a zone are taken as ``timezone``;
numeric timestamps are Unix epoch seconds (or milliseconds, when they are that large).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.datasets import read_table, table_columns
from opskit.sources.gpu_frame import FRAME_COLUMNS, REQUIRED_COLUMNS, validate_gpu_frame

_EXTRA = ("interval_s", "samples", "window_s", "pci_bus_id", "container", "mem_free_mib")


def _epoch(values: pd.Series) -> pd.Series:
    unit = "ms" if values.dropna().abs().median() > 1e11 else "s"
    return pd.to_datetime(values, unit=unit, utc=True)


def read_gpu_table(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    host: str | None = None,
    timezone: str = "UTC",
    sort: bool = True,
) -> pd.DataFrame:
    """Read a long CSV/Parquet table of GPU samples; ``columns`` maps the table's names to the frame's.

    ``host`` fills the ``host`` column for a one-node table that has none. Raises
    :class:`InputError` naming the expected and the found columns when required ones are missing,
    and the mapped name when ``columns`` names a column the table lacks.
    """
    p = Path(path)
    mapping = dict(columns or {})
    unknown_targets = [t for t in mapping.values() if t not in FRAME_COLUMNS and t not in _EXTRA]
    if unknown_targets:
        raise InputError(
            f"the column mapping targets unknown frame columns {unknown_targets}",
            path=p,
            column=unknown_targets[0],
            hint=f"map onto {list(FRAME_COLUMNS)}",
        )
    available = table_columns(p)
    absent = [source for source in mapping if source not in available]
    if absent:
        raise InputError(
            f"the column mapping names {absent}, which the table lacks; found {available}",
            path=p,
            column=absent[0],
            hint="fix the mapping: keys are the table's column names, values the frame's",
        )
    renamed = {c: mapping.get(c, c) for c in available}
    wanted = [c for c in available if renamed[c] in FRAME_COLUMNS or renamed[c] in _EXTRA]
    targets = {renamed[c] for c in wanted}
    if len(targets) < len(wanted):
        clash = sorted({renamed[c] for c in wanted if [renamed[w] for w in wanted].count(renamed[c]) > 1})
        raise InputError(
            f"two table columns become {clash} after mapping",
            path=p,
            column=clash[0],
            hint="map only one table column onto each frame column",
        )
    if host is not None:
        targets.add("host")
    missing = [c for c in REQUIRED_COLUMNS if c not in targets]
    if missing:
        raise InputError(
            f"missing GPU-sample columns {missing}; expected {list(REQUIRED_COLUMNS)}, found {available}",
            path=p,
            column=missing[0],
            hint="name the table's columns as the frame's (an empty uuid, model or power_w column is fine), "
            "or in Python pass columns={'table name': 'frame name', ...}",
        )
    df = read_table(p, columns=wanted).rename(columns=renamed)
    if host is not None and "host" not in df.columns:
        df["host"] = host
    if "timestamp" in df.columns and pd.api.types.is_numeric_dtype(df["timestamp"]):
        df["timestamp"] = _epoch(df["timestamp"])
    return validate_gpu_frame(df, p, timezone=timezone, sort=sort)
