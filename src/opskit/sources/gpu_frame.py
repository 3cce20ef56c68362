"""The GPU-samples frame every GPU reader returns, and its validation.

One row is one reading of one GPU at one time:

=====================  ==========================  ===========================================
column                 dtype                       meaning
=====================  ==========================  ===========================================
``timestamp``          datetime64[ns, UTC]         when the reading was taken (UTC, tz-aware)
``host``               str                         node name
``gpu``                int64                       GPU index on the host (``nvidia-smi -i``)
``uuid``               str                         ``GPU-...`` (missing when the source lacks it)
``model``              str                         product name, e.g. ``NVIDIA H100 80GB HBM3``
``util_pct``           float64                     ``utilization.gpu``, 0-100
``mem_used_mib``       float64                     framebuffer memory used, MiB
``mem_total_mib``      float64                     framebuffer memory total, MiB
``power_w``            float64                     board power draw, W
``sm_active_pct``      float64 (optional)          DCGM ``PROF_SM_ACTIVE`` as a percentage
``gr_engine_active_pct`` float64 (optional)        DCGM ``PROF_GR_ENGINE_ACTIVE`` as a percentage
``team`` ``project``   str (optional)              attribution, see :mod:`opskit.sources.attribution`
``namespace`` ``pod``  str (optional)              Kubernetes attribution, when the exporter knows it
``job``                str (optional)              the workload (training run, batch job), not Prometheus' job
=====================  ==========================  ===========================================

Readers may add further columns; they are kept. ``interval_s``, where present, is the seconds a row
stands for (readers that aggregate, like the Prometheus one, set it; otherwise each row stands for
the sampling interval). Missing readings are NaN, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.errors import InputError

REQUIRED_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "host",
    "gpu",
    "uuid",
    "model",
    "util_pct",
    "mem_used_mib",
    "mem_total_mib",
    "power_w",
)
"""Columns every GPU-samples frame has, in this order."""

OPTIONAL_METRICS: tuple[str, ...] = ("sm_active_pct", "gr_engine_active_pct")
"""Profiling metrics present when the source reports them (DCGM profiling fields)."""

ATTRIBUTION_COLUMNS: tuple[str, ...] = ("team", "project", "namespace", "pod", "job")
"""Who the GPU worked for, when known."""

METRIC_COLUMNS: tuple[str, ...] = ("util_pct", "mem_used_mib", "mem_total_mib", "power_w", *OPTIONAL_METRICS)
STRING_COLUMNS: tuple[str, ...] = ("host", "uuid", "model", *ATTRIBUTION_COLUMNS)
KEY_COLUMNS: tuple[str, ...] = ("host", "gpu", "timestamp")

FRAME_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, *OPTIONAL_METRICS, *ATTRIBUTION_COLUMNS)
"""All documented columns in their canonical order; readers put extra columns after these."""


def empty_gpu_frame() -> pd.DataFrame:
    """A frame with the required columns, no rows and the documented dtypes."""
    return normalize_gpu_frame(pd.DataFrame({c: [] for c in REQUIRED_COLUMNS}))


def _to_utc(values: pd.Series, timezone: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize(timezone).dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    parsed = pd.to_datetime(values, utc=False, errors="raise", format="mixed")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return parsed.dt.tz_localize(timezone).dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _as_strings(values: pd.Series) -> pd.Series:
    """Strings stay (object or categorical, which large frames use to save memory); others become str."""
    if isinstance(values.dtype, pd.CategoricalDtype | pd.StringDtype):
        return values
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values
    out = values.astype(object)
    return out.where(out.isna(), out.astype(str))


def normalize_gpu_frame(
    df: pd.DataFrame, *, timezone: str = "UTC", path: str | Path | None = None, sort: bool = True
) -> pd.DataFrame:
    """Return ``df`` with the documented dtypes and the canonical column order.

    Naive timestamps are taken to be in ``timezone`` and converted to UTC. Numeric columns become
    float64 (unparseable values raise :class:`InputError` naming the column). Absent optional
    columns are not added. Rows are sorted by host, GPU and time unless ``sort`` is false.
    """
    out = df.copy()
    if "timestamp" in out.columns:
        try:
            out["timestamp"] = _to_utc(out["timestamp"], timezone)
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"timestamps could not be read: {exc}",
                path=path,
                column="timestamp",
                hint="use ISO 8601 timestamps, e.g. 2026-11-16T00:00:05Z",
            ) from None
    if "gpu" in out.columns:
        gpu = pd.to_numeric(out["gpu"], errors="coerce")
        if gpu.isna().any():
            raise InputError(
                f"{int(gpu.isna().sum())} rows have no GPU index",
                path=path,
                column="gpu",
                hint="every reading needs the GPU's index on its host (nvidia-smi's 'index')",
            )
        out["gpu"] = gpu.astype("int64")
    for col in METRIC_COLUMNS:
        if col in out.columns:
            num = pd.to_numeric(out[col], errors="coerce")
            bad = num.isna() & out[col].notna()
            if bad.any():
                first = out[col][bad].iloc[0]
                raise InputError(
                    f"{int(bad.sum())} values are not numbers (first: {first!r})",
                    path=path,
                    column=col,
                    hint="numbers only; leave a reading empty when it is not known",
                )
            num = num.astype("float64")
            infinite = np.isinf(num.to_numpy())
            if infinite.any():  # inf % would pass every threshold check and cost -inf: refuse it, per column
                at = int(np.flatnonzero(infinite)[0])
                raise InputError(
                    f"{int(infinite.sum())} values are infinite (first: {float(num.iloc[at])} in data row {at + 1})",
                    path=path,
                    column=col,
                    hint="fix the exporter or conversion that wrote them; leave a reading empty when it is unknown",
                )
            out[col] = num
    for col in STRING_COLUMNS:
        if col in out.columns:
            out[col] = _as_strings(out[col])
    order = [c for c in FRAME_COLUMNS if c in out.columns] + [c for c in out.columns if c not in FRAME_COLUMNS]
    out = out[order]
    keys = [c for c in KEY_COLUMNS if c in out.columns]
    if sort and keys and len(out):
        out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    return out


def missing_columns(columns: Sequence[str]) -> list[str]:
    """The required columns absent from ``columns``."""
    have = set(columns)
    return [c for c in REQUIRED_COLUMNS if c not in have]


def validate_gpu_frame(
    df: pd.DataFrame, path: str | Path | None = None, *, timezone: str = "UTC", sort: bool = True
) -> pd.DataFrame:
    """Check that ``df`` is a GPU-samples frame and return it normalised.

    Raises :class:`InputError` (with ``path`` and the first missing ``column``) naming the expected
    and the found columns when required columns are missing, and when there are no rows.
    """
    missing = missing_columns(list(df.columns))
    if missing:
        raise InputError(
            f"missing GPU-sample columns {missing}; "
            f"expected {list(REQUIRED_COLUMNS)}, found {list(map(str, df.columns))}",
            path=path,
            column=missing[0],
            hint="rename the columns or pass a column mapping (opskit.sources.gpu_tables.read_gpu_table(columns=...))",
        )
    if df.empty:
        raise InputError(
            "no GPU samples (the table has no rows)",
            path=path,
            hint="check the file was written completely and covers the period you asked for",
        )
    return normalize_gpu_frame(df, timezone=timezone, path=path, sort=sort)
