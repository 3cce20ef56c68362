"""``opskit metrics publish REPORT_DIR``: a run's summary as Prometheus metrics (textfile or Pushgateway)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("metrics", help="publish a run's results as Prometheus metrics")
    sub = p.add_subparsers(dest="metrics_command", required=True)
    pub = sub.add_parser("publish", help="write a report's summary.json as metrics")
    pub.add_argument("report", help="a report folder written by opskit run (or its summary.json)")
    pub.add_argument("--textfile", default=None, help="node-exporter textfile-collector file or folder (atomic write)")
    pub.add_argument("--pushgateway", default=None, help="Pushgateway URL, e.g. http://127.0.0.1:9091")
    pub.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    from opskit.monitoring.metrics import publish_summary_metrics, read_summary

    where = publish_summary_metrics(read_summary(args.report), textfile=args.textfile, pushgateway=args.pushgateway)
    print("published to " + ", ".join(where))
    return 0
