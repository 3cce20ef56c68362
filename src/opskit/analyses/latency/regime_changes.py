"""Latency regime changes (binary segmentation of log p95), version rollouts, and what each change lines up with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opskit.analyses.latency.thresholds import LatencyThresholds


def binary_segmentation(y: np.ndarray, *, min_size: int, penalty: float, max_changes: int = 12) -> list[int]:
    """Change points of a piecewise-constant mean by binary segmentation (least squares).

    A split is kept when it lowers the sum of squared errors by more than ``penalty``; returns
    sorted indices where a new segment starts.
    """
    y = np.asarray(y, dtype="float64")
    s1 = np.concatenate([[0.0], np.cumsum(y)])
    s2 = np.concatenate([[0.0], np.cumsum(y * y)])

    def sse(a, b):
        n = b - a
        return s2[b] - s2[a] - (s1[b] - s1[a]) ** 2 / n

    found: list[int] = []
    stack = [(0, len(y))]
    while stack and len(found) < max_changes:
        a, b = stack.pop()
        if b - a < 2 * min_size:
            continue
        k = np.arange(a + min_size, b - min_size + 1)
        gain = sse(a, b) - sse(a, k) - sse(k, b)
        best = int(np.argmax(gain))
        if gain[best] <= penalty:
            continue
        split = int(k[best])
        found.append(split)
        stack.extend([(a, split), (split, b)])
    return sorted(found)


def change_points(by_bucket: pd.DataFrame, step: pd.Timedelta, th: LatencyThresholds) -> pd.DataFrame:
    """Times the latency regime changed: binary segmentation of log per-bucket p95."""
    columns = ["at", "before_p95_ms", "after_p95_ms", "ratio", "direction"]
    data = by_bucket[(by_bucket["requests"] >= th.min_bucket_requests) & by_bucket["p95_ms"].notna()]
    if len(data) < 12:
        return pd.DataFrame(columns=columns)
    y = np.log(data["p95_ms"].clip(lower=1e-3).to_numpy())
    sigma = np.median(np.abs(np.diff(y))) / (0.6745 * np.sqrt(2)) or 1e-6
    min_size = max(3, int(pd.Timedelta("30min") / step))
    splits = binary_segmentation(y, min_size=min_size, penalty=6.0 * sigma**2 * np.log(len(y)))
    bounds = [0, *splits, len(y)]
    rows = []
    for i, split in enumerate(splits):
        before = float(np.exp(np.median(y[bounds[i] : split])))
        after = float(np.exp(np.median(y[split : bounds[i + 2]])))
        ratio = after / before
        if max(ratio, 1 / ratio) < th.min_change_ratio:
            continue
        rows.append(
            {
                "at": data["start"].iloc[split],
                "before_p95_ms": before,
                "after_p95_ms": after,
                "ratio": ratio,
                "direction": "slower" if ratio > 1 else "faster",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def version_rollouts(by_bucket_version: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """Per version: when it first took >= 5 % of traffic (rollout_at) and >= 50 % (majority_at).

    Versions present from the first bucket were not rolled out in the window (rollout_at NaT).
    """
    counts = by_bucket_version.pivot_table(
        index="start", columns="model_version", values="requests", aggfunc="sum", observed=True
    ).fillna(0)
    share = counts.div(counts.sum(axis=1), axis=0)
    rows = []
    for version in share.columns:
        s = share[version]
        started = s[s >= 0.05]
        if started.empty:
            continue
        first = started.index[0]
        rolled = first != share.index[0]
        majority = s[s >= 0.5]
        rows.append(
            {
                "model_version": str(version),
                "rollout_at": first if rolled else pd.NaT,
                "majority_at": majority.index[0] if len(majority) and rolled else pd.NaT,
                "peak_share": float(s.max()),
            }
        )
    return pd.DataFrame(rows, columns=["model_version", "rollout_at", "majority_at", "peak_share"])


def align_changes(changes: pd.DataFrame, rollouts: pd.DataFrame, spikes: pd.DataFrame, step) -> pd.DataFrame:
    """Name what each regime change lines up with: a version rollout, a load increase or its end."""
    out = changes.copy()
    out["lines_up_with"] = ""
    out["cause_kind"] = ""
    slack = max(pd.Timedelta("30min"), 2 * step)
    for i, change in out.iterrows():
        at = change["at"]
        for r in rollouts.dropna(subset=["rollout_at"]).itertuples():
            until = r.majority_at if pd.notna(r.majority_at) else r.rollout_at
            if r.rollout_at - slack <= at <= until + slack:
                out.at[i, "lines_up_with"] = f"rollout of {r.model_version} (from {r.rollout_at:%Y-%m-%d %H:%M} UTC)"
                out.at[i, "cause_kind"] = "model rollout"
        for s in spikes.itertuples():
            if abs(at - s.start) <= slack and change["direction"] == "slower":
                out.at[i, "lines_up_with"] = f"load increase x{s.peak_ratio:.1f} (from {s.start:%Y-%m-%d %H:%M} UTC)"
                out.at[i, "cause_kind"] = "load increase"
            elif abs(at - s.end) <= slack and change["direction"] == "faster":
                out.at[i, "lines_up_with"] = f"end of load increase ({s.end:%Y-%m-%d %H:%M} UTC)"
                out.at[i, "cause_kind"] = "load decrease"
    return out
