"""Latency analysis of 10 million requests: opskit's full analysis against a plain pandas groupby-quantile.

The requests are the ``requests_week`` sample scaled up (same week, same faults, more traffic),
written once to Parquet under ``bench/results/`` and reused. Each measurement runs in its own
process, which reads the Parquet file and then times one call:

- opskit: ``analyze_latency(frame)`` with the default engine (DuckDB when installed): quantiles per
  5-minute bucket, endpoint and version, burn rates, breaches, load spikes, change points, causes;
- opskit, pandas engine: the same analysis without DuckDB (the fallback);
- baseline: ``frame.groupby(pd.Grouper(key="timestamp", freq="5min"))["latency_ms"].quantile([.5, .95, .99])``,
  the one pandas call most people would write first (p50/p95/p99 per bucket, nothing else).

Peak memory (``peak_mib``) is the child's peak resident set during the call, loaded frame and Python
included (the peak is reset after loading, through ``/proc/self/clear_refs``); ``analysis_mib`` is
what the call added on top of the loaded frame; ``load_peak_mib`` is the peak of reading the
Parquet file, shown apart (the reader's cost, not the analysis'). Targets (issue 5): under 20 s and
under 2 GB peak on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, print_table, write_results

TARGET_S = 20.0
TARGET_MIB = 2048.0
SAMPLE_ROWS = 309_108  # rows of requests_week at scale 1


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, from /proc (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) so that the peak of the call alone is measured (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child(kind: str, path: str) -> int:
    """Run one measurement and print a JSON line: seconds, peak MiB, MiB after loading the frame."""
    import pandas as pd
    import pyarrow as pa

    frame = pd.read_parquet(path)
    pa.default_memory_pool().release_unused()
    load_peak = _rss_mib()
    loaded = _status_mib("VmRSS")
    reset = _reset_peak()
    t0 = time.perf_counter()
    if kind == "baseline":
        out = frame.groupby(pd.Grouper(key="timestamp", freq="5min"))["latency_ms"].quantile([0.5, 0.95, 0.99])
        check = {"buckets": int(out.index.get_level_values(0).nunique())}
    else:
        from opskit.analyses.latency.analysis import analyze_latency

        result = analyze_latency(frame, engine="duckdb" if kind == "opskit" else "pandas")
        check = {
            "buckets": len(result.by_bucket),
            "slow_version": ",".join(result.by_version.loc[result.by_version["slow_version"], "model_version"]),
            "spikes": len(result.spikes),
            "engine": result.engine,
        }
    seconds = time.perf_counter() - t0
    peak = _status_mib("VmHWM") if reset else _rss_mib()
    record = {"seconds": seconds, "peak_mib": peak, "loaded_mib": loaded, "load_peak_mib": load_peak}
    print(json.dumps({**record, "rows": len(frame), "peak_is_call_only": reset, **check}))
    return 0


def make_data(rows: int) -> Path:
    """The scaled sample week as Parquet, generated once per size (seeded: same bytes each time)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"latency_requests_{rows}.parquet"
    if not path.exists():
        from opskit.samples.latency import generate_requests

        t0 = time.perf_counter()
        frame = generate_requests(scale=rows / SAMPLE_ROWS)
        tmp = path.with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        tmp.rename(path)
        print(f"generated {len(frame):,} requests in {time.perf_counter() - t0:.1f} s -> {path}", flush=True)
    return path


def measure(kind: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300,000 requests instead of 10 million")
    parser.add_argument("--rows", type=int, default=None, help="number of requests (default 10,000,000)")
    parser.add_argument("--no-pandas-engine", action="store_true", help="skip the analysis without DuckDB")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    rows = args.rows or (SAMPLE_ROWS if args.quick else 10_000_000)
    path = make_data(rows)
    kinds = ["baseline", "opskit"] + ([] if args.no_pandas_engine else ["opskit-pandas"])
    results = {kind: measure(kind, path) for kind in kinds}
    base = results["baseline"]["seconds"]
    table = []
    for kind, r in results.items():
        table.append(
            {
                "run": kind,
                "rows": f"{r['rows']:,}",
                "time_s": r["seconds"],
                "Mrows/s": r["rows"] / r["seconds"] / 1e6,
                "load_peak_mib": r["load_peak_mib"],
                "peak_mib": r["peak_mib"],
                "analysis_mib": r["peak_mib"] - r["loaded_mib"],
                "x_baseline_time": r["seconds"] / base,
                "time/target": r["seconds"] / TARGET_S if kind != "baseline" else None,
                "peak/target": r["peak_mib"] / TARGET_MIB if kind != "baseline" else None,
            }
        )
    columns = ["run", "rows", "time_s", "Mrows/s", "load_peak_mib", "peak_mib", "analysis_mib", "x_baseline_time"]
    print_table(table, [*columns, "time/target", "peak/target"])
    opskit = results["opskit"]
    size = "" if opskit["rows"] >= 10_000_000 else " (the targets are for 10 million: run without --quick)"
    print(
        f"\nopskit full analysis: {opskit['seconds']:.1f} s for {opskit['rows']:,} requests, target {TARGET_S:g} s; "
        f"peak {opskit['peak_mib']:.0f} MiB, target {TARGET_MIB:.0f} MiB{size}; "
        f"slow version found: {opskit['slow_version'] or 'none'}, load spikes: {opskit['spikes']}"
    )
    write_results(
        "latency",
        {"rows": rows, "target_s": TARGET_S, "target_mib": TARGET_MIB, "results": results, "table": table},
    )
    ok = opskit["slow_version"] and opskit["spikes"] >= 1
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
