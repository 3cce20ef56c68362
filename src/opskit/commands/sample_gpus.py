"""``opskit sample-gpus``: record NVML readings of this node's GPUs to Parquet or CSV."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sample-gpus",
        help="record this node's GPU readings (NVML) to Parquet/CSV",
        description=(
            "Read every GPU of this node through NVML (nvidia-ml-py) each --interval seconds and write the "
            "GPU-samples table to --out, with the processes using each GPU and their memory beside it "
            "(OUT.processes.parquet). Stops after --count rounds, --duration seconds, or Ctrl-C."
        ),
    )
    p.add_argument("--interval", type=float, default=15.0, help="seconds between readings (default 15)")
    p.add_argument("--out", required=True, help="output file, .parquet or .csv")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--count", type=int, default=None, help="stop after this many rounds")
    p.add_argument("--host", default=None, help="host name to record (default: this machine's)")
    p.add_argument("--quiet", action="store_true", help="print only the final line")
    p.set_defaults(func=_sample_gpus)


def _sample_gpus(args: argparse.Namespace) -> int:
    from opskit.sources.nvml import record

    def progress(rounds: int, gpus: int) -> None:
        if not args.quiet:
            print(f"round {rounds}: {gpus} GPUs read", file=sys.stderr, flush=True)

    result = record(
        args.out,
        interval_s=args.interval,
        count=args.count,
        duration_s=args.duration,
        host=args.host,
        on_round=progress,
    )
    stopped = " (stopped by Ctrl-C)" if result.interrupted else ""
    print(
        f"recorded {result.readings} readings of {result.gpus} GPUs in {result.rounds} rounds to {result.path}"
        f"{stopped}; processes: {result.process_rows} rows in {result.processes_path}"
    )
    return 0
