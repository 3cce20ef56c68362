"""Weekly GPU usage from the hourly rollup: per GPU, node, team and job, with idle, stalled and gaps.

Definitions (all thresholds in :class:`UsageThresholds`, shown on the report):

- **GPU-hours present**: seconds covered by samples / 3600 (a missing sample is not present, and not idle).
- **busy GPU-hours**: utilization-weighted hours, sum(util_pct / 100 x seconds) / 3600.
- **mean utilization**: busy / present. **p95 utilization**: 95th percentile of hourly mean utilization.
- **hot**: mean utilization above ``hot_pct``; **underused**: mean below ``underused_pct``.
- **idle**: a stretch of at least ``idle_min_hours`` consecutive hours whose mean utilization is below
  ``idle_pct`` (near 0 %). An hour with a gap breaks a stretch; a gap never counts as idle.
- **stalled** ("busy but stalled", the signature of a hung collective): hours with mean utilization at
  least ``stall_util_pct`` while SM activity is below ``stall_sm_pct`` (or, without SM activity, power
  below ``stall_power_ratio`` x the model's busy power), for at least ``stall_min_hours``.
- **data gap**: hours between a GPU's first and last sample in the week that are less than
  ``gap_coverage`` covered by samples; stretches missing at least ``gap_min_hours`` are reported.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from opskit.errors import InputError

UNATTRIBUTED = "unattributed"
NO_JOB = "(no job)"
_WEEK = re.compile(r"^\s*(\d{4})-?W?(\d{1,2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class UsageThresholds:
    """Thresholds of the usage analysis; every field is a runbook parameter."""

    hot_pct: float = 85.0
    underused_pct: float = 30.0
    idle_pct: float = 2.0
    idle_min_hours: float = 4.0
    stall_util_pct: float = 90.0
    stall_sm_pct: float = 10.0
    stall_power_ratio: float = 0.35
    stall_min_hours: float = 1.0
    gap_coverage: float = 0.9
    gap_min_hours: float = 0.5

    def to_frame(self) -> pd.DataFrame:
        meaning = {
            "hot_pct": "a GPU or team is hot above this mean utilization (%)",
            "underused_pct": "underused below this mean utilization (%)",
            "idle_pct": "an hour is idle below this mean utilization (%)",
            "idle_min_hours": "idle only for at least this many consecutive idle hours",
            "stall_util_pct": "stalled: utilization at least this (%) while SM activity is low",
            "stall_sm_pct": "stalled: SM activity below this (%) while utilization is high",
            "stall_power_ratio": "stalled, without SM activity readings: power below this share of busy power",
            "stall_min_hours": "stalled only for at least this many consecutive hours",
            "gap_coverage": "an hour covered less than this share by samples is a data gap",
            "gap_min_hours": "gaps missing at least this many hours are reported",
        }
        return pd.DataFrame(
            [{"threshold": k, "value": v, "meaning": meaning[k]} for k, v in asdict(self).items()]
        ).set_index("threshold")


@dataclass(frozen=True)
class UsageResult:
    """The usage of one ISO week. Frames are per GPU-hour, GPU, node, team and job, plus stretches."""

    week: str
    start: pd.Timestamp
    end: pd.Timestamp
    interval_s: float
    thresholds: UsageThresholds
    hourly: pd.DataFrame  # one row per GPU-hour present, with flags
    rows: pd.DataFrame  # the rollup rows of the week (GPU-hour x job), with hours and flags
    gpus: pd.DataFrame
    nodes: pd.DataFrame
    teams: pd.DataFrame
    jobs: pd.DataFrame
    idle: pd.DataFrame  # idle stretches
    stalled: pd.DataFrame  # stalled stretches
    gaps: pd.DataFrame  # data gaps
    weeks_available: tuple[str, ...] = ()
    full_week: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def totals(self) -> dict[str, float]:
        g = self.gpus
        present = float(g["gpu_hours"].sum())
        busy = float(g["busy_gpu_hours"].sum())
        return {
            "gpus": len(g),
            "nodes": len(self.nodes),
            "teams": len(self.teams),
            "gpu_hours": present,
            "busy_gpu_hours": busy,
            "util_mean_pct": 100 * busy / present if present else float("nan"),
            "idle_gpu_hours": float(g["idle_gpu_hours"].sum()),
            "stalled_gpu_hours": float(g["stalled_gpu_hours"].sum()),
            "gap_gpu_hours": float(g["gap_gpu_hours"].sum()),
        }


def parse_week(week: str) -> tuple[str, pd.Timestamp, pd.Timestamp]:
    """``"2026-W48"`` (or ``2026W48``, ``2026-48``) -> (label, Monday 00:00 UTC, next Monday 00:00 UTC)."""
    m = _WEEK.match(str(week))
    if not m:
        raise InputError(f"not an ISO week: {week!r}", column="week", hint="write the week as YYYY-Www, e.g. 2026-W48")
    year, num = int(m.group(1)), int(m.group(2))
    try:
        monday = dt.date.fromisocalendar(year, num, 1)
    except ValueError:
        raise InputError(f"{year} has no ISO week {num}", column="week", hint="ISO weeks run 1 to 52 or 53") from None
    start = pd.Timestamp(monday, tz="UTC")
    return f"{year}-W{num:02d}", start, start + pd.Timedelta(days=7)


def week_label(ts: pd.Timestamp) -> str:
    iso = ts.isocalendar()
    return f"{iso[0]}-W{iso[1]:02d}"


def weeks_in(hours: pd.Series) -> list[str]:
    """ISO weeks with data, oldest first."""
    mondays = (hours.dt.normalize() - pd.to_timedelta(hours.dt.day_of_week, unit="D")).drop_duplicates().sort_values()
    return [week_label(m) for m in mondays]


def default_week(hours: pd.Series) -> tuple[str, bool]:
    """The last full ISO week in the data (first and last hour present), else the last week present."""
    first, last = hours.min(), hours.max()
    weeks = weeks_in(hours)
    for label in reversed(weeks):
        _, start, end = parse_week(label)
        if first <= start and last >= end - pd.Timedelta(hours=1):
            return label, True
    return weeks[-1], False


def _hour_index(hours: pd.Series) -> np.ndarray:
    """Hours since the epoch, as integers (``hours`` are whole UTC hours)."""
    return (_hours_col(hours).astype("int64") // (3_600 * 10**9)).to_numpy()


def _run_lengths(h: pd.DataFrame, flag: np.ndarray) -> np.ndarray:
    """For rows sorted by host, gpu, hour: the length in hours of the flagged run each row is in (0 if none)."""
    flag = np.asarray(flag, dtype=bool)
    if not len(flag):
        return np.zeros(0)
    host, gpu, hh = h["host"].to_numpy(), h["gpu"].to_numpy(), h["h"].to_numpy()
    cont = (host[1:] == host[:-1]) & (gpu[1:] == gpu[:-1]) & (hh[1:] == hh[:-1] + 1) & flag[:-1]
    start = flag & ~np.r_[False, cont]
    run = np.cumsum(start) * flag
    lengths = np.bincount(run)
    out = lengths[run].astype(float)
    out[~flag] = 0.0
    return out


def _hours_col(hours: pd.Series) -> pd.Series:
    return hours.astype("datetime64[ns, UTC]")


def _stretches(frame: pd.DataFrame, flag: str, value: str | None = None) -> pd.DataFrame:
    """Consecutive flagged hours per GPU -> rows (host, gpu, start, end, hours[, value sum])."""
    cols = ["host", "gpu", "start", "end", "hours"]
    f = frame[frame[flag]].sort_values(["host", "gpu", "hour"])
    if f.empty:
        return pd.DataFrame(columns=[*cols, "team", "model", "job"])
    h = f["h"].to_numpy()
    same_gpu = (f["host"].to_numpy()[1:] == f["host"].to_numpy()[:-1]) & (
        f["gpu"].to_numpy()[1:] == f["gpu"].to_numpy()[:-1]
    )
    new = np.r_[True, ~(same_gpu & (h[1:] == h[:-1] + 1))]
    f = f.assign(run=np.cumsum(new))
    agg = {
        "host": ("host", "first"),
        "gpu": ("gpu", "first"),
        "start": ("hour", "min"),
        "end": ("hour", "max"),
        "hours": (value or "n", "sum") if value else ("hour", "size"),
        "team": ("team", "first"),
        "model": ("model", "first"),
        "job": ("job", lambda s: ", ".join(sorted({str(x) for x in s if x and x != NO_JOB})) or NO_JOB),
    }
    out = f.groupby("run").agg(**agg).reset_index(drop=True)
    out["end"] = out["end"] + pd.Timedelta(hours=1)
    return out


def _dominant(rows: pd.DataFrame, key: list[str], col: str) -> pd.Series:
    """Per key, the value of ``col`` covering the most seconds."""
    s = rows.groupby([*key, col], dropna=False, sort=False)["covered_s"].sum().reset_index()
    s = s.sort_values("covered_s", ascending=False, kind="stable").drop_duplicates(key)
    return s.set_index(key)[col]


def _summarize(rows: pd.DataFrame, hourly: pd.DataFrame, by: list[str], th: UsageThresholds) -> pd.DataFrame:
    g = rows.groupby(by, dropna=False, sort=True)
    out = pd.DataFrame(
        {
            "gpus": g["gpu_key"].nunique(),
            "gpu_hours": g["gpu_hours"].sum(),
            "busy_gpu_hours": g["busy_gpu_hours"].sum(),
            "util_known_h": g["util_pct_known_s"].sum() / 3600,
            "util_p95_pct": g["util_mean_pct"].quantile(0.95),
            "mem_used_mean_mib": g["mem_used_mib_s"].sum() / g["mem_used_mib_known_s"].sum(),
            "mem_total_mib": g["mem_total_mib"].max(),
            "mem_used_max_mib": g["mem_used_max_mib"].max(),
            "power_mean_w": g["power_w_s"].sum() / g["power_w_known_s"].sum(),
            "idle_gpu_hours": g["idle_gpu_hours"].sum(),
            "underused_gpu_hours": g["underused_gpu_hours"].sum(),
            "stalled_gpu_hours": g["stalled_gpu_hours"].sum(),
        }
    )
    out["util_mean_pct"] = 100 * out["busy_gpu_hours"] / out.pop("util_known_h").replace(0, np.nan)
    out["mem_used_pct"] = 100 * out["mem_used_mean_mib"] / out["mem_total_mib"]
    out["hot"] = out["util_mean_pct"] > th.hot_pct
    out["underused"] = out["util_mean_pct"] < th.underused_pct
    cols = ["gpus", "gpu_hours", "busy_gpu_hours", "util_mean_pct", "util_p95_pct", "mem_used_mean_mib"]
    cols += ["mem_used_pct", "mem_used_max_mib", "power_mean_w", "idle_gpu_hours", "underused_gpu_hours"]
    cols += ["stalled_gpu_hours", "hot", "underused"]
    return out[cols]


def analyze_gpu_usage(
    rollup: pd.DataFrame,
    *,
    interval_s: float,
    week: str | None = None,
    thresholds: UsageThresholds | None = None,
) -> UsageResult:
    """Usage of one ISO week (default: the last full week in the data) from an hourly rollup.

    ``rollup`` is :attr:`opskit.analyses.gpu_fleet.rollup.Rollup.frame`, optionally with ``team`` and
    ``project`` joined (rows without a team are ``unattributed``, never dropped).
    """
    th = thresholds or UsageThresholds()
    if rollup.empty:
        raise InputError("no GPU samples to analyse", hint="check the input file and the period it covers")
    hours_all = _hours_col(rollup["hour"])
    available = tuple(weeks_in(hours_all))
    notes: list[str] = []
    if week:
        label, start, end = parse_week(week)
        full = hours_all.min() <= start and hours_all.max() >= end - pd.Timedelta(hours=1)
    else:
        label, full = default_week(hours_all)
        _, start, end = parse_week(label)
        if not full:
            notes.append(f"no full ISO week in the data: {label} is partial")
    rows = rollup[(hours_all >= start) & (hours_all < end)].copy()
    if rows.empty:
        raise InputError(
            f"no GPU samples in {label} ({start:%Y-%m-%d} to {end - pd.Timedelta(days=1):%Y-%m-%d})",
            column="week",
            hint="weeks with data: " + ", ".join(available),
        )
    rows["hour"] = _hours_col(rows["hour"])
    for c in ("team", "project"):
        if c not in rows.columns:
            rows[c] = None
        rows[c] = rows[c].where(rows[c].notna(), UNATTRIBUTED if c == "team" else None)
    if "job" not in rows.columns:
        rows["job"] = None
    rows["job"] = rows["job"].where(rows["job"].notna() & (rows["job"] != ""), NO_JOB)
    rows["gpu_key"] = rows["host"].astype(str) + ":" + rows["gpu"].astype(str)
    hourly = _hourly(rows, th)
    rows = rows.merge(
        hourly[["host", "gpu", "hour", "scale", "idle", "stalled", "underused"]], on=["host", "gpu", "hour"], how="left"
    )
    rows["gpu_hours"] = rows["covered_s"] * rows["scale"] / 3600
    rows["busy_gpu_hours"] = rows["util_pct_s"] * rows["scale"] / 100 / 3600
    rows["util_mean_pct"] = rows["util_pct_s"] / rows["util_pct_known_s"].replace(0, np.nan)
    for flag in ("idle", "stalled", "underused"):
        rows[f"{flag}_gpu_hours"] = np.where(rows[flag], rows["gpu_hours"], 0.0)
    gaps = _gaps(hourly, th, start, end)
    gpus = _summarize(rows, hourly, ["host", "gpu"], th)
    first = rows.drop_duplicates(["host", "gpu"]).set_index(["host", "gpu"])
    gpus.insert(0, "model", first["model"])
    gpus.insert(1, "uuid", first["uuid"])
    gpus.insert(2, "team", _dominant(rows, ["host", "gpu"], "team"))
    gap_h = gaps.groupby(["host", "gpu"])["missing_hours"].sum() if len(gaps) else pd.Series(dtype=float)
    gpus["gap_gpu_hours"] = gap_h.reindex(gpus.index).fillna(0.0)
    nodes = _summarize(rows, hourly, ["host"], th)
    nodes.insert(0, "model", rows.groupby("host")["model"].agg(lambda s: ", ".join(sorted({str(m) for m in s}))))
    nodes.insert(1, "team", _dominant(rows, ["host"], "team"))
    nodes["gap_gpu_hours"] = gpus.groupby(level="host")["gap_gpu_hours"].sum()
    teams = _summarize(rows, hourly, ["team"], th)
    teams["gap_gpu_hours"] = gpus.groupby("team")["gap_gpu_hours"].sum().reindex(teams.index).fillna(0.0)
    jobs = _summarize(rows[rows["job"] != NO_JOB], hourly, ["job"], th) if (rows["job"] != NO_JOB).any() else None
    if jobs is None:
        jobs = _summarize(rows.head(0), hourly, ["job"], th)
    else:
        jobs.insert(0, "team", _dominant(rows[rows["job"] != NO_JOB], ["job"], "team"))
        jobs.insert(1, "hosts", rows[rows["job"] != NO_JOB].groupby("job")["host"].nunique())
    idle = _stretches(hourly, "idle")
    idle = idle[idle["hours"] >= th.idle_min_hours].reset_index(drop=True) if len(idle) else idle
    stalled = _stretches(hourly, "stalled")
    return UsageResult(
        week=label,
        start=start,
        end=end,
        interval_s=float(interval_s),
        thresholds=th,
        hourly=hourly,
        rows=rows,
        gpus=gpus,
        nodes=nodes,
        teams=teams,
        jobs=jobs,
        idle=idle,
        stalled=stalled,
        gaps=gaps,
        weeks_available=available,
        full_week=bool(full),
        notes=tuple(notes),
    )


def _hourly(rows: pd.DataFrame, th: UsageThresholds) -> pd.DataFrame:
    """One row per GPU-hour present: coverage, means and the idle/stalled/underused flags."""
    sums = ["covered_s", *[c for c in rows.columns if c.endswith("_s") and c != "covered_s"]]
    g = rows.groupby(["host", "gpu", "hour"], sort=True)
    h = g[sums].sum()
    h["model"] = g["model"].first()
    h["mem_total_mib"] = g["mem_total_mib"].max()
    h = h.reset_index()
    h["team"] = (
        _dominant(rows, ["host", "gpu", "hour"], "team")
        .reindex(pd.MultiIndex.from_frame(h[["host", "gpu", "hour"]]))
        .to_numpy()
    )
    h["job"] = (
        _dominant(rows, ["host", "gpu", "hour"], "job")
        .reindex(pd.MultiIndex.from_frame(h[["host", "gpu", "hour"]]))
        .to_numpy()
    )
    # more than an hour of samples in an hour (clock skew, overlapping files): count the hour once
    h["scale"] = np.minimum(1.0, 3600 / h["covered_s"].replace(0, np.nan)).fillna(1.0)
    h["coverage"] = np.minimum(1.0, h["covered_s"] / 3600)
    for m, name in (
        ("util_pct", "util_mean_pct"),
        ("power_w", "power_mean_w"),
        ("sm_active_pct", "sm_active_mean_pct"),
        ("mem_used_mib", "mem_used_mean_mib"),
    ):
        known = h.get(f"{m}_known_s")
        h[name] = h[f"{m}_s"] / known.replace(0, np.nan) if known is not None else np.nan
    h["h"] = _hour_index(h["hour"])
    idle = (h["util_mean_pct"] < th.idle_pct).to_numpy()
    # idle only in stretches of at least idle_min_hours consecutive idle hours
    h["idle"] = _run_lengths(h, idle) >= th.idle_min_hours
    busy_power = h[h["util_mean_pct"] >= 50].groupby("model")["power_mean_w"].quantile(0.95)
    ref = h["model"].map(busy_power)
    low_sm = h["sm_active_mean_pct"] < th.stall_sm_pct
    low_power = h["sm_active_mean_pct"].isna() & (h["power_mean_w"] < th.stall_power_ratio * ref)
    stalled = ((h["util_mean_pct"] >= th.stall_util_pct) & (low_sm | low_power)).to_numpy()
    h["stalled"] = _run_lengths(h, stalled) >= th.stall_min_hours
    h["underused"] = (h["util_mean_pct"] < th.underused_pct) & ~h["idle"]
    return h


def _gaps(hourly: pd.DataFrame, th: UsageThresholds, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Hours between a GPU's first and last sample of the week covered less than ``gap_coverage``."""
    cols = ["host", "gpu", "team", "start", "end", "hours", "missing_hours"]
    fl = hourly.groupby(["host", "gpu"], sort=True)["h"].agg(["min", "max"]).reset_index()
    n = (fl["max"] - fl["min"] + 1).to_numpy()
    grid = pd.DataFrame(
        {
            "host": np.repeat(fl["host"].to_numpy(), n),
            "gpu": np.repeat(fl["gpu"].to_numpy(), n),
            "h": np.repeat(fl["min"].to_numpy(), n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)),
        }
    )
    grid = grid.merge(hourly[["host", "gpu", "h", "coverage", "team"]], on=["host", "gpu", "h"], how="left")
    grid["coverage"] = grid["coverage"].fillna(0.0)
    grid["gap"] = grid["coverage"] < th.gap_coverage
    if not grid["gap"].any():
        return pd.DataFrame(columns=cols)
    grid["hour"] = pd.to_datetime(grid["h"] * 3600, unit="s", utc=True)
    grid["missing"] = 1.0 - grid["coverage"]
    team = _dominant(hourly, ["host", "gpu"], "team")
    grid["team"] = pd.MultiIndex.from_frame(grid[["host", "gpu"]]).map(team)
    grid["model"] = None
    grid["job"] = None
    runs = _stretches(grid.rename(columns={"missing": "n"}), "gap", value="n")
    runs = runs.rename(columns={"hours": "missing_hours"})
    runs["hours"] = (runs["end"] - runs["start"]) / pd.Timedelta(hours=1)
    runs = runs[runs["missing_hours"] >= th.gap_min_hours]
    return runs[cols].reset_index(drop=True)
