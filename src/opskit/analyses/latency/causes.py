"""Likely causes of slow requests, ranked by the share of the error budget each explains."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from opskit.analyses.latency.result import LatencyResult

NEXT_STEPS = {
    "slow model version": "roll back {subject} or profile it (batch size, precision: FP16/INT8, TensorRT or "
    "ONNX Runtime) before rolling it out again",
    "saturation": "scale out (more replicas, autoscaling on queue depth or GPU utilisation), rate-limit or shed "
    "load from the spike's source",
    "queueing": "add replicas or lower the dynamic-batching max queue delay; cap concurrency per replica",
    "cold starts": "warm up new instances before they take traffic (readiness probe after a warm-up request), "
    "keep a minimum of replicas",
    "pathological inputs": "cap the input size ({size}) or route large inputs to a separate queue; find the "
    "clients that send them",
}


def rank_causes(result: LatencyResult) -> pd.DataFrame:
    """Likely causes, most likely first, with their evidence and the next step.

    Each cause is ranked by ``budget_share``: the share of all slow requests (the error budget
    spent) it explains beyond what the same requests would have cost anyway. A slow version
    explains its slow requests beyond the slow rate of the fastest version of its endpoint
    (outside load spikes); a load spike explains its slow requests beyond the rate outside spikes;
    queueing the slow requests (outside spikes) whose queue time is over half their latency; cold
    starts the slow first requests beyond the warm rate; pathological inputs the extreme requests.
    """
    th = result.thresholds
    q = f"p{th.slo_quantile * 100:g}"
    total = max(result.attribution.get("slow_requests", 0), 1)
    rows: list[dict[str, Any]] = []

    def add(cause, subject, excess, began, evidence, next_step):
        rows.append(
            {
                "cause": cause,
                "subject": subject,
                "budget_share": max(0.0, float(excess)) / total,
                "began": began,
                "evidence": evidence,
                "next_step": next_step,
            }
        )

    aligned = set(result.changes.loc[result.changes["cause_kind"] == "model rollout", "lines_up_with"])
    versions = result.by_version
    for v in versions[versions["slow_version"]].itertuples():
        lines_up = any(f"rollout of {v.model_version} " in text for text in aligned)
        peers = versions[versions["endpoint"] == v.endpoint]
        best = peers.loc[peers["slo_q_ms"].idxmin()]
        began = v.rollout_at if pd.notna(v.rollout_at) else v.first_seen
        gpu = ""
        if "median_gpu_ms" in versions:
            gpu = f"; median GPU time {v.median_gpu_ms:.0f} ms vs {best['median_gpu_ms']:.0f} ms"
        add(
            "slow model version",
            str(v.model_version),
            v.slow - v.requests * best["slow_pct"] / 100.0,
            began,
            f"{v.endpoint} {v.model_version}: {q} {v.slo_q_ms:.0f} ms vs {best['slo_q_ms']:.0f} ms for "
            f"{best['model_version']} (x{v.slo_q_vs_fastest:.2f}, outside load spikes){gpu}; rolled out "
            f"{began:%Y-%m-%d %H:%M} UTC" + ("; the latency regime changed with it" if lines_up else ""),
            NEXT_STEPS["slow model version"].format(subject=v.model_version),
        )
    usual = result.attribution.get("slow_fraction_outside_spikes", 0.0)
    for s in result.spikes.itertuples():
        if s.p95_during_ms <= th.slo_ms and not (s.p95_during_ms > 1.1 * s.p95_before_ms):
            continue
        window = result.by_bucket[(result.by_bucket["start"] >= s.start) & (result.by_bucket["start"] < s.end)]
        gpu_text = ""
        if "gpu_util_pct" in window and window["gpu_util_pct"].notna().any():
            util = float(window["gpu_util_pct"].mean())
            busy = "busy" if util >= th.gpu_busy_pct else "not busy"
            gpu_text = f"; GPU utilisation {util:.0f} % ({busy}, threshold {th.gpu_busy_pct:g} %)"
        add(
            "saturation",
            f"load spike {s.start:%Y-%m-%d %H:%M}",
            s.slow_requests - s.requests * usual,
            s.start,
            f"{s.peak_rps:.1f} req/s, x{s.peak_ratio:.1f} the usual rate, for {s.duration_min:.0f} min; "
            f"p95 {s.p95_during_ms:.0f} ms during vs {s.p95_before_ms:.0f} ms before{gpu_text}",
            NEXT_STEPS["saturation"],
        )
    queued = result.attribution.get("queue_dominated_slow", 0)
    queue = result.breakdown[result.breakdown["component"] == "queue"]
    if queued and len(queue):
        add(
            "queueing",
            "queue time",
            queued,
            pd.NaT,
            f"{queued} slow requests outside load spikes waited more than half their latency in the queue; "
            f"queue time is {float(queue['share_slow'].iloc[0]):.0%} of the latency of all slow requests",
            NEXT_STEPS["queueing"],
        )
    cold = result.cold_starts
    if np.isfinite(cold.get("ratio", np.nan)) and cold["ratio"] >= th.cold_ratio and cold["cold_p95_ms"] > th.slo_ms:
        add(
            "cold starts",
            f"first {th.cold_requests} requests per {cold['keyed_by']}",
            cold["slow_cold"] - cold["cold_requests"] * cold["warm_slow_fraction"],
            pd.NaT,
            f"{cold['cold_requests']} first requests of {cold.get('units', 0)} {cold['keyed_by']}s: "
            f"p95 {cold['cold_p95_ms']:.0f} ms vs {cold['warm_p95_ms']:.0f} ms warm",
            NEXT_STEPS["cold starts"],
        )
    path = result.pathological
    if 0 < path["fraction"] < 0.01:
        size = ""
        if path.get("size_column"):
            size = f"; median {path['size_column']} {path['extreme_median_size']:.0f} vs {path['median_size']:.0f}"
        add(
            "pathological inputs",
            f"{path['requests']} requests > {path['limit_ms']:.0f} ms",
            path["requests"],
            pd.NaT,
            f"{path['requests']} requests ({path['fraction']:.3%}) outside load spikes and cold starts slower "
            f"than {th.pathological_factor:g}x the median, up to {path.get('example_latency_ms', 0):.0f} ms{size}",
            NEXT_STEPS["pathological inputs"].format(size=path.get("size_column") or "payload"),
        )
    frame = pd.DataFrame(rows, columns=["cause", "subject", "budget_share", "began", "evidence", "next_step"])
    frame = frame[frame["budget_share"] >= th.min_cause_share]
    frame = frame.sort_values("budget_share", ascending=False, ignore_index=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame
