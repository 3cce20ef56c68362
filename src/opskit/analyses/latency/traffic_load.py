"""Load against latency: load spikes against the usual rate, GPU metrics per bucket, rank correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opskit.analyses.latency.error_budget import true_runs
from opskit.analyses.latency.quantiles import epoch_ns
from opskit.analyses.latency.thresholds import LatencyThresholds


def load_spikes(by_bucket: pd.DataFrame, step: pd.Timedelta, th: LatencyThresholds):
    """Runs of at least two buckets where rps >= ratio x the usual rate at that time of day."""
    rps = by_bucket["rps"]
    span = by_bucket["start"].iloc[-1] - by_bucket["start"].iloc[0]
    if span >= pd.Timedelta("2D"):
        slot = (by_bucket["start"] - by_bucket["start"].dt.normalize()) // step
        expected = rps.groupby(slot).transform("median")
    else:
        expected = pd.Series(np.median(rps), index=rps.index)
    expected = expected.clip(lower=max(float(rps[rps > 0].median()) * 0.05, 1e-9) if (rps > 0).any() else 1e-9)
    ratio = (rps / expected).to_numpy()
    rows = []
    for a, b in true_runs(ratio >= th.load_spike_ratio):
        if b - a < 2:
            continue
        part = by_bucket.iloc[a:b]
        before = by_bucket.iloc[max(0, a - 12) : a]
        rows.append(
            {
                "start": part["start"].iloc[0],
                "end": part["start"].iloc[-1] + step,
                "duration_min": (b - a) * step.total_seconds() / 60,
                "peak_rps": float(part["rps"].max()),
                "expected_rps": float(expected.iloc[a:b].median()),
                "peak_ratio": float(ratio[a:b].max()),
                "p95_during_ms": float(part["p95_ms"].median()),
                "p95_before_ms": float(before["p95_ms"].median()) if len(before) else float("nan"),
                "requests": int(part["requests"].sum()),
                "slow_requests": int(part["slow"].sum()),
            }
        )
    columns = [
        "start",
        "end",
        "duration_min",
        "peak_rps",
        "expected_rps",
        "peak_ratio",
        "p95_during_ms",
        "p95_before_ms",
        "requests",
        "slow_requests",
    ]
    return pd.DataFrame(rows, columns=columns), expected.to_numpy()


def join_gpu(by_bucket: pd.DataFrame, gpu: pd.DataFrame | None, origin: int, step: pd.Timedelta) -> pd.DataFrame:
    if gpu is None or len(gpu) == 0:
        return by_bucket
    ts = epoch_ns(gpu["timestamp"])
    code = (ts - origin) // step.value
    keep = (code >= 0) & (code < len(by_bucket))
    g = pd.DataFrame({"bucket": code[keep].astype("int32"), "util": gpu["util_pct"].to_numpy()[keep]})
    if "mem_used_mib" in gpu and "mem_total_mib" in gpu:
        g["mem"] = 100.0 * gpu["mem_used_mib"].to_numpy()[keep] / gpu["mem_total_mib"].to_numpy()[keep]
    agg = g.groupby("bucket").agg(gpu_util_pct=("util", "mean"), gpu_util_max_pct=("util", "max"))
    if "mem" in g:
        agg["gpu_mem_pct"] = g.groupby("bucket")["mem"].mean()
    return by_bucket.merge(agg.reset_index(), on="bucket", how="left")


def load_correlations(by_bucket: pd.DataFrame, min_requests: int) -> pd.DataFrame:
    """Spearman rank correlation of per-bucket p95 with each driver present (rps, batch, queue, GPU)."""
    drivers = {
        "rps": "requests per second",
        "mean_batch_size": "batch size",
        "mean_queue_ms": "queue time (ms)",
        "mean_gpu_ms": "GPU compute time (ms)",
        "gpu_util_pct": "GPU utilisation (%)",
        "gpu_mem_pct": "GPU memory used (%)",
    }
    data = by_bucket[by_bucket["requests"] >= min_requests]
    rows = []
    for column, label in drivers.items():
        if column not in data:
            continue
        pair = data[["p95_ms", column]].dropna()
        if len(pair) < 3 or pair[column].nunique() < 2:
            continue
        rho = pair["p95_ms"].rank().corr(pair[column].rank())
        rows.append({"driver": label, "column": column, "spearman_rho": float(rho), "buckets": len(pair)})
    frame = pd.DataFrame(rows, columns=["driver", "column", "spearman_rho", "buckets"])
    return frame.sort_values("spearman_rho", key=np.abs, ascending=False, ignore_index=True)


def in_spike_mask(by_bucket, spikes, bucket_code) -> np.ndarray:
    spike_bucket = np.zeros(len(by_bucket), dtype=bool)
    for row in spikes.itertuples():
        spike_bucket[(by_bucket["start"] >= row.start).to_numpy() & (by_bucket["start"] < row.end).to_numpy()] = True
    return spike_bucket[bucket_code]
