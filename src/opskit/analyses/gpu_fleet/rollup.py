"""GPU samples -> hourly rollup: the one early aggregation every GPU-usage figure is computed from.

A week of a large fleet at 15 s is tens of millions of samples; the report needs only hourly sums per
GPU (and per workload in that hour). :func:`rollup_hourly` does it for a frame in memory,
:func:`rollup_parquet` for Parquet files, reading only the needed columns: in SQL with duckdb when it
is installed (``opskit[fast]``), else with pyarrow in bounded batches. Both give the same frame.

Rollup columns, one row per ``host``, ``gpu``, ``hour`` and attribution (``namespace``, ``pod``,
``job``, ``team``, ``project`` when present):

- ``hour`` (UTC, start of the hour), ``host``, ``gpu``, ``uuid``, ``model``;
- ``rows`` samples, ``covered_s`` seconds they stand for (each sample stands for the sampling
  interval, or its own ``interval_s`` column when a reader aggregated already);
- ``<metric>_s`` (value x seconds) and ``<metric>_known_s`` (seconds with a reading) for
  ``util_pct``, ``power_w``, ``mem_used_mib``, ``sm_active_pct``, ``gr_engine_active_pct``, so that
  means stay exact when rows are merged and a missing reading is never taken for zero;
- ``util_max_pct``, ``mem_used_max_mib``, ``mem_total_mib``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.errors import InputError, MissingDependencyError

METRICS = ("util_pct", "power_w", "mem_used_mib", "sm_active_pct", "gr_engine_active_pct")
ATTRIBUTION = ("namespace", "pod", "job", "team", "project")
REQUIRED = ("timestamp", "host", "gpu", "util_pct")
BATCH_ROWS = 2_000_000


@dataclass(frozen=True)
class SourceWarning:
    """What the source said about its own answer (a Prometheus ``warnings`` entry): the data may be incomplete.

    ``query`` is what was asked (the PromQL), ``level`` ``warning`` (partial data) or ``info`` (a query note).
    """

    text: str
    query: str | None = None
    level: str = "warning"


@dataclass(frozen=True)
class Rollup:
    """Hourly rollup of GPU samples, and what was found on the way."""

    frame: pd.DataFrame
    interval_s: float
    samples: int
    duplicates: int
    out_of_order: int | None  # None when the engine cannot see the input order
    engine: str
    source_warnings: tuple[SourceWarning, ...] = ()


def _missing_required(columns, path=None) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(
            f"missing GPU-sample columns {missing}; expected at least {list(REQUIRED)}, found {list(columns)}",
            path=path,
            column=missing[0],
            hint="read the file with an opskit.sources reader, or rename its columns to the GPU-samples frame",
        )


def detect_interval(rows_per_gpu_hour: pd.Series | np.ndarray) -> float:
    """The sampling interval: 3600 s over the median number of samples per GPU-hour, in whole seconds."""
    counts = np.asarray(rows_per_gpu_hour, dtype=float)
    counts = counts[counts > 0]
    if counts.size == 0:
        return math.nan
    return float(max(1.0, round(3600.0 / float(np.median(counts)))))


def _weights(frame: pd.DataFrame, interval_s: float) -> np.ndarray:
    if "interval_s" in frame.columns:
        return pd.to_numeric(frame["interval_s"], errors="coerce").fillna(interval_s).to_numpy(float)
    return np.full(len(frame), interval_s, dtype=float)


def _utc_naive(values: pd.Series) -> np.ndarray:
    """Timestamps as naive UTC ``datetime64[ns]`` (fast; never an object array of Timestamps)."""
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.tz_localize(None).to_numpy("datetime64[ns]")


def _hours(frame: pd.DataFrame) -> np.ndarray:
    return _utc_naive(frame["timestamp"]).astype("datetime64[h]").astype("datetime64[ns]")


def interval_from_timestamps(frame: pd.DataFrame) -> float:
    """The sampling interval from the timestamps themselves: the median step between a GPU's samples.

    17 samples taken 5 s apart are 5 s each, whatever share of the hour they cover. NaN when no
    GPU has two samples at different times.
    """
    stamps = _utc_naive(frame["timestamp"]).astype("int64")
    keys = pd.DataFrame({"host": frame["host"].to_numpy(), "gpu": frame["gpu"].to_numpy(), "t": stamps})
    keys = keys.sort_values(["host", "gpu", "t"], kind="stable")
    same_gpu = (keys["host"].to_numpy() == np.roll(keys["host"].to_numpy(), 1)) & (
        keys["gpu"].to_numpy() == np.roll(keys["gpu"].to_numpy(), 1)
    )
    steps = np.diff(keys["t"].to_numpy(), prepend=keys["t"].to_numpy()[:1]) / 1e9
    steps = steps[same_gpu & (steps > 0)]
    if steps.size == 0:
        return math.nan
    return float(max(1.0, round(float(np.median(steps)))))


def _interval_of(frame: pd.DataFrame, hour: np.ndarray) -> float:
    """Samples per GPU-hour over the hours a GPU recorded in full (not its first or last hour);
    without such hours (a recording of minutes), the median step between timestamps."""
    keys = pd.DataFrame({"host": frame["host"].to_numpy(), "gpu": frame["gpu"].to_numpy(), "hour": hour})
    counts = keys.groupby(["host", "gpu", "hour"], sort=True, observed=True).size().reset_index(name="n")
    per_gpu = counts.groupby(["host", "gpu"], sort=False, observed=True)["hour"]
    interior = (counts["hour"] > per_gpu.transform("min")) & (counts["hour"] < per_gpu.transform("max"))
    if interior.any():
        return detect_interval(counts.loc[interior, "n"].to_numpy())
    from_steps = interval_from_timestamps(frame)
    return from_steps if not math.isnan(from_steps) else detect_interval(counts["n"].to_numpy())


def _partial_rollup(frame: pd.DataFrame, interval_s: float | None) -> tuple[pd.DataFrame, float]:
    """Sums per (GPU, hour, attribution) of one frame of de-duplicated samples."""
    hour = _hours(frame)
    if interval_s is None or (isinstance(interval_s, float) and math.isnan(interval_s)):
        interval_s = _interval_of(frame, hour)
    attr = [c for c in ATTRIBUTION if c in frame.columns]
    keys = ["host", "gpu", "hour", *attr]
    work = frame[["host", "gpu", *attr]].copy()
    work.insert(2, "hour", hour)
    w = _weights(frame, interval_s)
    work["rows"] = 1
    work["covered_s"] = w
    for m in METRICS:
        if m in frame.columns:
            v = pd.to_numeric(frame[m], errors="coerce").to_numpy(float)
            known = ~np.isnan(v)
            work[f"{m}_s"] = np.where(known, v * w, 0.0)
            work[f"{m}_known_s"] = np.where(known, w, 0.0)
    work["util_max_pct"] = pd.to_numeric(frame["util_pct"], errors="coerce").to_numpy(float)
    if "mem_used_mib" in frame.columns:
        work["mem_used_max_mib"] = pd.to_numeric(frame["mem_used_mib"], errors="coerce").to_numpy(float)
    if "mem_total_mib" in frame.columns:
        work["mem_total_mib"] = pd.to_numeric(frame["mem_total_mib"], errors="coerce").to_numpy(float)
    for c in ("uuid", "model"):
        if c in frame.columns:
            work[c] = frame[c]
    return _merge(work, keys), interval_s


def _merge(work: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    agg = {}
    for c in work.columns:
        if c in keys:
            continue
        if c.endswith("_max_pct") or c.endswith("_max_mib") or c == "mem_total_mib":
            agg[c] = "max"
        elif c in ("uuid", "model"):
            agg[c] = "first"
        else:
            agg[c] = "sum"
    return work.groupby(keys, dropna=False, sort=False, observed=True).agg(agg).reset_index()


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical column set and order, dtypes, sorted."""
    for c in ("uuid", "model"):
        if c not in frame.columns:
            frame[c] = None
    for m in METRICS:
        if f"{m}_s" not in frame.columns:
            frame[f"{m}_s"] = 0.0
            frame[f"{m}_known_s"] = 0.0
    for c in ("mem_used_max_mib", "mem_total_mib"):
        if c not in frame.columns:
            frame[c] = np.nan
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame["gpu"] = frame["gpu"].astype("int64")
    frame["rows"] = frame["rows"].astype("int64")
    attr = [c for c in ATTRIBUTION if c in frame.columns]
    for c in ["host", "uuid", "model", *attr]:
        frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
    metric_cols = [x for m in METRICS for x in (f"{m}_s", f"{m}_known_s")]
    order = ["hour", "host", "gpu", "uuid", "model", *attr, "rows", "covered_s", *metric_cols]
    order += ["util_max_pct", "mem_used_max_mib", "mem_total_mib"]
    frame = frame[order].sort_values(["host", "gpu", "hour", *attr], kind="stable", na_position="first")
    return frame.reset_index(drop=True)


def _mig_shares(samples: pd.DataFrame, interval_s: float | None) -> tuple[pd.DataFrame, float]:
    """Each MIG instance's sample weighs its share of the GPU (1/n of the instances seen at that time),
    so a GPU's hours stay one per hour while every instance keeps its own pod attribution."""
    stamps = pd.DataFrame({"host": samples["host"].to_numpy(), "gpu": samples["gpu"].to_numpy()})
    stamps["t"] = _utc_naive(samples["timestamp"]).view("int64")
    if interval_s is None or (isinstance(interval_s, float) and math.isnan(interval_s)):
        once = samples.loc[~stamps.duplicated(["host", "gpu", "t"]).to_numpy()]
        interval_s = _interval_of(once, _hours(once))
    share = 1.0 / stamps.groupby(["host", "gpu", "t"], sort=False)["t"].transform("size").to_numpy(float)
    out = samples.copy()
    base = pd.to_numeric(out["interval_s"], errors="coerce").fillna(interval_s) if "interval_s" in out else interval_s
    out["interval_s"] = base * share
    return out, interval_s


def rollup_hourly(samples: pd.DataFrame, *, interval_s: float | None = None, path=None) -> Rollup:
    """Roll a GPU-samples frame up to hours. Duplicated samples (same host, GPU and time) count once.

    Out-of-order timestamps are counted (as they came, per GPU) and otherwise harmless.
    """
    _missing_required(list(samples.columns), path)
    if samples.empty:
        raise InputError("no GPU samples (the table has no rows)", path=path, hint="check the period and the file")
    order = samples[["host", "gpu"]].copy()
    order["t"] = _utc_naive(samples["timestamp"]).view("int64")
    back = order.groupby(["host", "gpu"], sort=False, observed=True)["t"].diff() < 0
    out_of_order = int(back.sum())
    mig = "mig_instance" in samples.columns and samples["mig_instance"].notna().any()
    if mig:  # MIG instances share host, GPU and time: each is its own series, keyed by its GPU instance
        order["mig_instance"] = samples["mig_instance"].astype(object).where(samples["mig_instance"].notna(), "")
    dup = order.duplicated(["host", "gpu", "t", *(["mig_instance"] if mig else [])], keep="last").to_numpy()
    clean = samples.loc[~dup] if dup.any() else samples
    if mig:
        clean, interval_s = _mig_shares(clean, interval_s)
    frame, interval = _partial_rollup(clean, interval_s)
    return Rollup(_finish(frame), interval, len(samples), int(dup.sum()), out_of_order, "pandas")


def _parquet_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.parquet"))
    elif p.exists():
        files = [p]
    else:
        raise InputError("no such file or folder", path=p, hint="give the path of a Parquet file of GPU samples")
    if not files:
        raise InputError("no Parquet files in this folder", path=p, hint="give a .parquet file or a folder of them")
    return files


def _schema_columns(files: list[Path]) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(files[0]).names)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(f"not a readable Parquet file ({exc})", path=files[0], hint="check the file") from None


def rollup_parquet(
    path: str | Path, *, interval_s: float | None = None, engine: str = "auto", batch_rows: int = BATCH_ROWS
) -> Rollup:
    """Roll GPU samples in Parquet (a file or a folder of files) up to hours, reading only needed columns.

    ``engine``: ``"duckdb"`` (SQL, needs ``opskit[fast]``), ``"pandas"`` (pyarrow batches of
    ``batch_rows``; duplicates are found within a batch) or ``"auto"`` (duckdb when installed). In
    SQL, duplicates are looked for in GPU-hours holding more samples than the interval allows.
    """
    files = _parquet_files(path)
    columns = _schema_columns(files)
    _missing_required(columns, files[0])
    if engine == "auto":
        try:
            import duckdb  # noqa: F401

            engine = "duckdb"
        except ImportError:
            engine = "pandas"
    if engine == "duckdb":
        return _rollup_duckdb(files, columns, interval_s)
    if engine != "pandas":
        raise InputError(f"unknown engine {engine!r}", hint="use 'auto', 'duckdb' or 'pandas'")
    return _rollup_batches(files, columns, interval_s, batch_rows)


def _needed(columns: list[str]) -> list[str]:
    wanted = [*REQUIRED, "uuid", "model", "mem_total_mib", "interval_s", *METRICS, *ATTRIBUTION]
    return [c for c in dict.fromkeys(wanted) if c in columns]


def _rollup_batches(files: list[Path], columns: list[str], interval_s: float | None, batch_rows: int) -> Rollup:
    import pyarrow.parquet as pq

    needed = _needed(columns)
    parts, samples, duplicates = [], 0, 0
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=needed):
            chunk = batch.to_pandas()
            samples += len(chunk)
            dup = chunk.duplicated(["host", "gpu", "timestamp"], keep="last").to_numpy()
            duplicates += int(dup.sum())
            if dup.any():
                chunk = chunk.loc[~dup]
            if interval_s is None and len(chunk):
                # the interval from the first batch, so every batch weighs samples alike
                interval_s = _interval_of(chunk, _hours(chunk))
            part, _ = _partial_rollup(chunk, interval_s)
            parts.append(part)
    if not samples:
        raise InputError("no GPU samples (the table has no rows)", path=files[0], hint="check the file")
    merged = pd.concat(parts, ignore_index=True)
    keys = ["host", "gpu", "hour", *[c for c in ATTRIBUTION if c in merged.columns]]
    return Rollup(_finish(_merge(merged, keys)), float(interval_s), samples, duplicates, None, "pandas")


def _rollup_duckdb(files: list[Path], columns: list[str], interval_s: float | None) -> Rollup:
    """One aggregating scan in SQL; GPU-hours with more samples than the interval allows are re-read
    without duplicates (a global DISTINCT over tens of millions of samples would cost GBs)."""
    try:
        import duckdb
    except ImportError:
        raise MissingDependencyError("duckdb", extra="fast", feature="SQL rollup of Parquet") from None
    attr = [c for c in ATTRIBUTION if c in columns]
    source = "read_parquet([" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "])"
    hour = "CAST(floor(epoch(timestamp) / 3600) AS BIGINT) * 3600"
    weighted = "interval_s" in columns
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        fallback = interval_s
        if weighted and fallback is None:
            fallback = con.execute(f"SELECT median(interval_s) FROM {source}").fetchone()[0]
        # unweighted sums are multiplied by the interval once it is known
        w = f"coalesce(CAST(interval_s AS DOUBLE), {float(fallback or 0)})" if weighted else "1.0"

        def aggregate(base: str) -> pd.DataFrame:
            select = [f"{hour} AS hour_epoch", "host", "gpu", *attr, "count(*) AS rows", f"sum({w}) AS covered_s"]
            for m in METRICS:
                if m in columns:
                    known = f"{m} IS NOT NULL AND NOT isnan({m})"
                    select.append(f"sum(CASE WHEN {known} THEN {m} * {w} ELSE 0 END) AS {m}_s")
                    select.append(f"sum(CASE WHEN {known} THEN {w} ELSE 0 END) AS {m}_known_s")
            select.append("max(CASE WHEN isnan(util_pct) THEN NULL ELSE util_pct END) AS util_max_pct")
            if "mem_used_mib" in columns:
                select.append("max(CASE WHEN isnan(mem_used_mib) THEN NULL ELSE mem_used_mib END) AS mem_used_max_mib")
            if "mem_total_mib" in columns:
                select.append("max(mem_total_mib) AS mem_total_mib")
            for c in ("uuid", "model"):
                if c in columns:
                    select.append(f"any_value({c}) AS {c}")
            group = ", ".join(["hour_epoch", "host", "gpu", *attr])
            return con.execute(f"SELECT {', '.join(select)} FROM {base} GROUP BY {group}").df()

        frame = aggregate(source)
        samples = int(frame["rows"].sum())
        if not samples:
            raise InputError("no GPU samples (the table has no rows)", path=files[0], hint="check the file")
        per_hour = frame.groupby(["host", "gpu", "hour_epoch"], sort=False)["rows"].sum()
        if interval_s is None:
            interval_s = float(fallback) if weighted and fallback else detect_interval(per_hour.to_numpy())
        duplicates = 0
        crowded = per_hour[per_hour > 3600 / interval_s + 1].reset_index()[["host", "gpu", "hour_epoch"]]
        if len(crowded):
            con.register("crowded", crowded)
            keys = ["host", "gpu", "timestamp"]
            other = [c for c in _needed(columns) if c not in keys]
            dedup = (
                f"(SELECT {', '.join(keys)}, {', '.join(f'last({c}) AS {c}' for c in other)} FROM {source} "
                f"WHERE ({hour}, host, gpu) IN (SELECT (hour_epoch, host, gpu) FROM crowded) "
                "GROUP BY host, gpu, timestamp)"
            )
            redone = aggregate(dedup)
            mask = pd.MultiIndex.from_frame(frame[["host", "gpu", "hour_epoch"]]).isin(
                pd.MultiIndex.from_frame(crowded)
            )
            duplicates = int(frame.loc[mask, "rows"].sum() - redone["rows"].sum())
            frame = pd.concat([frame.loc[~mask], redone], ignore_index=True)
    finally:
        con.close()
    if not weighted:
        for c in ["covered_s", *[c for c in frame.columns if c.endswith("_s") and c != "covered_s"]]:
            frame[c] = frame[c] * float(interval_s)
    frame["hour"] = pd.to_datetime(frame.pop("hour_epoch"), unit="s", utc=True)
    return Rollup(_finish(frame), float(interval_s), samples, duplicates, None, "duckdb")
