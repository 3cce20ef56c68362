"""GPU samples beside a request log, for the latency analysis to line up with load (CSV or Parquet)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.request_columns import to_number, to_utc
from opskit.sources.request_formats import detect_format
from opskit.sources.table_files import read_csv_table, read_parquet_table

GPU_COLUMNS = ("timestamp", "host", "gpu", "util_pct", "mem_used_mib", "mem_total_mib")


def read_gpu_metrics(path: str | Path) -> pd.DataFrame:
    """Read GPU samples already in opskit's GPU-samples frame (CSV or Parquet) for correlation.

    Needs ``timestamp`` and ``util_pct``; ``mem_used_mib``/``mem_total_mib``, ``host`` and ``gpu``
    are used when present. For raw ``nvidia-smi`` or DCGM output use the GPU readers first.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="check the path, or use sample:requests_week_gpu")
    kind = detect_format(path)
    frame = read_parquet_table(path) if kind == "parquet" else read_csv_table(path)
    first_line = None if kind == "parquet" else 2
    for needed in ("timestamp", "util_pct"):
        if needed not in frame.columns:
            raise InputError(
                f"no {needed} column: not in the GPU-samples frame",
                path=path,
                column=needed,
                hint="convert nvidia-smi/DCGM output with opskit's GPU readers first",
            )
    out = frame.copy()
    out["timestamp"] = to_utc(frame["timestamp"], path, first_line)
    for name in ("util_pct", "mem_used_mib", "mem_total_mib"):
        if name in out:
            out[name] = to_number(frame[name], name, path, first_line, allow_missing=True)
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)
