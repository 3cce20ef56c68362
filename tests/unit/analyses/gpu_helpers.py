"""Small GPU-sample frames for the gpu_* analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def samples(
    host="node-a",
    gpu=0,
    start="2026-11-23",
    hours=24.0,
    util=50.0,
    interval_s=300,
    model="NVIDIA A100-SXM4-80GB",
    power=None,
    sm=None,
    **columns,
) -> pd.DataFrame:
    """Readings of one GPU every ``interval_s`` for ``hours``; ``util``/``power``/``sm`` scalars or arrays."""
    n = int(hours * 3600 // interval_s)
    ts = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n, freq=f"{interval_s}s")
    util = np.broadcast_to(np.asarray(util, dtype=float), (n,))
    frame = pd.DataFrame(
        {
            "timestamp": ts,
            "host": host,
            "gpu": gpu,
            "uuid": f"GPU-{host}-{gpu}",
            "model": model,
            "util_pct": util,
            "mem_used_mib": 1000.0,
            "mem_total_mib": 81920.0,
            "power_w": np.broadcast_to(np.asarray(60 + 3.4 * util if power is None else power, dtype=float), (n,)),
        }
    )
    if sm is not None:
        frame["sm_active_pct"] = np.broadcast_to(np.asarray(sm, dtype=float), (n,))
    for name, value in columns.items():
        frame[name] = value
    return frame


def week_of(util=50.0, **kw) -> pd.DataFrame:
    """One GPU for the whole of ISO week 2026-W48."""
    return samples(start="2026-11-23", hours=168, util=util, **kw)
