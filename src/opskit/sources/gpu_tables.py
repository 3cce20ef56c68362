"""Read long GPU-sample tables (CSV or Parquet, one row per GPU per time) into the GPU-samples frame.

For exports from a metrics store, a data warehouse or opskit's own sampler. Columns named as in
:mod:`opskit.sources.gpu_frame` are taken as they are; others are mapped with ``columns``, a dict
from the table's name to the frame's, e.g. ``{"ts": "timestamp", "node": "host", "gpu_util":
"util_pct"}``. Only the frame's columns (documented, after mapping) are read from the file, so a
wide Parquet export costs only what it must. Timestamps without a zone are taken as ``timezone``;
numeric timestamps are Unix epoch seconds (or milliseconds, when they are that large).

A CSV is checked before it is parsed (:func:`~opskit.sources.log_encoding.check_utf8_text`): an empty,
binary, cut ``.gz`` or non-UTF-8 file (UTF-16/32, GB18030: the encoding found is named) is refused
naming the file. A metric written as the text ``nan`` is refused per column, as the nvidia-smi reader
refuses it (an empty cell stays a missing reading).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from opskit.errors import InputError
from opskit.sources.datasets import read_table, table_columns, table_format
from opskit.sources.gpu_frame import FRAME_COLUMNS, METRIC_COLUMNS, REQUIRED_COLUMNS, validate_gpu_frame
from opskit.sources.log_encoding import check_utf8_text

_EXTRA = ("interval_s", "samples", "window_s", "pci_bus_id", "container", "mem_free_mib")


def _refuse_nan_text(p: Path, df: pd.DataFrame, renamed: dict[str, str]) -> None:
    """A metric cell that says ``nan`` (an exporter's NaN, not an empty cell): refused per column."""
    back = {v: k for k, v in renamed.items()}
    cols = [c for c in METRIC_COLUMNS if c in df.columns and df[c].isna().any()]
    if not cols:
        return
    names = [back.get(c, c) for c in cols]
    options = pa_csv.ConvertOptions(include_columns=names, column_types=dict.fromkeys(names, pa.string()),
                                    null_values=[""], strings_can_be_null=True)  # fmt: skip
    raw = pa_csv.read_csv(p, convert_options=options).to_pandas()
    for name, col in zip(names, cols, strict=True):
        text = raw[name].astype("string").str.strip().str.lower()
        bad = text.isin(["nan", "-nan", "+nan"]).fillna(False).to_numpy()
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} values are NaN (first in data row {int(np.flatnonzero(bad)[0]) + 1})",
                path=p,
                column=col,
                hint="fix the exporter or conversion that wrote them; leave a reading empty when it is unknown",
            )


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
    is_csv = p.is_file() and table_format(p) == "csv"
    if is_csv:
        check_utf8_text(p, "GPU tables are CSV with a header, read as UTF-8")
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
    if is_csv:
        _refuse_nan_text(p, df, renamed)
    if host is not None and "host" not in df.columns:
        df["host"] = host
    if "timestamp" in df.columns and pd.api.types.is_numeric_dtype(df["timestamp"]):
        df["timestamp"] = _epoch(df["timestamp"])
    return validate_gpu_frame(df, p, timezone=timezone, sort=sort)
