"""A seeded week of inference requests with a slow model version rollout and a separate load spike.

Two endpoints behind one serving cluster, 2026-11-23 00:00 to 2026-11-30 00:00 UTC, about
300,000 requests with a diurnal load (peak around 15:00 UTC):

| endpoint | versions | typical p95 |
|---|---|---|
| ``/v1/rank`` (70 %) | ``ranker-2.3.1``, then **``ranker-2.4.0``** from ``ROLLOUT_AT`` | ~290 ms, then ~600 ms |
| ``/v1/embed`` | ``embedder-1.8.0`` | ~110 ms |

Planted faults (UTC), exported as constants for tests and documentation:

- ``ROLLOUT_AT``: ``ranker-2.4.0`` rolls out (a 10 % canary for 20 minutes, all traffic by 14:30);
  its GPU time is 2.3x that of 2.3.1, so p95 crosses the 500 ms SLO and stays there.
- ``SPIKE_START``..``SPIKE_END``: traffic triples on both endpoints for 90 minutes; the GPUs saturate
  and requests wait in the queue (``queue_ms`` of the order of a second).
- new pods take about 2.5 s for their first requests (cold starts), and a few requests carry huge
  inputs (``input_tokens`` 20x the usual) that take several seconds.

Columns: the requests frame (``timestamp``, ``endpoint``, ``model_version``, ``latency_ms``,
``status``, ``batch_size``, ``queue_ms``, ``gpu_ms``) plus ``instance`` and ``input_tokens``.
The GPU metrics (``requests_week_gpu``) are in the GPU-samples frame: two serving hosts with two
H100 each, a sample every 30 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario

WEEK_START = pd.Timestamp("2026-11-23 00:00", tz="UTC")
WEEK_END = pd.Timestamp("2026-11-30 00:00", tz="UTC")
ROLLOUT_AT = pd.Timestamp("2026-11-25 14:00", tz="UTC")
ROLLOUT_DONE = pd.Timestamp("2026-11-25 14:30", tz="UTC")
SPIKE_START = pd.Timestamp("2026-11-27 18:00", tz="UTC")
SPIKE_END = pd.Timestamp("2026-11-27 19:30", tz="UTC")
SLOW_VERSION = "ranker-2.4.0"
OLD_VERSION = "ranker-2.3.1"
EMBED_VERSION = "embedder-1.8.0"
SPIKE_FACTOR = 3.0
GPU_HOSTS = ("serve-h100-01", "serve-h100-02")
H100 = "NVIDIA H100 80GB HBM3"


def load_factor(minutes: np.ndarray) -> np.ndarray:
    """Traffic multiplier per minute since ``WEEK_START``: diurnal (0.5..1.5), x3 during the spike."""
    hours = (minutes / 60.0) % 24
    factor = 1.0 + 0.5 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)
    spike_from = (SPIKE_START - WEEK_START) // pd.Timedelta("1min")
    spike_to = (SPIKE_END - WEEK_START) // pd.Timedelta("1min")
    return np.where((minutes >= spike_from) & (minutes < spike_to), factor * SPIKE_FACTOR, factor)


def generate_requests(seed: int = 2026, scale: float = 1.0) -> pd.DataFrame:
    """The week of requests, sorted by timestamp (``scale`` multiplies the traffic)."""
    rng = np.random.default_rng(seed)
    n_minutes = int((WEEK_END - WEEK_START) / pd.Timedelta("1min"))
    minutes = np.arange(n_minutes)
    load = load_factor(minutes)
    parts = []
    for endpoint, rps in (("/v1/rank", 0.35 * scale), ("/v1/embed", 0.15 * scale)):
        counts = rng.poisson(rps * 60.0 * load)
        minute = np.repeat(minutes, counts)
        offset_s = minute * 60.0 + rng.uniform(0, 60, size=len(minute))
        parts.append(pd.DataFrame({"offset_s": offset_s, "endpoint": endpoint, "load": load[minute]}))
    frame = pd.concat(parts, ignore_index=True).sort_values("offset_s", kind="stable", ignore_index=True)
    n = len(frame)
    ts = WEEK_START + pd.to_timedelta(np.round(frame["offset_s"].to_numpy() * 1000), unit="ms")
    rank = (frame["endpoint"] == "/v1/rank").to_numpy()
    rollout_s = (ROLLOUT_AT - WEEK_START).total_seconds()
    done_s = (ROLLOUT_DONE - WEEK_START).total_seconds()
    offset = frame["offset_s"].to_numpy()
    new_share = np.where(offset < rollout_s, 0.0, np.where(offset < rollout_s + 1200, 0.1, 1.0))
    new_share = np.where((offset >= rollout_s + 1200) & (offset < done_s), 0.5, new_share)
    is_new = rank & (rng.uniform(size=n) < new_share)
    version = pd.Categorical.from_codes(
        np.where(rank, np.where(is_new, 2, 1), 0), categories=[EMBED_VERSION, OLD_VERSION, SLOW_VERSION]
    )
    pod = rng.integers(0, 4, size=n)
    names = [f"ranker-64b9d2-{i}" for i in range(4)] + [f"ranker-5d8f7c-{i}" for i in range(4)]
    names += ["embedder-7c4e1a-0", "embedder-7c4e1a-1"]
    codes = np.where(rank, np.where(is_new, 4 + pod, pod), 8 + pod % 2)
    instance = pd.Categorical.from_codes(codes, categories=names)
    load_now = frame["load"].to_numpy()
    batch = np.clip(1 + rng.poisson(2.0 * load_now), 1, 16)
    tokens = np.round(rng.lognormal(np.log(np.where(rank, 180, 60)), 0.5)).astype("int64")
    base_gpu = np.where(rank, np.where(is_new, 300.0, 130.0), 20.0)
    gpu = base_gpu * (1 + 0.06 * batch) * rng.lognormal(0, 0.25, size=n)
    queue = rng.lognormal(np.log(8.0), 0.8, size=n) * load_now**2
    saturated = load_now > 2.0
    queue = queue + np.where(saturated, rng.exponential(900.0, size=n), 0.0)
    other = rng.lognormal(np.log(25.0), 0.4, size=n)
    # cold starts: the first requests each new pod serves (the window starts with warm pods)
    first = pd.Series(codes).groupby(codes).cumcount().to_numpy() < 10
    cold = first & is_new
    gpu = gpu + np.where(cold, rng.uniform(1800, 3200, size=n), 0.0)
    # a few huge inputs
    huge = rng.uniform(size=n) < 0.0003
    tokens = np.where(huge, tokens * 20, tokens)
    gpu = gpu + np.where(huge, rng.uniform(4000, 12000, size=n), 0.0)
    status = np.where(rng.uniform(size=n) < 0.001, 500, 200)
    status = np.where(saturated & (rng.uniform(size=n) < 0.01), 503, status)
    return pd.DataFrame(
        {
            "timestamp": ts,
            "endpoint": pd.Categorical(frame["endpoint"]),
            "model_version": version,
            "latency_ms": np.round(queue + gpu + other, 2),
            "status": status.astype("int16"),
            "batch_size": batch.astype("int16"),
            "queue_ms": np.round(queue, 2),
            "gpu_ms": np.round(gpu, 2),
            "instance": instance,
            "input_tokens": tokens,
        }
    )


def steady_requests(
    hours: float = 72,
    rps: float = 2.0,
    *,
    start: pd.Timestamp = WEEK_START,
    seed: int = 1,
    rollout_at: float | None = None,
    spike: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """A small requests frame at a steady rate, for tests: one endpoint ``/v1/rank``, version ``v1``.

    Latency is queue (10 ms) + GPU time (160 ms, lognormal) + 30 ms, about 200 ms. ``rollout_at``
    (hours from ``start``): version ``v2`` takes all traffic from then on, its GPU time 400 ms.
    ``spike`` (from, to in hours): traffic x4 with queueing (exponential, mean 1.5 s).
    """
    rng = np.random.default_rng(seed)
    seconds = np.arange(0, hours * 3600, 1.0 / rps)
    if spike:
        extra = np.arange(spike[0] * 3600, spike[1] * 3600, 1.0 / (3 * rps))
        seconds = np.sort(np.concatenate([seconds, extra]))
    n = len(seconds)
    in_spike = (seconds >= spike[0] * 3600) & (seconds < spike[1] * 3600) if spike else np.zeros(n, bool)
    new = seconds >= rollout_at * 3600 if rollout_at is not None else np.zeros(n, bool)
    gpu = np.where(new, 400.0, 160.0) * rng.lognormal(0, 0.1, n)
    queue = 10.0 + np.where(in_spike, rng.exponential(1500.0, n), 0.0)
    other = np.full(n, 30.0)
    return pd.DataFrame(
        {
            "timestamp": start + pd.to_timedelta(seconds, unit="s"),
            "endpoint": pd.Categorical(["/v1/rank"] * n),
            "model_version": pd.Categorical(np.where(new, "v2", "v1")),
            "latency_ms": queue + gpu + other,
            "status": np.full(n, 200, dtype="int16"),
            "queue_ms": queue,
            "gpu_ms": gpu,
        }
    )


def generate_gpu_metrics(seed: int = 2027) -> pd.DataFrame:
    """GPU samples of the serving hosts every 30 s (GPU-samples frame of the design)."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(WEEK_START, WEEK_END, freq="30s", inclusive="left")
    minutes = ((stamps - WEEK_START) // pd.Timedelta("1min")).to_numpy()
    load = load_factor(minutes)
    heavy = np.where(stamps >= ROLLOUT_DONE, 1.6, np.where(stamps >= ROLLOUT_AT, 1.2, 1.0))
    frames = []
    for h, host in enumerate(GPU_HOSTS):
        for gpu in range(2):
            util = np.clip(12 + 30 * load * heavy + rng.normal(0, 4, size=len(stamps)), 0, 100)
            mem = np.where(stamps >= ROLLOUT_AT, 44_200.0, 31_400.0) + rng.normal(0, 300, size=len(stamps))
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": stamps,
                        "host": host,
                        "gpu": gpu,
                        "uuid": f"GPU-5e1d{h}{gpu}a0-7b1c-4c52-9a1e-3f0c2d4b{h}{gpu}e1",
                        "model": H100,
                        "util_pct": np.round(util, 1),
                        "mem_used_mib": np.round(mem),
                        "mem_total_mib": 81559.0,
                        "power_w": np.round(70 + 6.0 * util, 1),
                        "namespace": "serving",
                    }
                )
            )
    return pd.concat(frames, ignore_index=True).sort_values(["timestamp", "host", "gpu"], ignore_index=True)


@scenario("requests_week", "a week of inference requests: slow model version rolled out mid-week, a load spike")
def write_requests_week(folder: Path) -> Path:
    path = Path(folder) / "requests.parquet"
    generate_requests().to_parquet(path, index=False)
    return path


@scenario("requests_week_gpu", "GPU samples of the serving hosts for the requests_week scenario")
def write_requests_week_gpu(folder: Path) -> Path:
    path = Path(folder) / "gpu_metrics.parquet"
    generate_gpu_metrics().to_parquet(path, index=False)
    return path
