"""The Prometheus path of the weekly GPU report: aggregates pushed to the server vs pulling raw samples.

A fleet of GPUs scraped every 15 s for a week is backfilled into a real Prometheus (Debian's
``prometheus``/``promtool``), then read two ways, each in its own process (time and peak memory):

- opskit: ``read_prometheus_gpus(step=1h)`` (and 5m), i.e. ``avg_over_time(...[1h])`` plus
  ``count_over_time`` per GPU, one point per GPU per hour;
- baseline: the raw samples through ``query_range`` at the scrape step (what a client without
  server-side aggregation would transfer), split to stay under 11,000 points per series.

The issue's fleet is 1,000 GPUs x 7 days at 15 s (40 million samples per metric). Backfilling that
here would take far longer than the run (promtool parses text at a few hundred thousand samples a
second on this machine), so by default the benchmark runs 100 GPUs for 7 days (4 million samples,
one metric) and extrapolates linearly to 1,000 GPUs: points transferred scale exactly with the number
of series, time approximately. ``--gpus 1000`` runs the full size where there is time for it.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, run_timed, write_results

START = 1795392000  # 2026-11-23 00:00:00 UTC, Monday of ISO week 2026-W48
TARGET_GPUS = 1000
METRIC = "DCGM_FI_DEV_GPU_UTIL"


def write_openmetrics(path: Path, gpus: int, days: float, interval_s: int, seed: int = 7) -> int:
    """One metric for ``gpus`` GPUs (8 per host), series in order, seconds, ``# EOF``; returns samples."""
    rng = np.random.default_rng(seed)
    ts = np.arange(START, START + int(days * 86400), interval_s, dtype=np.int64)
    stamps = ts.astype(str)
    hour = (ts - START) // 3600 % 24
    with open(path, "w") as fh:
        fh.write(f"# HELP {METRIC} GPU utilization (in %).\n# TYPE {METRIC} gauge\n")
        for g in range(gpus):
            host, index = f"node-{g // 8:04d}", g % 8
            labels = (
                f'gpu="{index}",UUID="GPU-{g:08d}-0000-4000-8000-000000000000",modelName="NVIDIA H100 80GB HBM3",'
                f'Hostname="{host}",instance="{host}:9400",job="dcgm-exporter"'
            )
            level = rng.uniform(5, 95)
            util = np.clip(np.round(level + 15 * np.sin(hour / 24 * 2 * np.pi) + rng.normal(0, 5, ts.size)), 0, 100)
            prefix = f"{METRIC}{{{labels}}} "
            vals = util.astype(np.int64).astype(str)
            fh.write("\n".join(prefix + v + " " + t for v, t in zip(vals.tolist(), stamps.tolist(), strict=True)))
            fh.write("\n")
        fh.write("# EOF\n")
    return gpus * ts.size


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, work: Path) -> tuple[subprocess.Popen, str]:
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(work / "prometheus.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"prometheus not ready: {(work / 'prometheus.log').read_text()[-1000:]}")


def measure(mode: str, url: str, days: float, interval_s: int, out: Path) -> None:
    """Child process: one read, its points and rows written to ``out`` as JSON."""
    import pandas as pd

    from opskit.sources.prometheus import query_range, read_prometheus_gpus

    start = pd.Timestamp(START, unit="s", tz="UTC")
    end = start + pd.Timedelta(seconds=days * 86400)
    t0 = time.perf_counter()
    if mode == "raw":
        result = query_range(url, METRIC, start, end - pd.Timedelta(seconds=interval_s), interval_s, timeout=600)
        info = {"points": result.points, "requests": result.requests, "rows": result.points}
    else:
        frame = read_prometheus_gpus(url, start, end, step=mode, metrics=[METRIC], timeout=600)
        meta = frame.attrs["prometheus"]
        info = {"points": meta.points, "requests": meta.requests, "rows": len(frame)}
    info["read_s"] = time.perf_counter() - t0
    info["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process only
    out.write_text(json.dumps(info))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 GPUs for 1 day")
    parser.add_argument("--gpus", type=int, default=None, help="GPUs in the fleet (default 100; quick 8)")
    parser.add_argument("--days", type=float, default=None, help="days (default 7; quick 1)")
    parser.add_argument("--interval", type=int, default=15, help="scrape interval, s")
    parser.add_argument("--measure", choices=["raw", "1h", "5m"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    gpus = args.gpus or (8 if args.quick else 100)
    days = args.days or (1.0 if args.quick else 7.0)
    if args.measure:
        measure(args.measure, args.url, days, args.interval, Path(args.out))
        return 0
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        print("prometheus/promtool not installed: apt-get install -y prometheus (.ci/run does)")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-prom-") as tmp:
        work = Path(tmp)
        source, data = work / "fleet.om.txt", work / "data"
        t0 = time.perf_counter()
        samples = write_openmetrics(source, gpus, days, args.interval)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        cmd = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h"]
        subprocess.run([*cmd, str(source), str(data)], check=True, capture_output=True)
        t_backfill = time.perf_counter() - t0
        source.unlink()
        proc, url = start_server(data, work)
        try:
            rows = []
            for mode in ("raw", "1h", "5m"):
                result = work / f"{mode}.json"
                me = [sys.executable, __file__, "--measure", mode, "--url", url, "--out", str(result)]
                me += ["--gpus", str(gpus), "--days", str(days), "--interval", str(args.interval)]
                timing = run_timed(me, repeat=1 if not args.quick else 2)
                # the child's own peak RSS (run_timed's counts every child so far, promtool included)
                rows.append({"path": mode, **timing, **json.loads(result.read_text())})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    raw = rows[0]
    scale = TARGET_GPUS / gpus
    table = []
    for r in rows:
        name = "raw samples (baseline)" if r["path"] == "raw" else f"opskit, aggregated at step {r['path']}"
        table.append(
            {
                "path": name,
                "read_s": r["read_s"],
                "process_s": r["median_s"],
                "peak_mib": r["peak_mib"],
                "requests": r["requests"],
                "points": r["points"],
                "points/s": r["points"] / r["read_s"],
                "x fewer points": raw["points"] / r["points"],
                "x faster": raw["read_s"] / r["read_s"],
                f"points @{TARGET_GPUS} GPUs": r["points"] * scale,
                f"read_s @{TARGET_GPUS} GPUs (est.)": r["read_s"] * scale,
            }
        )
    print(f"fleet: {gpus} GPUs x {days:g} days at {args.interval} s = {samples:,} samples of {METRIC}")
    print(f"set-up: OpenMetrics written in {t_write:.1f} s, promtool backfill {t_backfill:.1f} s")
    print_table(table, list(table[0]))
    hourly = table[1]
    if gpus != TARGET_GPUS:
        print(
            f"extrapolated to {TARGET_GPUS} GPUs (x{scale:g}, linear in series): hourly path "
            f"~{hourly[f'points @{TARGET_GPUS} GPUs']:,.0f} points vs {raw['points'] * scale:,.0f} raw"
        )
    print(
        f"hourly aggregation transfers {hourly['x fewer points']:.0f}x fewer points than raw samples "
        f"({'met' if hourly['x fewer points'] >= 100 else 'MISSED'}: expected 120x at 15 s scrapes, "
        "240 samples per GPU-hour against 2 points, mean and count)"
    )
    write_results(
        "prometheus",
        {
            "gpus": gpus,
            "days": days,
            "interval_s": args.interval,
            "samples": samples,
            "write_s": t_write,
            "backfill_s": t_backfill,
            "extrapolated_to_gpus": TARGET_GPUS,
            "rows": table,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
