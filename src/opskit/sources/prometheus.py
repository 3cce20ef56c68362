"""Read GPU samples from Prometheus with the aggregation pushed into the server.

A fleet of thousands of GPUs scraped every 15 s is tens of millions of samples a week; opskit
never pulls them raw. It asks Prometheus for one aggregate per GPU per step, e.g. the hourly mean::

    avg_over_time(DCGM_FI_DEV_GPU_UTIL{cluster="a"}[1h])      # evaluated at step 1h

through ``/api/v1/query_range`` (plain ``urllib``, no client library), splitting the range so no
request asks for more than 11,000 points per series (Prometheus answers HTTP 400 beyond that).

Windows: each row covers ``[timestamp, timestamp + step)``. The query is evaluated 1 ms before the
end of each window, so a sample on a window boundary counts once, in the window it starts.
Rows carry ``samples`` (how many raw samples the window held, from ``count_over_time``),
``window_s`` (the step) and ``interval_s`` (the seconds the row stands for: samples times the scrape
interval), so GPU-hours stay right where a window is only partly covered.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from opskit.errors import OpskitError
from opskit.sources.dcgm import KEY, METRICS, key_from_labels, wide_from_long
from opskit.sources.gpu_frame import validate_gpu_frame
from opskit.sources.prometheus_answers import (
    PrometheusError,
    QueryWarning,
    data_of_answer,
    error_hint,
    series_of_answer,
    warnings_of_answer,
)

MAX_POINTS_PER_SERIES = 11_000
"""Prometheus refuses a query_range whose (end - start) / step exceeds 11,000."""

DEFAULT_METRICS: tuple[str, ...] = (
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_FB_RESERVED",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_SM_ACTIVE",
)
REQUIRED_METRIC = "DCGM_FI_DEV_GPU_UTIL"
AGGREGATIONS = {"avg": "avg_over_time", "max": "max_over_time", "min": "min_over_time", "last": "last_over_time"}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNITS_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class RangeResult:
    """Series of one query_range (possibly several requests): labels and (timestamps s, values)."""

    query: str
    series: list[tuple[dict[str, str], np.ndarray, np.ndarray]] = field(default_factory=list)
    points: int = 0
    requests: int = 0
    warnings: tuple[str, ...] = ()
    """The server's ``warnings`` (partial data, a limit hit): the result may be incomplete."""
    infos: tuple[str, ...] = ()
    """The server's ``infos`` (Prometheus 3: a possible query mistake, such as rate() over a gauge)."""

    @property
    def notes(self) -> tuple[QueryWarning, ...]:
        """Warnings then infos, each naming this query."""
        found = [QueryWarning(self.query, w, "warning") for w in self.warnings]
        return tuple(found + [QueryWarning(self.query, i, "info") for i in self.infos])


def parse_duration(step: str | int | float) -> float:
    """``"1h"``, ``"5m"``, ``"1h30m"``, ``"15s"`` or a number of seconds -> seconds."""
    if isinstance(step, int | float):
        return float(step)
    text = step.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise OpskitError(f"not a duration: {step!r}", hint="use e.g. 1h, 5m, 15s or a number of seconds")
    return sum(int(n) * _UNITS_S[u] for n, u in parts)


def promql_duration(seconds: float) -> str:
    """Seconds -> a PromQL duration (``3600`` -> ``"1h"``, ``0.5`` -> ``"500ms"``)."""
    ms = round(seconds * 1000)
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def build_query(metric: str, step_s: float, *, aggregation: str = "avg", selector: str = "") -> str:
    """The PromQL for one aggregate per series per step, e.g. ``avg_over_time(M{sel}[1h])``.

    ``aggregation`` is ``avg``, ``max``, ``min``, ``last``, ``count`` (samples per window) or
    ``raw`` (the plain metric, as sampled at each step). ``selector`` is label matchers without
    braces, e.g. ``cluster="a",Hostname=~"train-.*"``.
    """
    sel = f"{metric}{{{selector}}}" if selector else metric
    if aggregation == "raw":
        return sel
    if aggregation == "count":
        return f"count_over_time({sel}[{promql_duration(step_s)}])"
    if aggregation not in AGGREGATIONS:
        known = ", ".join([*AGGREGATIONS, "count", "raw"])
        raise OpskitError(f"unknown aggregation {aggregation!r}", hint=f"known: {known}")
    return f"{AGGREGATIONS[aggregation]}({sel}[{promql_duration(step_s)}])"


def _utc(value: str | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def split_range(start_s: float, end_s: float, step_s: float, max_points: int = MAX_POINTS_PER_SERIES):
    """Evaluation times ``start, start+step, ... <= end`` in chunks of at most ``max_points``: (first, last)."""
    n = math.floor((end_s - start_s) / step_s + 1e-9) + 1
    chunks = []
    for i in range(0, max(n, 0), max_points):
        last = min(i + max_points, n) - 1
        chunks.append((start_s + i * step_s, start_s + last * step_s))
    return chunks


def _request(url: str, params: Mapping[str, str], *, timeout: float, headers: Mapping[str, str] | None) -> dict:
    endpoint = url.rstrip("/") + "/api/v1/query_range"
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(
        endpoint, data=data, headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    )
    query = params.get("query")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        try:
            server_error = json.loads(text).get("error") or text
        except (ValueError, AttributeError):
            server_error = text.strip()[:500]
        bad = exc.code in (400, 422)
        raise PrometheusError(
            f"Prometheus at {url} refused the query (HTTP {exc.code}): {server_error}",
            kind="bad_query" if bad else "server",
            url=url,
            query=query,
            status_code=exc.code,
            server_error=server_error,
            hint=(
                error_hint("bad_data", str(server_error))
                if "resolution" in str(server_error)
                else "check the PromQL and the selector; a step too small for the range is split automatically"
            )
            if bad
            else "check the URL points at Prometheus (it should answer /api/v1/query_range)",
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PrometheusError(
            f"cannot reach Prometheus at {url}: {reason}",
            kind="unreachable",
            url=url,
            query=query,
            hint=f"check the address and that the server runs (curl {url.rstrip('/')}/-/ready)",
        ) from None
    try:
        payload = json.loads(body)
    except ValueError:
        raise PrometheusError(
            f"{url} did not answer with Prometheus JSON",
            kind="server",
            url=url,
            query=query,
            hint="check the URL points at Prometheus, not at a login page or proxy",
        ) from None
    return data_of_answer(payload, url=url, query=query)


def query_range(
    url: str,
    query: str,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    step: str | float,
    *,
    timeout: float = 60.0,
    max_points: int = MAX_POINTS_PER_SERIES,
    headers: Mapping[str, str] | None = None,
) -> RangeResult:
    """Run a range query, split into requests of at most ``max_points`` steps; count the points received.

    Equivalent to ``curl URL/api/v1/query_range -d query=... -d start=... -d end=... -d step=...``.
    """
    step_s = parse_duration(step)
    start_s = _utc(start).value / 1e9
    end_s = _utc(end).value / 1e9
    merged: dict[tuple, tuple[dict[str, str], list, list]] = {}
    requests = points = 0
    notes: list[QueryWarning] = []
    for first, last in split_range(start_s, end_s, step_s, max_points):
        params = {"query": query, "start": f"{first:.3f}", "end": f"{last:.3f}", "step": f"{step_s:g}"}
        data = _request(url, params, timeout=timeout, headers=headers)
        requests += 1
        notes += [n for n in warnings_of_answer(data, query) if n not in notes]
        for labels, values in series_of_answer(data, url=url, query=query):
            points += len(values)
            key = tuple(sorted(labels.items()))
            entry = merged.setdefault(key, (labels, [], []))
            entry[1].extend(float(t) for t, _ in values)
            entry[2].extend(float(v) for _, v in values)
    series = [(labels, np.asarray(ts), np.asarray(vs)) for labels, ts, vs in merged.values()]
    warnings = tuple(n.text for n in notes if n.level == "warning")
    infos = tuple(n.text for n in notes if n.level == "info")
    return RangeResult(query, series, points, requests, warnings=warnings, infos=infos)


@dataclass(frozen=True)
class PrometheusRead:
    """What :func:`read_prometheus_gpus` asked and received (also in ``frame.attrs``)."""

    queries: tuple[str, ...]
    requests: int
    points: int
    series: int
    warnings: tuple[str, ...] = ()
    notes: tuple[QueryWarning, ...] = ()
    """Every warning and info with the query it came with: a report says its data may be incomplete."""


def read_prometheus_gpus(
    url: str,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    step: str | float = "1h",
    aggregation: str = "avg",
    selector: str = "",
    metrics: Sequence[str] = DEFAULT_METRICS,
    timeout: float = 60.0,
    max_points: int = MAX_POINTS_PER_SERIES,
    headers: Mapping[str, str] | None = None,
    scrape_interval: str | float | None = None,
    concurrency: int = 4,
) -> pd.DataFrame:
    """dcgm-exporter metrics from Prometheus as a GPU-samples frame of per-step aggregates.

    One row per GPU per window ``[start + k*step, start + (k+1)*step)`` within ``[start, end)``,
    with the mean (``aggregation="avg"``) of each metric, ``samples`` (raw samples in the window),
    ``window_s`` (the step) and ``interval_s``: the seconds the row stands for, i.e. how long the GPU
    was seen in the window (samples times the scrape interval, given or inferred as step / the
    fullest window's samples), so GPU-hours stay right where a window is only partly covered. When a
    GPU's labels change inside a window (a new pod), its series are merged into one row: metrics
    weighted by samples, attribution from the series with most samples.
    ``frame.attrs["prometheus"]`` is a :class:`PrometheusRead` with the
    queries sent and the number of points transferred. Raises :class:`PrometheusError` when the
    server cannot be reached, refuses a query, or has no ``DCGM_FI_DEV_GPU_UTIL`` series. The
    queries (one per metric) run ``concurrency`` at a time: the server does the work.
    """
    step_s = parse_duration(step)
    start_ts, end_ts = _utc(start), _utc(end)
    if end_ts <= start_ts:
        raise OpskitError(f"the range is empty: start {start_ts} is not before end {end_ts}")
    n_windows = int((end_ts - start_ts).total_seconds() // step_s)
    if n_windows < 1:
        raise OpskitError(f"the range {start_ts} to {end_ts} is shorter than one step ({step})")
    # evaluate 1 ms before each window's end: [t - step, t] then holds [window start, window end)
    first_eval = start_ts + pd.Timedelta(seconds=step_s) - pd.Timedelta(milliseconds=1)
    last_eval = start_ts + pd.Timedelta(seconds=step_s * n_windows) - pd.Timedelta(milliseconds=1)
    shift_ms = step_s * 1000 - 1
    wanted = [(REQUIRED_METRIC, aggregation)]
    wanted += [(m, aggregation) for m in metrics if m in METRICS and m != REQUIRED_METRIC]
    wanted += [(REQUIRED_METRIC, "count")]
    queries = [build_query(metric, step_s, aggregation=agg, selector=selector) for metric, agg in wanted]

    def run(query: str) -> RangeResult:
        return query_range(
            url, query, first_eval, last_eval, step_s, timeout=timeout, max_points=max_points, headers=headers
        )

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = list(pool.map(run, queries))
    if not results[0].series:
        raise PrometheusError(
            f"no {REQUIRED_METRIC} series between {start_ts} and {end_ts}",
            kind="empty",
            url=url,
            query=queries[0],
            hint="check the time range, the selector and that Prometheus scrapes dcgm-exporter",
        )
    keys: list[tuple] = []
    names: list[str] = []
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for (metric, agg), result in zip(wanted, results, strict=True):
        for labels, ts, vs in result.series:
            keys.append(key_from_labels(labels))
            names.append("samples" if agg == "count" else metric)
            stamps.append(ts)
            values.append(vs)
    index = np.repeat(np.arange(len(keys)), [len(ts) for ts in stamps])
    long = pd.DataFrame(keys, columns=list(KEY)).iloc[index].reset_index(drop=True)
    long.insert(0, "timestamp_ms", np.round(np.concatenate(stamps) * 1000) - shift_ms)
    long["metric"] = np.asarray(names, dtype=object)[index]
    long["value"] = np.concatenate(values)
    requests = sum(r.requests for r in results)
    points = sum(r.points for r in results)
    n_series = len(results[0].series)
    frame = wide_from_long(long)
    frame = _one_row_per_window(frame)
    scrape_s = parse_duration(scrape_interval) if scrape_interval is not None else None
    if scrape_s is None:
        most = frame["samples"].max()
        scrape_s = step_s / most if most and most > 0 else step_s
    frame["window_s"] = float(step_s)
    frame["interval_s"] = np.minimum(frame["samples"].fillna(0.0) * scrape_s, step_s)
    out = validate_gpu_frame(frame, url)
    warned = tuple(dict.fromkeys(w for r in results for w in r.warnings))
    notes = tuple(dict.fromkeys(n for r in results for n in r.notes))
    out.attrs["prometheus"] = PrometheusRead(tuple(queries), requests, points, n_series, warned, notes)
    return out


def _one_row_per_window(frame: pd.DataFrame) -> pd.DataFrame:
    """Merge rows of the same GPU and window (its labels changed mid-window) into one."""
    key = ["timestamp", "host", "gpu"]
    dup = frame.duplicated(key, keep=False)
    if not dup.any():
        return frame
    many = frame[dup].copy()
    weight = many["samples"].fillna(0.0)
    metrics = [c for c in many.columns if c not in key and c != "samples" and pd.api.types.is_float_dtype(many[c])]
    sums = many[metrics].mul(weight, axis=0).assign(_w=weight, samples=weight)
    sums[key] = many[key]
    totals = sums.groupby(key, sort=False).sum(min_count=1)
    means = totals[metrics].div(totals["_w"].where(totals["_w"] > 0), axis=0).reset_index()
    means["samples"] = totals["samples"].to_numpy()
    others = [c for c in many.columns if c not in metrics and c != "samples"]
    first = many.sort_values("samples", ascending=False, kind="stable").drop_duplicates(key)[others]
    merged = first.merge(means, on=key, how="left")[list(frame.columns)]
    return pd.concat([frame[~dup], merged], ignore_index=True)


def count_raw_samples(
    url: str,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    metric: str = REQUIRED_METRIC,
    selector: str = "",
    timeout: float = 60.0,
) -> int:
    """How many raw samples of ``metric`` the server holds in ``[start, end)``: what a raw pull would transfer.

    One small query (``sum(count_over_time(M[range]))``), so the comparison costs nothing.
    """
    start_ts, end_ts = _utc(start), _utc(end)
    span = (end_ts - start_ts).total_seconds()
    sel = f"{metric}{{{selector}}}" if selector else metric
    query = f"sum(count_over_time({sel}[{promql_duration(span)}]))"
    at = end_ts - pd.Timedelta(milliseconds=1)
    result = query_range(url, query, at, at, span, timeout=timeout)
    return int(sum(vs.sum() for _, _, vs in result.series))
