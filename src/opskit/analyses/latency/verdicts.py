"""Verdicts and key figures of a :class:`~opskit.analyses.latency.result.LatencyResult`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from opskit.analyses.latency.causes import NEXT_STEPS
from opskit.analyses.latency.result import LatencyResult
from opskit.checks import Status, Verdict


def _utc(ts) -> str:
    return "n/a" if ts is None or pd.isna(ts) else f"{pd.Timestamp(ts):%Y-%m-%d %H:%M} UTC"


def _slo_verdicts(result: LatencyResult) -> list[Verdict]:
    """The SLO quantile per endpoint, the busiest ``max_subjects`` one by one and the rest in one row."""
    th = result.thresholds
    q = f"p{th.slo_quantile * 100:g}"
    out: list[Verdict] = []
    endpoints = result.by_endpoint.sort_values("requests", ascending=False, kind="stable")
    shown, rest = endpoints.head(th.max_subjects), endpoints.iloc[th.max_subjects :]
    for row in shown.itertuples():
        observed = float(row.slo_q_ms)
        ok = observed <= th.slo_ms
        out.append(
            Verdict(
                f"latency SLO ({q})",
                Status.PASS if ok else Status.FAIL,
                subject=str(row.endpoint),
                observed=round(observed, 1),
                threshold=th.slo_ms,
                unit="ms",
                evidence=f"{row.requests:,} requests, p50 {row.p50_ms:.0f} ms, p99 {row.p99_ms:.0f} ms, "
                f"{row.slow_pct:.1f} % slower than {th.slo_ms:g} ms",
                next_step=None if ok else "see the likely causes below, worst first",
            )
        )
    if len(rest):
        over = rest[rest["slo_q_ms"] > th.slo_ms].sort_values("requests", ascending=False)
        out.append(
            Verdict(
                f"latency SLO ({q})",
                Status.FAIL if len(over) else Status.PASS,
                subject=f"{len(rest)} smaller endpoints",
                observed=len(over),
                threshold=0,
                unit="endpoints over the SLO",
                evidence=", ".join(f"{r.endpoint} {r.slo_q_ms:.0f} ms" for r in over.head(5).itertuples())
                or f"all under {th.slo_ms:g} ms",
                message=f"{rest['requests'].sum():,} requests in endpoints beyond the {th.max_subjects} busiest",
            )
        )
    return out


def _budget_verdicts(result: LatencyResult) -> list[Verdict]:
    """The share of the error budget the slow requests spent."""
    th = result.thresholds
    out: list[Verdict] = []
    consumed = result.budget["budget_consumed_pct"]
    out.append(
        Verdict(
            "error budget",
            Status.FAIL if consumed > 100 else Status.WARN if consumed > 50 else Status.PASS,
            subject="all endpoints",
            observed=round(consumed, 1),
            threshold=100.0,
            unit="% of budget",
            evidence=f"{result.budget['slow_fraction']:.2%} of {result.requests:,} requests slower than "
            f"{th.slo_ms:g} ms against a budget of {th.budget:.0%} ({_utc(result.start)} to {_utc(result.end)})",
            next_step=None if consumed <= 50 else "freeze risky rollouts until the budget recovers",
        )
    )
    return out


def _burn_verdicts(result: LatencyResult) -> list[Verdict]:
    """One row per burn-rate rule: fired (page FAIL, ticket WARN), never fired, or not covered (SKIP)."""
    out: list[Verdict] = []
    for rule in result.burn.itertuples():
        if not rule.covered:
            status, evidence = Status.SKIP, f"the data covers less than the {rule.long_window} window"
        elif rule.fired:
            status = Status.FAIL if rule.severity == "page" else Status.WARN
            evidence = f"first fired {_utc(rule.first_fired)}, {rule.minutes_firing} minutes firing"
        else:
            status, evidence = Status.PASS, "never fired"
        out.append(
            Verdict(
                "burn-rate alert",
                status,
                subject=rule.rule,
                observed=round(rule.max_long_burn, 2) if np.isfinite(rule.max_long_burn) else None,
                threshold=rule.factor,
                unit="x budget",
                evidence=evidence,
                next_step="page the on-call" if status == Status.FAIL else None,
            )
        )
    return out


def _breach_verdicts(result: LatencyResult) -> list[Verdict]:
    """The periods the per-bucket quantile was over the SLO, the longest three as evidence."""
    th = result.thresholds
    q = f"p{th.slo_quantile * 100:g}"
    out: list[Verdict] = []
    breaches = result.breaches
    total_min = float(breaches["duration_min"].sum()) if len(breaches) else 0.0
    longest = breaches.sort_values("duration_min", ascending=False).head(3)
    out.append(
        Verdict(
            "SLO breach periods",
            Status.WARN if len(breaches) else Status.PASS,
            subject=f"{q} per {th.bucket}",
            observed=total_min,
            threshold=0.0,
            unit="min",
            evidence="; ".join(
                f"{_utc(b.start)} for {b.duration_min:.0f} min (peak {b.peak_ms:.0f} ms)" for b in longest.itertuples()
            )
            or "no bucket over the SLO",
            message=f"{len(breaches)} periods" if len(breaches) else None,
        )
    )
    return out


def _version_verdicts(result: LatencyResult) -> list[Verdict]:
    """Each busy (or slow) model version against the fastest version of its endpoint."""
    th = result.thresholds
    q = f"p{th.slo_quantile * 100:g}"
    out: list[Verdict] = []
    versions = result.by_version.sort_values("requests", ascending=False, kind="stable")
    busiest = versions.index[: th.max_subjects]
    for v in versions[versions.index.isin(busiest) | versions["slow_version"]].itertuples():
        began = v.rollout_at if pd.notna(v.rollout_at) else v.first_seen
        out.append(
            Verdict(
                "model version",
                Status.FAIL if v.slow_version else Status.WARN if v.slo_q_ms > th.slo_ms else Status.PASS,
                subject=f"{v.endpoint} {v.model_version}",
                observed=round(float(v.slo_q_ms), 1),
                threshold=th.slo_ms,
                unit="ms",
                evidence=f"{q} x{v.slo_q_vs_fastest:.2f} the fastest version of {v.endpoint} (outside load spikes); "
                f"{'rolled out' if pd.notna(v.rollout_at) else 'serving since'} {_utc(began)}",
                next_step=NEXT_STEPS["slow model version"].format(subject=v.model_version) if v.slow_version else None,
            )
        )
    return out


def _load_spike_verdicts(result: LatencyResult) -> list[Verdict]:
    """Each load spike: FAIL when latency broke the SLO during it."""
    th = result.thresholds
    out: list[Verdict] = []
    if len(result.spikes) == 0:
        out.append(Verdict("load spike", Status.PASS, observed=0, evidence="no load spike found"))
    for s in result.spikes.itertuples():
        hurt = s.p95_during_ms > th.slo_ms
        out.append(
            Verdict(
                "load spike",
                Status.FAIL if hurt else Status.WARN,
                subject=f"from {_utc(s.start)}",
                observed=round(s.peak_ratio, 2),
                threshold=th.load_spike_ratio,
                unit="x usual rps",
                evidence=f"{_utc(s.start)} to {_utc(s.end)} ({s.duration_min:.0f} min), peak {s.peak_rps:.1f} req/s "
                f"vs {s.expected_rps:.1f} usual; p95 {s.p95_during_ms:.0f} ms during, {s.p95_before_ms:.0f} ms before",
                next_step=NEXT_STEPS["saturation"] if hurt else None,
            )
        )
    return out


def _change_verdicts(result: LatencyResult) -> list[Verdict]:
    """Each latency regime change and what it lines up with."""
    th = result.thresholds
    out: list[Verdict] = []
    for c in result.changes.itertuples():
        out.append(
            Verdict(
                "latency regime change",
                Status.WARN if c.direction == "slower" else Status.PASS,
                subject=_utc(c.at),
                observed=round(c.ratio, 2),
                threshold=th.min_change_ratio,
                unit="x p95",
                evidence=f"p95 {c.before_p95_ms:.0f} -> {c.after_p95_ms:.0f} ms; "
                + (
                    f"lines up with {c.lines_up_with}" if c.lines_up_with else "lines up with no rollout or load change"
                ),
            )
        )
    return out


def _queueing_verdicts(result: LatencyResult) -> list[Verdict]:
    """The share of queue time in the latency of slow requests (SKIP without queue_ms/gpu_ms)."""
    th = result.thresholds
    out: list[Verdict] = []
    queue = result.breakdown[result.breakdown["component"] == "queue"]
    if len(result.breakdown) == 0:
        out.append(Verdict("latency breakdown", Status.SKIP, message="no queue_ms/gpu_ms columns in the requests"))
    else:
        parts = ", ".join(f"{r.component} {r.share_slow:.0%}" for r in result.breakdown.itertuples())
        share = float(queue["share_slow"].iloc[0]) if len(queue) else float("nan")
        out.append(
            Verdict(
                "queueing",
                Status.WARN if share >= th.queue_share else Status.PASS,
                subject="slow requests",
                observed=round(share * 100, 1) if np.isfinite(share) else None,
                threshold=th.queue_share * 100,
                unit="% of latency",
                evidence=f"where the time of slow requests goes: {parts}",
                next_step=NEXT_STEPS["queueing"] if share >= th.queue_share else None,
            )
        )
    return out


def _gpu_verdicts(result: LatencyResult) -> list[Verdict]:
    """Buckets with busy GPUs that broke the SLO (SKIP without GPU metrics)."""
    th = result.thresholds
    out: list[Verdict] = []
    if "gpu_util_pct" not in result.by_bucket:
        out.append(Verdict("GPU saturation", Status.SKIP, message="no GPU metrics given (-p gpu_metrics ...)"))
    else:
        busy = result.by_bucket[result.by_bucket["gpu_util_pct"] >= th.gpu_busy_pct]
        over = busy[busy["slo_q_ms"] > th.slo_ms]
        out.append(
            Verdict(
                "GPU saturation",
                Status.WARN if len(over) else Status.PASS,
                subject="serving GPUs",
                observed=round(float(result.by_bucket["gpu_util_pct"].max()), 1),
                threshold=th.gpu_busy_pct,
                unit="% util",
                evidence=f"{len(busy)} buckets with mean GPU utilisation >= {th.gpu_busy_pct:g} %, {len(over)} of them "
                f"over the SLO" + (f", from {_utc(over['start'].iloc[0])}" if len(over) else ""),
                next_step=NEXT_STEPS["saturation"] if len(over) else None,
            )
        )
    return out


def _cause_verdicts(result: LatencyResult) -> list[Verdict]:
    """The likely causes, one WARN row each, in rank order."""
    out: list[Verdict] = []
    for c in result.causes.itertuples():
        out.append(
            Verdict(
                "likely cause",
                Status.WARN,
                subject=f"#{c.rank} {c.cause}: {c.subject}",
                observed=round(c.budget_share * 100, 1),
                unit="% of slow requests",
                evidence=c.evidence,
                next_step=c.next_step,
                message=f"since {_utc(c.began)}" if pd.notna(c.began) else None,
            )
        )
    return out


_JUDGES = (
    _slo_verdicts,
    _budget_verdicts,
    _burn_verdicts,
    _breach_verdicts,
    _version_verdicts,
    _load_spike_verdicts,
    _change_verdicts,
    _queueing_verdicts,
    _gpu_verdicts,
    _cause_verdicts,
)


def latency_verdicts(result: LatencyResult) -> list[Verdict]:
    """Judge a :class:`LatencyResult`: SLO per endpoint, error budget and burn-rate alerts, breaches,
    versions, load spikes, regime changes, latency breakdown, GPU saturation and the likely causes."""
    out: list[Verdict] = []
    for judge in _JUDGES:
        out.extend(judge(result))
    return out


def latency_figures(result: LatencyResult) -> dict[str, Any]:
    """The key figures of a run for ``summary.json``: JSON-ready scalars and short lists."""
    slow = result.by_version[result.by_version["slow_version"]].sort_values("slo_q_vs_fastest", ascending=False)
    spike = result.spikes.sort_values("peak_ratio", ascending=False)

    def iso(ts) -> str | None:
        return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat()

    top = result.causes.iloc[0] if len(result.causes) else None
    return {
        "requests": result.requests,
        "p50_ms": round(result.overall["p50_ms"], 1),
        "p95_ms": round(result.overall["p95_ms"], 1),
        "p99_ms": round(result.overall["p99_ms"], 1),
        "slo_ms": result.thresholds.slo_ms,
        "slow_pct": round(100 * result.overall["slow_fraction"], 2),
        "budget_consumed_pct": round(result.budget["budget_consumed_pct"], 1),
        "breach_minutes": float(result.breaches["duration_min"].sum()) if len(result.breaches) else 0.0,
        "alerts_fired": [r.rule for r in result.burn.itertuples() if r.fired],
        "slow_version": str(slow["model_version"].iloc[0]) if len(slow) else None,
        "slow_version_began": iso(slow["rollout_at"].iloc[0]) if len(slow) else None,
        "load_spike_began": iso(spike["start"].iloc[0]) if len(spike) else None,
        "load_spike_peak_ratio": round(float(spike["peak_ratio"].iloc[0]), 2) if len(spike) else None,
        "regime_changes": [iso(c.at) for c in result.changes.itertuples()],
        "top_cause": f"{top['cause']}: {top['subject']}" if top is not None else None,
        "engine": result.engine,
    }
