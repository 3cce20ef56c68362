"""Inference latency: one call, :func:`analyze_latency`, from a requests frame to a ``LatencyResult``.

Input is the requests frame of :mod:`opskit.sources.requests` (``timestamp`` UTC, ``endpoint``,
``model_version``, ``latency_ms``, ``status``, optional ``batch_size``, ``queue_ms``, ``gpu_ms``,
``instance``, ``input_tokens``) and optionally GPU samples (``timestamp``, ``util_pct``,
``mem_used_mib``, ``mem_total_mib``). Nothing here renders or prints.

This module builds the tables per bucket, endpoint and version and calls the parts, one concern each:

- :mod:`~opskit.analyses.latency.thresholds`: :class:`LatencyThresholds` (the settings) and the burn-rate rules;
- :mod:`~opskit.analyses.latency.result`: :class:`LatencyResult`, what this returns;
- :mod:`~opskit.analyses.latency.quantiles`: exact quantiles by DuckDB or pandas (same numbers);
- :mod:`~opskit.analyses.latency.error_budget`: burn-rate alerts and breach periods;
- :mod:`~opskit.analyses.latency.traffic_load`: load spikes, GPU metrics, correlations with load;
- :mod:`~opskit.analyses.latency.regime_changes`: regime changes, rollouts and what the changes line up with;
- :mod:`~opskit.analyses.latency.slow_requests`: latency breakdown, cold starts, pathological inputs;
- :mod:`~opskit.analyses.latency.causes`: the likely causes, ranked;
- :mod:`~opskit.analyses.latency.verdicts`: :func:`latency_verdicts` and :func:`latency_figures`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from opskit.analyses.latency.causes import rank_causes
from opskit.analyses.latency.error_budget import breach_periods, burn_rates
from opskit.analyses.latency.quantiles import QUANTILES, epoch_ns, latency_quantiles, quantile_column, resolve_engine
from opskit.analyses.latency.regime_changes import align_changes, change_points, version_rollouts
from opskit.analyses.latency.result import LatencyResult
from opskit.analyses.latency.slow_requests import cold_start_stats, latency_breakdown, pathological_inputs
from opskit.analyses.latency.thresholds import LatencyThresholds
from opskit.analyses.latency.traffic_load import in_spike_mask, join_gpu, load_correlations, load_spikes
from opskit.errors import InputError


def analyze_latency(
    frame: pd.DataFrame,
    thresholds: LatencyThresholds | None = None,
    *,
    gpu: pd.DataFrame | None = None,
    engine: str = "auto",
) -> LatencyResult:
    """Analyse a requests frame (see the module docstring); ``gpu`` adds utilisation/memory correlation."""
    th = thresholds or LatencyThresholds()
    engine = resolve_engine(engine)
    missing = [c for c in ("timestamp", "endpoint", "model_version", "latency_ms", "status") if c not in frame]
    if missing:
        raise InputError(f"the requests frame lacks {', '.join(missing)}", column=missing[0])
    if len(frame) == 0:
        raise InputError("no requests to analyse", hint="check the time range of the export")
    if not frame["timestamp"].is_monotonic_increasing:
        frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
    step = pd.Timedelta(th.bucket)
    ts_ns = epoch_ns(frame["timestamp"])
    origin = ts_ns.min() // step.value * step.value
    bucket_code = ((ts_ns - origin) // step.value).astype("int32")
    latency = frame["latency_ms"].to_numpy(dtype="float64", copy=False)
    slow = latency > th.slo_ms
    errors = frame["status"].to_numpy() >= 500
    work = pd.DataFrame(
        {
            "bucket": bucket_code,
            "endpoint": frame["endpoint"],
            "model_version": frame["model_version"],
            "latency_ms": latency,
            "status": frame["status"].to_numpy(),
        }
    )
    if "gpu_ms" in frame:
        work["gpu_ms"] = frame["gpu_ms"].to_numpy(dtype="float64", copy=False)
    start = pd.Timestamp(ts_ns.min(), tz="UTC")
    end = pd.Timestamp(ts_ns.max(), tz="UTC")

    by_bucket = _bucket_table(frame, work, bucket_code, origin, step, engine, th)
    spikes, expected_rps = load_spikes(by_bucket, step, th)
    by_bucket["expected_rps"] = expected_rps
    by_bucket = join_gpu(by_bucket, gpu, origin, step)

    by_endpoint = _group_table(work, ["endpoint"], engine, th)
    by_bucket_version = latency_quantiles(work, ["bucket", "model_version"], (0.5, 0.95), engine=engine)
    by_bucket_version.insert(0, "start", _bucket_start(by_bucket_version["bucket"], origin, step))
    by_bucket_version["model_version"] = by_bucket_version["model_version"].astype(str).astype(object)
    in_spike = in_spike_mask(by_bucket, spikes, bucket_code)
    by_version = _version_table(work, ts_ns, in_spike, by_bucket_version, step, th, engine)

    p50, p95, p99, slo_q = np.quantile(latency, [*QUANTILES, th.slo_quantile])
    overall = {
        "requests": len(frame),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
        "slo_quantile_ms": float(slo_q),
        "slow_fraction": float(slow.mean()),
        "error_fraction": float(errors.mean()),
    }
    budget = {
        "target": th.slo_quantile,
        "slow_fraction": overall["slow_fraction"],
        "burn_rate": overall["slow_fraction"] / th.budget,
        "budget_consumed_pct": 100.0 * overall["slow_fraction"] / th.budget,
    }
    burn, burn_series = burn_rates(ts_ns, slow, th)
    breaches = breach_periods(by_bucket, th.slo_ms, step, th.min_bucket_requests)
    changes = change_points(by_bucket, step, th)
    rollouts = version_rollouts(by_bucket_version, step)
    changes = align_changes(changes, rollouts, spikes, step)
    breakdown = latency_breakdown(frame, slow)
    correlations = load_correlations(by_bucket, th.min_bucket_requests)
    cold, is_cold = cold_start_stats(frame, slow, th)
    pathological = pathological_inputs(frame, th, exclude=in_spike | is_cold, median=overall["p50_ms"])
    outside = ~in_spike
    queue_dominated = 0
    if "queue_ms" in frame:
        queue_dominated = int((slow & outside & (frame["queue_ms"].to_numpy(dtype="float64") > 0.5 * latency)).sum())
    attribution = {
        "slow_requests": int(slow.sum()),
        "slow_fraction_outside_spikes": float(slow[outside].mean()) if outside.any() else float("nan"),
        "queue_dominated_slow": queue_dominated,
    }
    result = LatencyResult(
        thresholds=th,
        engine=engine,
        requests=len(frame),
        start=start,
        end=end,
        overall=overall,
        budget=budget,
        by_bucket=by_bucket,
        by_endpoint=by_endpoint,
        by_version=by_version,
        by_bucket_version=by_bucket_version,
        burn=burn,
        burn_series=burn_series,
        breaches=breaches,
        spikes=spikes,
        changes=changes,
        breakdown=breakdown,
        correlations=correlations,
        cold_starts=cold,
        pathological=pathological,
        attribution=attribution,
    )
    return replace(result, causes=rank_causes(result))


def _bucket_start(codes: pd.Series, origin: int, step: pd.Timedelta) -> pd.Series:
    return pd.to_datetime(origin + codes.to_numpy().astype("int64") * step.value, utc=True)


def _bucket_table(frame, work, bucket_code, origin, step, engine, th) -> pd.DataFrame:
    table = _with_slo_quantile(work, ["bucket"], engine, th)
    n = int(bucket_code.max()) + 1
    full = pd.DataFrame({"bucket": np.arange(n, dtype="int32")})
    table = full.merge(table, on="bucket", how="left")
    for name in ("requests", "slow", "errors"):
        table[name] = table[name].fillna(0).astype("int64")
    counts = table["requests"].to_numpy()
    for name in ("queue_ms", "gpu_ms", "batch_size"):
        if name in frame:
            values = frame[name].to_numpy(dtype="float64")
            ok = ~np.isnan(values)
            if ok.all():
                sums, seen = np.bincount(bucket_code, weights=values, minlength=n), counts
            else:
                sums = np.bincount(bucket_code[ok], weights=values[ok], minlength=n)
                seen = np.bincount(bucket_code[ok], minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                table[f"mean_{name}"] = sums / seen
    table["rps"] = counts / step.total_seconds()
    table.insert(0, "start", _bucket_start(table["bucket"], origin, step))
    return table


def _with_slo_quantile(work, by, engine, th, where=None, medians=()) -> pd.DataFrame:
    """Quantiles of QUANTILES plus the SLO's quantile (copied to ``slo_q_ms``), slow and error counts."""
    qs = tuple(sorted({*QUANTILES, th.slo_quantile}))
    table = latency_quantiles(work, by, qs, engine=engine, where=where, slo_ms=th.slo_ms, medians=medians)
    table["slo_q_ms"] = table[quantile_column(th.slo_quantile)]
    return table


def _group_table(work, by, engine, th, where=None, medians=()) -> pd.DataFrame:
    table = _with_slo_quantile(work, by, engine, th, where, medians)
    for key in by:  # plain text, so that reports can mask it like any other text
        table[key] = table[key].astype(str).astype(object)
    table["slow_pct"] = 100.0 * table["slow"] / table["requests"]
    table["error_pct"] = 100.0 * table["errors"] / table["requests"]
    return table


def _version_table(work, ts_ns, in_spike, by_bucket_version, step, th, engine) -> pd.DataFrame:
    """Per endpoint and version, outside load spikes so that load does not blame a version."""
    keep = ~in_spike if (~in_spike).any() else None
    keys = ["endpoint", "model_version"]
    table = _group_table(work, keys, engine, th, where=keep, medians=("gpu_ms",) if "gpu_ms" in work else ())
    # rows are in time order: the first and last row of each pair are its first and last request
    codes = work["endpoint"].cat.codes.to_numpy().astype("int64") * (len(work["model_version"].cat.categories) + 1)
    codes += work["model_version"].cat.codes.to_numpy()
    pairs = pd.Series(codes)
    first, last = pairs.drop_duplicates(keep="first").index, pairs.drop_duplicates(keep="last").index
    stamps = ts_ns
    last_at = pd.Series(stamps[last], index=codes[last])
    seen = pd.DataFrame(
        {
            "endpoint": work["endpoint"].iloc[first].to_numpy(),
            "model_version": work["model_version"].iloc[first].to_numpy(),
            "first_seen": stamps[first],
            "last_seen": last_at.reindex(codes[first]).to_numpy(),
        }
    )
    seen["first_seen"] = pd.to_datetime(seen["first_seen"], utc=True)
    seen["last_seen"] = pd.to_datetime(seen["last_seen"], utc=True)
    for key in keys:
        seen[key] = seen[key].astype(table[key].dtype)
    table = table.merge(seen, on=keys, how="left")
    rollouts = version_rollouts(by_bucket_version, step)
    table = table.merge(rollouts[["model_version", "rollout_at"]], on="model_version", how="left")
    fastest = table.groupby("endpoint", observed=True)["slo_q_ms"].transform("min")
    table["slo_q_vs_fastest"] = table["slo_q_ms"] / fastest
    table["slow_version"] = (table["slo_q_vs_fastest"] >= th.slow_version_ratio) & (table["slo_q_ms"] > th.slo_ms)
    return table
