"""A seeded GPU fleet: two ISO weeks of samples with the faults the weekly cost report must find.

:func:`generate_fleet` returns the GPU-samples frame of the design (one row per GPU per sample):
``timestamp`` (UTC), ``host``, ``gpu``, ``uuid``, ``model``, ``util_pct``, ``mem_used_mib``,
``mem_total_mib``, ``power_w``, ``sm_active_pct``, ``gr_engine_active_pct`` and the attribution
columns ``namespace``, ``pod``, ``job`` (set while a workload runs, missing otherwise) plus the
ground-truth ``team`` and ``project``.

The fleet (44 GPUs, five teams, three GPU models):

| host | GPUs | team | workload |
|---|---|---|---|
| ``train-h100-01`` | 8 x H100 80GB | llm | pre-training, long runs with short restarts |
| ``train-h100-02`` | 8 x H100 80GB | llm | same; **stalled job** in 2026-W48 (util ~100 %, power and SM activity low) |
| ``train-a100-01`` | 8 x A100 80GB | vision | checkpointed training: a steady queue on 4 GPUs, bursty sweeps on 4 |
| ``infer-l4-01/02`` | 2 x 4 x L4 | search | online serving, diurnal; **data gap** on ``infer-l4-02`` in W48 |
| ``infer-a100-01`` | 4 x A100 80GB | recsys | serving a small model on big GPUs: the **underused team** |
| ``resv-h100-03`` | 8 x H100 80GB | nlp | fine-tuning in W47, then an **idle reservation** for all of W48 |

Attribution in the mapping file (:func:`write_attribution`, CSV ``host,gpu,namespace,team,project``;
an empty cell matches anything, ``*`` is a wildcard, the first matching rule wins): namespaces map to
teams, then each node to its owner, for the hours between pods (``resv-h100-03``'s idle GPUs have none).
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario
from opskit.sources.gpu_frame import OPTIONAL_METRICS, REQUIRED_COLUMNS

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"
L4 = "NVIDIA L4"

#: model -> (memory total MiB, idle power W, max power W)
MODEL_SPECS: dict[str, tuple[float, float, float]] = {
    H100: (81559.0, 70.0, 700.0),
    A100: (81920.0, 60.0, 400.0),
    L4: (23034.0, 16.0, 72.0),
}

#: the planted faults, for tests and documentation (UTC)
STALL = ("train-h100-02", pd.Timestamp("2026-11-26 01:00", tz="UTC"), pd.Timestamp("2026-11-26 08:30", tz="UTC"))
GAP = ("infer-l4-02", pd.Timestamp("2026-11-25 09:00", tz="UTC"), pd.Timestamp("2026-11-25 15:00", tz="UTC"))
IDLE_HOST = "resv-h100-03"
IDLE_FROM = pd.Timestamp("2026-11-22 18:00", tz="UTC")
UNDERUSED_TEAM = "recsys"
STALLED_JOB = "pretrain-13b-lr3e4"

ATTRIBUTION = [
    # host, gpu, namespace, team, project: namespaces first, then the owner of each node (hours between pods)
    ("", "", "llm-train", "llm", "pretrain-13b"),
    ("", "", "vision", "vision", "detector-v5"),
    ("", "", "search-serving", "search", "query-embed"),
    ("", "", "recsys-serving", "recsys", "ranker"),
    ("", "", "nlp-research", "nlp", "finetune"),
    ("train-h100-*", "", "", "llm", "pretrain-13b"),
    ("train-a100-01", "", "", "vision", "detector-v5"),
    ("infer-l4-*", "", "", "search", "query-embed"),
    ("infer-a100-01", "", "", "recsys", "ranker"),
    (IDLE_HOST, "", "", "nlp", "finetune"),
]


@dataclass(frozen=True)
class _Node:
    host: str
    model: str
    gpus: int
    team: str
    project: str
    namespace: str
    pattern: Callable[..., _Load]


@dataclass
class _Load:
    """Per-GPU arrays (gpus x time) of one node's workload."""

    util: np.ndarray
    sm_ratio: np.ndarray  # SM activity as a fraction of utilization
    mem_frac: np.ndarray  # memory used as a fraction of total
    job: np.ndarray  # object array of job names, "" when nothing runs


def _hour_of_day(ts: pd.DatetimeIndex) -> np.ndarray:
    return (ts.hour + ts.minute / 60.0).to_numpy()


def _runs(ts: pd.DatetimeIndex, rng: np.random.Generator, prefix: str, hours: tuple[float, float], gap_min=(10, 40)):
    """Consecutive jobs of random length with restart gaps: (job name per step, running mask)."""
    n = len(ts)
    step_h = (ts[1] - ts[0]).total_seconds() / 3600 if n > 1 else 1 / 12
    jobs = np.full(n, "", dtype=object)
    i, run = 0, 1
    while i < n:
        length = max(1, int(rng.uniform(*hours) / step_h))
        jobs[i : i + length] = f"{prefix}-r{run}"
        i += length + max(1, int(rng.uniform(*gap_min) / 60 / step_h))
        run += 1
    return jobs, jobs != ""


def _training(ts, rng, gpus, prefix, hours, level, gap_min=(10, 40)) -> _Load:
    jobs, running = _runs(ts, rng, prefix, hours, gap_min)
    util = np.where(running, rng.normal(level, 3.0, (gpus, len(ts))), 0.0)
    # short dips at checkpoints and data-loader stalls
    dips = rng.random((gpus, len(ts))) < 0.03
    util = np.where(dips & running, util * 0.4, util)
    sm = np.full((gpus, len(ts)), 0.82)
    mem = np.where(running, rng.normal(0.9, 0.01, (gpus, len(ts))), 0.0)
    return _Load(util, sm, mem, np.broadcast_to(jobs, (gpus, len(ts))).copy())


def _llm(ts, rng, gpus, host) -> _Load:
    load = _training(ts, rng, gpus, f"pretrain-13b-{host[-2:]}", (30, 60), 94.0, gap_min=(15, 45))
    if host == STALL[0]:
        # a hung collective: the job keeps its GPUs and a spinning kernel pins utilization at 100 %
        stall = (ts >= STALL[1]) & (ts < STALL[2])
        killed = (ts >= STALL[2]) & (ts < STALL[2] + pd.Timedelta("30min"))
        first = load.job[0]
        same_run = first == first[int(np.argmax(stall))]
        load.job[:, same_run & (ts < STALL[2])] = STALLED_JOB
        load.job[:, stall] = STALLED_JOB
        # killed at the end of the stall, resumed from its checkpoint 30 minutes later as a new job
        load.job[:, same_run & (ts >= STALL[2])] = STALLED_JOB + "-retry"
        load.job[:, killed] = ""
        n = int(stall.sum())
        load.util[:, stall] = rng.uniform(99.0, 100.0, (gpus, n))
        load.sm_ratio[:, stall] = rng.uniform(0.01, 0.03, (gpus, n))
        load.mem_frac[:, stall] = 0.9
        load.util[:, killed] = 0.0
        load.mem_frac[:, killed] = 0.0
    return load


def _vision(ts, rng, gpus, host) -> _Load:
    # GPUs 0-3: a steady queue of 4-GPU jobs; GPUs 4-7: bursty experiments with hours-long pauses
    steady = _training(ts, rng, gpus // 2, "detector-v5-train", (3, 10), 84.0)
    bursty = _training(ts, rng, gpus - gpus // 2, "detector-v5-sweep", (1.5, 4), 80.0, gap_min=(170, 235))
    return _Load(*(np.concatenate([a, b]) for a, b in zip(vars(steady).values(), vars(bursty).values(), strict=True)))


def _diurnal(ts: pd.DatetimeIndex, low: float, high: float, peak_hour: float = 16.0) -> np.ndarray:
    hod = _hour_of_day(ts)
    shape = 0.5 * (1 + np.cos((hod - peak_hour) / 24 * 2 * np.pi))
    weekend = np.where(ts.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    return (low + (high - low) * shape**1.5) * weekend


def _serving(ts, rng, gpus, job, low, high, growth, sm, mem) -> _Load:
    base = _diurnal(ts, low, high)
    week2 = ts >= ts[0] + pd.Timedelta("7D")
    base = np.where(week2, base * growth, base)
    util = base * rng.normal(1.0, 0.08, (gpus, len(ts)))
    mem_frac = rng.normal(mem, 0.01, (gpus, len(ts)))
    return _Load(util, np.full_like(util, sm), mem_frac, np.full((gpus, len(ts)), job, dtype=object))


def _search(ts, rng, gpus, host) -> _Load:
    return _serving(ts, rng, gpus, "query-embed-serving", 22.0, 78.0, 1.08, 0.7, 0.68)


def _recsys(ts, rng, gpus, host) -> _Load:
    return _serving(ts, rng, gpus, "ranker-serving", 7.0, 22.0, 0.9, 0.55, 0.13)


def _reservation(ts, rng, gpus, host) -> _Load:
    util = np.zeros((gpus, len(ts)))
    jobs = np.full((gpus, len(ts)), "", dtype=object)
    used = ts < IDLE_FROM
    ft_jobs, running = _runs(ts[used], rng, "finetune-7b", (6, 14), gap_min=(60, 240))
    util[:, used] = np.where(running, rng.normal(71.0, 5.0, (gpus, int(used.sum()))), 0.0)
    jobs[:, used] = ft_jobs
    mem = np.where(util > 0, 0.75, 0.0)
    return _Load(util, np.full_like(util, 0.75), mem, jobs)


NODES = [
    _Node("train-h100-01", H100, 8, "llm", "pretrain-13b", "llm-train", _llm),
    _Node("train-h100-02", H100, 8, "llm", "pretrain-13b", "llm-train", _llm),
    _Node("train-a100-01", A100, 8, "vision", "detector-v5", "vision", _vision),
    _Node("infer-l4-01", L4, 4, "search", "query-embed", "search-serving", _search),
    _Node("infer-l4-02", L4, 4, "search", "query-embed", "search-serving", _search),
    _Node("infer-a100-01", A100, 4, "recsys", "ranker", "recsys-serving", _recsys),
    _Node(IDLE_HOST, H100, 8, "nlp", "finetune", "nlp-research", _reservation),
]


def _gpu_uuid(rng: np.random.Generator) -> str:
    return "GPU-" + str(uuidlib.UUID(bytes=rng.bytes(16), version=4))


def generate_fleet(start: str = "2026-11-16", days: int = 14, interval_s: int = 300, seed: int = 7) -> pd.DataFrame:
    """The sample fleet as a GPU-samples frame, sorted by host, gpu and timestamp.

    Same arguments, same frame (seeded). The default covers ISO weeks 2026-W47 and 2026-W48.
    """
    rng = np.random.default_rng(seed)
    ts = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=int(days * 86400 // interval_s), freq=f"{interval_s}s")
    frames = []
    for node in NODES:
        node_rng = np.random.default_rng([seed, sum(map(ord, node.host))])
        load = node.pattern(ts, node_rng, node.gpus, node.host)
        mem_total, p_idle, p_max = MODEL_SPECS[node.model]
        util = np.clip(np.round(load.util), 0, 100)
        sm = np.clip(util * load.sm_ratio * node_rng.normal(1.0, 0.03, util.shape), 0, 100)
        gr = np.clip(util * node_rng.normal(0.97, 0.01, util.shape), 0, 100)
        # power follows the work the SMs do, not the utilization counter (which a spinning kernel pins)
        work = np.maximum(sm / 100 / 0.82, 0)
        power = p_idle + (p_max - p_idle) * np.clip(work, 0, 1) * 0.92 + node_rng.normal(0, p_idle * 0.05, util.shape)
        mem = np.clip(load.mem_frac, 0, 1) * mem_total
        mem = np.where(util > 0, mem, np.where(load.job != "", mem, 0.0))
        uuids = [_gpu_uuid(rng) for _ in range(node.gpus)]
        jobs = load.job
        running = jobs != ""
        pods = np.where(running, jobs + "-" + np.arange(node.gpus)[:, None].astype(str), None)
        frame = pd.DataFrame(
            {
                "timestamp": np.tile(ts, node.gpus),
                "host": node.host,
                "gpu": np.repeat(np.arange(node.gpus), len(ts)),
                "uuid": np.repeat(uuids, len(ts)),
                "model": node.model,
                "util_pct": util.ravel().astype(float),
                "mem_used_mib": np.round(mem).ravel(),
                "mem_total_mib": mem_total,
                "power_w": np.round(power, 1).ravel(),
                "sm_active_pct": np.round(sm, 1).ravel(),
                "gr_engine_active_pct": np.round(gr, 1).ravel(),
                "namespace": np.where(running, node.namespace, None).ravel(),
                "pod": pods.ravel(),
                "job": np.where(running, jobs, None).ravel(),
                "team": node.team,
                "project": node.project,
            }
        )
        if node.host == GAP[0]:
            frame = frame[~((frame["timestamp"] >= GAP[1]) & (frame["timestamp"] < GAP[2]))]
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    out["gpu"] = out["gpu"].astype("int64")
    return out


def gpu_samples(
    host: str = "node-a",
    gpu: int = 0,
    start: str = "2026-11-23",
    hours: float = 24.0,
    util=50.0,
    interval_s: int = 300,
    model: str = A100,
    power=None,
    sm=None,
    **columns,
) -> pd.DataFrame:
    """Readings of one GPU every ``interval_s`` for ``hours``: a small frame for tests and examples.

    ``util``, ``power`` and ``sm`` (SM activity, %) are scalars or arrays of one value per reading;
    power defaults to a plausible function of utilization. Extra keyword arguments become columns
    (``team="ml"``, ``job="train-1"``).
    """
    n = int(hours * 3600 // interval_s)
    ts = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=n, freq=f"{interval_s}s")
    util_arr = np.broadcast_to(np.asarray(util, dtype=float), (n,))
    power_arr = 60 + 3.4 * util_arr if power is None else np.broadcast_to(np.asarray(power, dtype=float), (n,))
    frame = pd.DataFrame(
        {
            "timestamp": ts,
            "host": host,
            "gpu": gpu,
            "uuid": f"GPU-{host}-{gpu}",
            "model": model,
            "util_pct": util_arr,
            "mem_used_mib": 1000.0,
            "mem_total_mib": 81920.0,
            "power_w": power_arr,
        }
    )
    if sm is not None:
        frame["sm_active_pct"] = np.broadcast_to(np.asarray(sm, dtype=float), (n,))
    for name, value in columns.items():
        frame[name] = value
    return frame


def write_attribution(path: str | Path) -> Path:
    """Write the fleet's mapping file: CSV ``host,gpu,namespace,team,project``, empty cells match anything."""
    path = Path(path)
    frame = pd.DataFrame(ATTRIBUTION, columns=["host", "gpu", "namespace", "team", "project"])
    frame.to_csv(path, index=False)
    return path


# What a fleet's exporters record: the frame's metrics and workload labels, but no team columns
# (teams come from the attribution mapping, as in a real fleet).
SAMPLE_COLUMNS = [*REQUIRED_COLUMNS, *OPTIONAL_METRICS, "namespace", "pod", "job"]


@scenario("fleet_week", "two ISO weeks of a 44-GPU fleet: idle reservation, stalled job, underused team, data gap")
def write_fleet_week(folder: Path) -> Path:
    """``fleet.parquet`` (samples without team columns) and ``attribution.csv``; returns the Parquet path."""
    folder = Path(folder)
    samples = generate_fleet()[SAMPLE_COLUMNS]
    main = folder / "fleet.parquet"
    samples.to_parquet(main, index=False, compression="zstd")
    write_attribution(folder / "attribution.csv")
    return main
