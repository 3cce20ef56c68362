"""Inference latency: quantiles, SLO and error budget, breaches, load, regime changes, likely causes.

Input is the requests frame of :mod:`opskit.sources.requests` (``timestamp`` UTC, ``endpoint``,
``model_version``, ``latency_ms``, ``status``, optional ``batch_size``, ``queue_ms``, ``gpu_ms``,
``instance``, ``input_tokens``) and optionally GPU samples (``timestamp``, ``util_pct``,
``mem_used_mib``, ``mem_total_mib``). :func:`analyze_latency` returns a :class:`LatencyResult`;
:func:`latency_verdicts` judges it. Nothing here renders or prints.

The latency SLO "p95 <= 500 ms" is read as the request-based SLI "95 % of requests faster than
500 ms": a request slower than the SLO spends error budget (5 % of requests). Burn rate = fraction of
slow requests in a window / budget; an alert rule fires when both its long and its short window
burn faster than its factor (multi-window, multi-burn-rate alerting of the Google SRE workbook,
chapter "Alerting on SLOs").

Quantiles are exact (linear interpolation, as ``numpy.quantile``) and computed by DuckDB when it
is importable (``engine="duckdb"``, fast on tens of millions of rows) or by pandas otherwise; both
give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from opskit.checks import Status, Verdict
from opskit.errors import InputError, MissingDependencyError

QUANTILES = (0.5, 0.95, 0.99)
INSTANCE_COLUMNS = ("instance", "pod", "replica", "host")
INPUT_SIZE_COLUMNS = ("input_tokens", "prompt_tokens", "input_bytes", "request_bytes", "payload_bytes")


@dataclass(frozen=True)
class BurnRule:
    """Alert when both windows burn error budget faster than ``factor`` times the sustainable rate."""

    name: str
    severity: str  # "page" or "ticket"
    long_window: str
    short_window: str
    factor: float


# Google SRE workbook, "Alerting on SLOs", table 5-8 (for a 30-day SLO window).
SRE_BURN_RULES = (
    BurnRule("page 1h/5m", "page", "1h", "5min", 14.4),
    BurnRule("page 6h/30m", "page", "6h", "30min", 6.0),
    BurnRule("ticket 1d/2h", "ticket", "1D", "2h", 3.0),
    BurnRule("ticket 3d/6h", "ticket", "3D", "6h", 1.0),
)


@dataclass(frozen=True)
class LatencyThresholds:
    """Every threshold the analysis uses; the result records the ones it ran with."""

    slo_ms: float = 500.0
    slo_quantile: float = 0.95
    bucket: str = "5min"
    burn_rules: tuple[BurnRule, ...] = SRE_BURN_RULES
    load_spike_ratio: float = 1.5  # requests per second against the usual rate at that time of day
    slow_version_ratio: float = 1.2  # p95 against the fastest version of the same endpoint
    min_change_ratio: float = 1.15  # smallest latency regime change reported
    gpu_busy_pct: float = 85.0
    queue_share: float = 0.5  # queue time over latency, in slow requests
    cold_requests: int = 10  # first requests of each instance and version counted as cold
    cold_ratio: float = 2.0
    pathological_factor: float = 10.0  # a request slower than 10x the median
    min_bucket_requests: int = 20
    min_cause_share: float = 0.0005  # causes explaining less of the slow requests are not listed
    max_subjects: int = 20  # endpoints and versions judged one by one (the busiest); the rest in one row

    @property
    def budget(self) -> float:
        return 1.0 - self.slo_quantile


@dataclass(frozen=True)
class LatencyResult:
    """Everything :func:`analyze_latency` found; DataFrames are tidy and carry units in column names."""

    thresholds: LatencyThresholds
    engine: str
    requests: int
    start: pd.Timestamp
    end: pd.Timestamp
    overall: dict[str, float]  # requests, p50_ms, p95_ms, p99_ms, slow_fraction, error_fraction
    budget: dict[str, float]  # target, slow_fraction, burn_rate, budget_consumed_pct
    by_bucket: pd.DataFrame
    by_endpoint: pd.DataFrame
    by_version: pd.DataFrame
    by_bucket_version: pd.DataFrame
    burn: pd.DataFrame  # one row per rule
    burn_series: pd.DataFrame  # per minute: long/short burn rate per rule
    breaches: pd.DataFrame
    spikes: pd.DataFrame
    changes: pd.DataFrame
    breakdown: pd.DataFrame
    correlations: pd.DataFrame
    cold_starts: dict[str, Any]
    pathological: dict[str, Any]
    attribution: dict[str, Any] = field(default_factory=dict)  # slow requests by what explains them
    causes: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def slo_label(self) -> str:
        return f"p{self.thresholds.slo_quantile * 100:g} <= {self.thresholds.slo_ms:g} ms"


def epoch_ns(series: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a datetime column of any resolution; naive is UTC."""
    return pd.DatetimeIndex(series).as_unit("ns").asi8


# -- quantiles --------------------------------------------------------------------------------


def have_duckdb() -> bool:
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def latency_quantiles(
    frame: pd.DataFrame,
    by: list[str],
    quantiles=QUANTILES,
    *,
    engine: str = "auto",
    value: str = "latency_ms",
    where: np.ndarray | None = None,
    slo_ms: float | None = None,
    medians: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Count, mean and exact quantiles of ``value`` per group of ``by`` (sorted by the keys).

    Columns: the keys, ``requests``, ``mean_ms`` and ``p50_ms``... for each quantile; with
    ``slo_ms`` also ``slow`` (requests over it) and, when ``frame`` has ``status``, ``errors``
    (status >= 500); ``medians`` adds ``median_<column>`` for other columns. ``where`` keeps only
    the rows where it is True.
    ``engine``: ``auto`` (DuckDB when importable), ``duckdb`` or ``pandas``.
    """
    engine = resolve_engine(engine)
    names = [quantile_column(q) for q in quantiles]
    with_errors = slo_ms is not None and "status" in frame
    if engine == "duckdb" and by:
        import duckdb

        keys = ", ".join(f'"{k}"' for k in by)
        columns = [*by, value, *medians] + (["status"] if with_errors else [])
        data = frame[columns]
        if where is not None:
            data = data.assign(_keep=where)
        con = duckdb.connect()
        con.execute("SET threads TO 2")
        con.register("t", data)
        qlist = ", ".join(str(q) for q in quantiles)
        extra = ""
        if slo_ms is not None:
            extra += f", count_if({value} > {float(slo_ms)!r}) AS slow"
        if with_errors:
            extra += ", count_if(status >= 500) AS errors"
        for name in medians:
            extra += f", median({name}) AS median_{name}"
        sql = (
            f"SELECT {keys + ', ' if by else ''}count(*) AS requests, avg({value}) AS mean_ms{extra}, "
            f"quantile_cont({value}, [{qlist}]) AS q FROM t {'WHERE _keep' if where is not None else ''} "
            f"{f'GROUP BY {keys} ORDER BY {keys}' if by else ''}"
        )
        out = con.execute(sql).df()
        con.close()
        values = np.array(out.pop("q").tolist(), dtype="float64").reshape(len(out), len(quantiles))
        for i, name in enumerate(names):
            out[name] = values[:, i]
        for key in by:  # DuckDB returns ENUMs as object text: restore the input's dtype
            out[key] = out[key].astype(frame[key].dtype)
        for name in ("requests", "slow", "errors"):
            if name in out:
                out[name] = out[name].astype("int64")
        return out.reset_index(drop=True)
    data = frame if where is None else frame[where]
    derived = {}
    if slo_ms is not None:
        derived["slow"] = data[value].to_numpy() > slo_ms
    if with_errors:
        derived["errors"] = data["status"].to_numpy() >= 500
    if not by:
        values = data[value].to_numpy()
        row = {"requests": len(values), "mean_ms": float(values.mean())}
        row.update({k: int(v.sum()) for k, v in derived.items()})
        row.update({f"median_{m}": float(data[m].median()) for m in medians})
        row.update({n: float(v) for n, v in zip(names, np.quantile(values, quantiles), strict=True)})
        return pd.DataFrame([row])
    grouped = data.groupby(by, observed=True, sort=True)[value]
    out = grouped.agg(requests="count", mean_ms="mean")
    if derived:
        flags = pd.DataFrame({**{k: data[k].array for k in by}, **derived})
        out = out.join(flags.groupby(by, observed=True, sort=True)[list(derived)].sum().astype("int64"))
    for name in medians:
        out[f"median_{name}"] = data.groupby(by, observed=True, sort=True)[name].median()
    qs = grouped.quantile(list(quantiles)).unstack()
    qs.columns = names
    out = out.join(qs).reset_index()
    out["requests"] = out["requests"].astype("int64")
    return out


def quantile_column(q: float) -> str:
    return f"p{q * 100:g}_ms"


def resolve_engine(engine: str) -> str:
    if engine == "auto":
        return "duckdb" if have_duckdb() else "pandas"
    if engine == "duckdb" and not have_duckdb():
        raise MissingDependencyError("duckdb", extra="fast", feature="fast latency quantiles")
    if engine not in ("duckdb", "pandas"):
        raise InputError(f"unknown engine {engine!r}", hint="use auto, duckdb or pandas")
    return engine


# -- the analysis -----------------------------------------------------------------------------


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
    spikes, expected_rps = _load_spikes(by_bucket, step, th)
    by_bucket["expected_rps"] = expected_rps
    by_bucket = _join_gpu(by_bucket, gpu, origin, step)

    by_endpoint = _group_table(work, ["endpoint"], engine, th)
    by_bucket_version = latency_quantiles(work, ["bucket", "model_version"], (0.5, 0.95), engine=engine)
    by_bucket_version.insert(0, "start", _bucket_start(by_bucket_version["bucket"], origin, step))
    by_bucket_version["model_version"] = by_bucket_version["model_version"].astype(str).astype(object)
    in_spike = _in_spike_mask(by_bucket, spikes, bucket_code)
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


def _in_spike_mask(by_bucket, spikes, bucket_code) -> np.ndarray:
    spike_bucket = np.zeros(len(by_bucket), dtype=bool)
    for row in spikes.itertuples():
        spike_bucket[(by_bucket["start"] >= row.start).to_numpy() & (by_bucket["start"] < row.end).to_numpy()] = True
    return spike_bucket[bucket_code]


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


# -- error budget -----------------------------------------------------------------------------


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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the True runs of ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype("int8")
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def breach_periods(by_bucket: pd.DataFrame, slo_ms: float, step: pd.Timedelta, min_requests: int) -> pd.DataFrame:
    """When the per-bucket SLO quantile was over the SLO, and for how long (consecutive buckets)."""
    enough = by_bucket["requests"].to_numpy() >= min_requests
    over = (by_bucket["slo_q_ms"].to_numpy() > slo_ms) & enough
    rows = []
    for a, b in _runs(over):
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


# -- load -------------------------------------------------------------------------------------


def _load_spikes(by_bucket: pd.DataFrame, step: pd.Timedelta, th: LatencyThresholds):
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
    for a, b in _runs(ratio >= th.load_spike_ratio):
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


def _join_gpu(by_bucket: pd.DataFrame, gpu: pd.DataFrame | None, origin: int, step: pd.Timedelta) -> pd.DataFrame:
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


# -- regime changes ---------------------------------------------------------------------------


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


# -- breakdown, cold starts, pathological inputs ----------------------------------------------


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


# -- likely causes ----------------------------------------------------------------------------

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


# -- verdicts ---------------------------------------------------------------------------------


def _utc(ts) -> str:
    return "n/a" if ts is None or pd.isna(ts) else f"{pd.Timestamp(ts):%Y-%m-%d %H:%M} UTC"


def latency_verdicts(result: LatencyResult) -> list[Verdict]:
    """Judge a :class:`LatencyResult`: SLO per endpoint, error budget and burn-rate alerts, breaches,
    versions, load spikes, regime changes, latency breakdown, GPU saturation and the likely causes."""
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
