"""The weekly GPU report at fleet scale: 1,000 GPUs sampled every 15 s for 7 days (40 million samples).

The fleet is written once to a Parquet cache file (``$OPSKIT_BENCH_CACHE`` or
``~/.cache/opskit/bench``), then read three ways, each in its own process (wall time of the work
and peak RSS of the process):

- opskit, duckdb: ``load_rollup`` (SQL over Parquet, only the needed columns, aggregated to GPU-hours
  in the scan) and the whole report analysis: usage, idle/stalled/gaps, cost, recommendations, verdicts;
- opskit, pandas fallback (no duckdb): the same, the Parquet read in bounded pyarrow batches;
- baseline, plain pandas: ``pd.read_parquet`` of the same columns and one ``groupby`` to GPU-hours
  (the aggregation alone, none of the analysis).

Target (issue 6): the report under 30 s and under 3 GB peak on a 2-core machine. ``--quick`` runs a
64-GPU fleet for 2 days. Results go to ``bench/results/gpu_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_results

TARGET_S = 30.0
TARGET_MIB = 3 * 1024
START = "2026-11-23"  # Monday of ISO week 2026-W48
COLUMNS = ["timestamp", "host", "gpu", "uuid", "model", "util_pct", "mem_used_mib", "mem_total_mib", "power_w"]
MODELS = [("NVIDIA H100 80GB HBM3", 81559.0, 70.0, 700.0), ("NVIDIA A100-SXM4-80GB", 81920.0, 60.0, 400.0)]
MODELS += [("NVIDIA L4", 23034.0, 16.0, 72.0)]


def cache_path(gpus: int, days: int, interval_s: int) -> Path:
    root = Path(os.environ.get("OPSKIT_BENCH_CACHE") or Path.home() / ".cache" / "opskit" / "bench")
    return root / f"gpu_fleet_{gpus}gpus_{days}d_{interval_s}s_v1.parquet"


def write_fleet(path: Path, gpus: int, days: int, interval_s: int, seed: int = 11) -> int:
    """A seeded fleet, 8 GPUs a node, written in chunks of nodes (bounded memory); returns the rows."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ts = pd.date_range(pd.Timestamp(START, tz="UTC"), periods=days * 86400 // interval_s, freq=f"{interval_s}s")
    hour = (ts.hour + ts.minute / 60).to_numpy()
    diurnal = np.sin((hour - 10) / 24 * 2 * np.pi)
    n = len(ts)
    teams = [f"team-{i:02d}" for i in range(12)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    writer, rows = None, 0
    nodes = (gpus + 7) // 8
    for first in range(0, nodes, 8):  # 8 nodes (64 GPUs) per chunk
        frames = []
        for node in range(first, min(first + 8, nodes)):
            model, mem_total, p_idle, p_max = MODELS[node % 3]
            team = teams[node % len(teams)]
            k = min(8, gpus - node * 8)
            level = rng.uniform(0, 95, k)[:, None]
            level[rng.random(k) < 0.05] = 0.0  # an idle GPU now and then
            amp = rng.uniform(0, 25, k)[:, None] * (level > 0)
            util = np.clip(np.round(level + amp * diurnal + rng.normal(0, 4, (k, n)) * (level > 0)), 0, 100)
            day = (np.arange(n) * interval_s // 86400).astype(np.int64)
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp": np.tile(ts, k),
                        "host": f"node-{node:04d}",
                        "gpu": np.repeat(np.arange(k), n),
                        "uuid": np.repeat([f"GPU-{node:04d}{g:04d}-0000-4000-8000-{seed:012d}" for g in range(k)], n),
                        "model": model,
                        "util_pct": util.ravel(),
                        "mem_used_mib": np.round(util.ravel() / 100 * mem_total * 0.9),
                        "mem_total_mib": mem_total,
                        "power_w": np.round(p_idle + (p_max - p_idle) * util.ravel() / 100 * 0.9, 1),
                        "namespace": team,
                        "job": np.tile(np.char.add(f"{team}-n{node}-d", day.astype(str)), k),
                    }
                )
            )
        chunk = pd.concat(frames, ignore_index=True)
        table = pa.Table.from_pandas(chunk, preserve_index=False)
        table = table.cast(
            pa.schema(
                [
                    pa.field(f.name, pa.dictionary(pa.int32(), pa.string())) if f.type == pa.string() else f
                    for f in table.schema
                ]
            )
        )
        if writer is None:
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=1_000_000)
        rows += len(chunk)
    writer.close()
    os.replace(tmp, path)
    return rows


def ensure_fleet(gpus: int, days: int, interval_s: int) -> tuple[Path, float]:
    path = cache_path(gpus, days, interval_s)
    if path.exists():
        return path, 0.0
    t0 = time.perf_counter()
    write_fleet(path, gpus, days, interval_s)
    return path, time.perf_counter() - t0


def stage(name: str, path: str) -> dict:
    """Run one way of reading the fleet in this process; return its figures (imports not timed)."""
    import pandas as pd

    from opskit.analyses.gpu_fleet.verdicts import judge
    from opskit.analyses.gpu_fleet.week import analyze_week
    from opskit.runbooks.report_gpu_cost_inputs import load_rollup

    t0 = time.perf_counter()
    if name == "baseline":
        frame = pd.read_parquet(path, columns=[*COLUMNS, "namespace", "job"])
        frame["hour"] = frame["timestamp"].dt.floor("h")
        hourly = (
            frame.groupby(["host", "gpu", "hour", "namespace", "job"], observed=True)
            .agg(
                rows=("util_pct", "size"),
                util=("util_pct", "mean"),
                power=("power_w", "mean"),
                mem=("mem_used_mib", "mean"),
            )
            .reset_index()
        )
        out = {"rows_out": len(hourly), "gpu_hours": float(hourly["rows"].sum() * 15 / 3600)}
    else:
        engine = "duckdb" if name == "opskit-duckdb" else "pandas"
        rollup, _ = load_rollup(path, engine=engine)
        t_read = time.perf_counter() - t0
        report = analyze_week(rollup)
        verdicts = judge(report)
        teams = report.usage.teams
        out = {
            "rows_out": len(rollup.frame),
            "read_s": t_read,
            "samples": rollup.samples,
            "gpu_hours": float(teams["gpu_hours"].sum()),
            "team_gpu_hours": {str(k): round(float(v), 3) for k, v in teams["gpu_hours"].items()},
            "team_busy": {str(k): round(float(v), 3) for k, v in teams["busy_gpu_hours"].items()},
            "cost": float(report.cost.totals["cost"]),
            "verdicts": len(verdicts),
        }
    out["seconds"] = time.perf_counter() - t0
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_stage(name: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--stage", name, "--path", str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return {
            "name": name,
            "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else f"exit {proc.returncode}",
        }
    return {"name": name, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 GPUs for 2 days instead of 1,000 for 7")
    parser.add_argument("--gpus", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--interval", type=int, default=15)
    parser.add_argument("--skip-baseline", action="store_true", help="leave out the plain-pandas baseline")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        print(json.dumps(stage(args.stage, args.path)))
        return 0
    gpus = args.gpus or (64 if args.quick else 1000)
    days = args.days or (2 if args.quick else 7)
    path, gen_s = ensure_fleet(gpus, days, args.interval)
    samples = gpus * days * 86400 // args.interval
    print(f"fleet: {gpus} GPUs x {days} days every {args.interval} s = {samples:,} samples, {path}")
    print(
        f"       {path.stat().st_size / 2**20:,.0f} MiB Parquet"
        + (f", written in {gen_s:.1f} s" if gen_s else " (cached)")
    )
    names = ["opskit-duckdb", "opskit-pandas"] + ([] if args.skip_baseline else ["baseline-pandas"])
    results = [run_stage(n if n != "baseline-pandas" else "baseline", path) | {"name": n} for n in names]
    base = next((r for r in results if r["name"] == "baseline-pandas" and "seconds" in r), None)
    rows = []
    for r in results:
        if "error" in r:
            rows.append({"way": r["name"], "time_s": None, "note": r["error"]})
            continue
        rows.append(
            {
                "way": r["name"],
                "time_s": round(r["seconds"], 2),
                "Msamples_per_s": round(samples / r["seconds"] / 1e6, 2),
                "peak_MiB": round(r["peak_mib"]),
                "vs_baseline_time": round(r["seconds"] / base["seconds"], 2) if base else None,
                "vs_target_time": round(r["seconds"] / (TARGET_S * samples / 40_320_000), 2),
                "vs_target_mem": round(r["peak_mib"] / TARGET_MIB, 2),
            }
        )
    print_table(
        rows, ["way", "time_s", "Msamples_per_s", "peak_MiB", "vs_baseline_time", "vs_target_time", "vs_target_mem"]
    )
    duck = next((r for r in results if r["name"] == "opskit-duckdb" and "seconds" in r), None)
    pand = next((r for r in results if r["name"] == "opskit-pandas" and "seconds" in r), None)
    agree = None
    if duck and pand:
        agree = all(
            abs(duck["team_gpu_hours"][t] - pand["team_gpu_hours"].get(t, -1))
            < 1e-6 * max(1, duck["team_gpu_hours"][t])
            and abs(duck["team_busy"][t] - pand["team_busy"].get(t, -1)) < 1e-6 * max(1, duck["team_busy"][t])
            for t in duck["team_gpu_hours"]
        )
        print(f"duckdb and pandas fallback agree on per-team GPU-hours and busy GPU-hours: {agree}")
    print(
        f"target: report under {TARGET_S:g} s and {TARGET_MIB} MiB peak for 40.3 M samples on 2 cores "
        "(vs_target_time scales the target to this fleet's size)"
    )
    write_results(
        "gpu_cost",
        {
            "gpus": gpus,
            "days": days,
            "interval_s": args.interval,
            "samples": samples,
            "parquet": str(path),
            "results": results,
            "agree": agree,
            "target_s": TARGET_S,
            "target_mib": TARGET_MIB,
        },
    )
    failed = [r for r in results if "error" in r and r["name"] != "baseline-pandas"]
    return 1 if failed or agree is False else 0


if __name__ == "__main__":
    sys.exit(main())
