"""Error budget of a latency SLO: burn rates of multi-window alert rules, and breach periods.

The SLO "p95 <= 500 ms" is read as "95 % of requests faster than 500 ms": a slower request spends
error budget (5 % of requests). Burn rate = fraction of slow requests in a window / budget; a rule
fires when both its long and its short window burn faster than its factor (Google SRE workbook,
"Alerting on SLOs").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from opskit.analyses.latency.thresholds import LatencyThresholds


def burn_rates(ts_ns: np.ndarray, slow: np.ndarray, th: LatencyThresholds) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-minute burn rates of each rule's windows, and per rule: fired, first firing, minutes firing."""
    minute = 60_000_000_000
    origin = ts_ns.min() // minute * minute
    code = ((ts_ns - origin) // minute).astype("int64")
    n = int(code.max()) + 1
    total = np.bincount(code, minlength=n).astype("float64")
    bad = np.bincount(code, weights=slow, minlength=n)
    ctotal = np.concatenate([[0.0], np.cumsum(total)])
    cbad = np.concatenate([[0.0], np.cumsum(bad)])
    index = pd.to_datetime(origin + np.arange(n) * minute, utc=True)
    series = pd.DataFrame({"minute": index, "requests": total, "slow": bad})

    def window_burn(width: int) -> np.ndarray:
        hi = np.arange(1, n + 1)
        lo = np.maximum(hi - width, 0)
        req = ctotal[hi] - ctotal[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(req > 0, (cbad[hi] - cbad[lo]) / req / th.budget, 0.0)

    rows = []
    for rule in th.burn_rules:
        long_w = int(pd.Timedelta(rule.long_window) / pd.Timedelta("1min"))
        short_w = int(pd.Timedelta(rule.short_window) / pd.Timedelta("1min"))
        long_b, short_b = window_burn(long_w), window_burn(short_w)
        # a window is judged only once the data covers it
        firing = (long_b >= rule.factor) & (short_b >= rule.factor) & (np.arange(n) >= long_w - 1)
        series[f"{rule.name} long"] = long_b
        series[f"{rule.name} short"] = short_b
        first = index[np.argmax(firing)] if firing.any() else pd.NaT
        rows.append(
            {
                "rule": rule.name,
                "severity": rule.severity,
                "long_window": rule.long_window,
                "short_window": rule.short_window,
                "factor": rule.factor,
                "max_long_burn": float(long_b[long_w - 1 :].max()) if n >= long_w else float("nan"),
                "fired": bool(firing.any()),
                "first_fired": first,
                "minutes_firing": int(firing.sum()),
                "covered": n >= long_w,
            }
        )
    return pd.DataFrame(rows), series


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype("int8")
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def breach_periods(by_bucket: pd.DataFrame, slo_ms: float, step: pd.Timedelta, min_requests: int) -> pd.DataFrame:
    """When the per-bucket SLO quantile was over the SLO, and for how long (consecutive buckets)."""
    enough = by_bucket["requests"].to_numpy() >= min_requests
    over = (by_bucket["slo_q_ms"].to_numpy() > slo_ms) & enough
    rows = []
    for a, b in true_runs(over):
        part = by_bucket.iloc[a:b]
        rows.append(
            {
                "start": part["start"].iloc[0],
                "end": part["start"].iloc[-1] + step,
                "duration_min": (b - a) * step.total_seconds() / 60,
                "peak_ms": float(part["slo_q_ms"].max()),
                "requests": int(part["requests"].sum()),
                "slow_requests": int(part["slow"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["start", "end", "duration_min", "peak_ms", "requests", "slow_requests"]).astype(
        {"duration_min": "float64"}
    )
