"""What slow requests have in common: where their time goes, cold starts, pathological inputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from opskit.analyses.latency.thresholds import LatencyThresholds

INSTANCE_COLUMNS = ("instance", "pod", "replica", "host")
INPUT_SIZE_COLUMNS = ("input_tokens", "prompt_tokens", "input_bytes", "request_bytes", "payload_bytes")


def latency_breakdown(frame: pd.DataFrame, slow: np.ndarray) -> pd.DataFrame:
    """Queue vs compute vs other (pre/post-processing, network) in all and in slow requests."""
    parts = [c for c in ("queue_ms", "gpu_ms") if c in frame]
    columns = ["component", "mean_all_ms", "mean_slow_ms", "share_all", "share_slow"]
    if not parts:
        return pd.DataFrame(columns=columns)
    # sums only (no per-request arrays): "other" is the latency less the logged parts, a missing part is 0
    slow_rows = np.flatnonzero(slow)
    n_all, n_slow = len(frame), len(slow_rows)
    latency = frame["latency_ms"].to_numpy(dtype="float64")
    sums = {
        c: (np.nansum(frame[c].to_numpy(dtype="float64")), np.nansum(frame[c].to_numpy()[slow_rows])) for c in parts
    }
    total_all, total_slow = float(latency.sum()), float(latency[slow_rows].sum())
    sums["other_ms"] = (
        total_all - sum(a for a, _ in sums.values()),
        total_slow - sum(b for _, b in sums.values()),
    )
    rows = []
    for name, (part_all, part_slow) in sums.items():
        rows.append(
            {
                "component": {"queue_ms": "queue", "gpu_ms": "compute (GPU)", "other_ms": "other"}[name],
                "mean_all_ms": float(part_all) / n_all,
                "mean_slow_ms": float(part_slow) / n_slow if n_slow else float("nan"),
                "share_all": float(part_all) / total_all if total_all else float("nan"),
                "share_slow": float(part_slow) / total_slow if total_slow else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def _rank_in_group(column: pd.Series) -> np.ndarray:
    """0 for the first row of each value of ``column``, 1 for the second... (rows in time order)."""
    codes = pd.factorize(column)[0] if not isinstance(column.dtype, pd.CategoricalDtype) else column.cat.codes
    codes = np.asarray(codes)
    order = np.argsort(codes, kind="stable")  # radix sort for small integer codes
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_codes[1:] != sorted_codes[:-1]]))
    group_start = np.repeat(starts, np.diff(np.concatenate([starts, [len(codes)]])))
    rank = np.empty(len(codes), dtype="int64")
    rank[order] = np.arange(len(codes)) - group_start
    return rank


def cold_start_stats(frame: pd.DataFrame, slow: np.ndarray, th: LatencyThresholds) -> tuple[dict[str, Any], np.ndarray]:
    """Latency of the first requests each instance served (each version when instances are not logged)."""
    key = next((c for c in INSTANCE_COLUMNS if c in frame), None)
    first = _rank_in_group(frame[key or "model_version"]) < th.cold_requests
    latency = frame["latency_ms"].to_numpy()
    result: dict[str, Any] = {"keyed_by": key or "model_version", "cold_requests": int(first.sum())}
    if first.sum() == 0 or (~first).sum() == 0:
        nan = float("nan")
        return {**result, "cold_p95_ms": nan, "warm_p95_ms": nan, "ratio": nan, "slow_cold": 0}, first
    result["slow_cold"] = int(slow[first].sum())
    result["warm_slow_fraction"] = float(slow[~first].mean())
    cold_p95 = float(np.quantile(latency[first], th.slo_quantile))
    warm_p95 = float(np.quantile(latency[~first], th.slo_quantile))
    units = frame[key].nunique() if key else frame["model_version"].nunique()
    ratio = cold_p95 / warm_p95
    return {**result, "units": int(units), "cold_p95_ms": cold_p95, "warm_p95_ms": warm_p95, "ratio": ratio}, first


def pathological_inputs(
    frame: pd.DataFrame, th: LatencyThresholds, exclude: np.ndarray | None = None, median: float | None = None
) -> dict[str, Any]:
    """A few requests far slower than the rest (> factor x median), and their input size when logged.

    ``exclude`` marks requests already explained (in a load spike, cold starts) that do not count.
    """
    latency = frame["latency_ms"].to_numpy()
    median = float(np.median(latency)) if median is None else median
    extreme = latency > th.pathological_factor * median
    if exclude is not None:
        extreme &= ~exclude
    out: dict[str, Any] = {
        "limit_ms": th.pathological_factor * median,
        "requests": int(extreme.sum()),
        "fraction": float(extreme.mean()),
        "size_column": None,
    }
    size = next((c for c in INPUT_SIZE_COLUMNS if c in frame), None)
    if size and extreme.any():
        sizes = frame[size].to_numpy(dtype="float64")
        out["size_column"] = size
        out["median_size"] = float(np.nanmedian(sizes))  # of all requests: the few extreme ones barely move it
        out["extreme_median_size"] = float(np.nanmedian(sizes[extreme]))
    if extreme.any():
        out["example_latency_ms"] = float(latency[extreme].max())
    return out
