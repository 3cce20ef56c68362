"""``opskit dashboards export``: Grafana dashboard JSON drawn with opskit's thresholds."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("dashboards", help="Grafana dashboards with opskit's thresholds")
    sub = p.add_subparsers(dest="dashboards_command", required=True)
    e = sub.add_parser("export", help="write the GPU, latency and model dashboards as JSON")
    e.add_argument("--out", default=".", help="folder for the dashboard files (default: .)")
    e.add_argument("--settings", default=None, help="the same YAML overrides as 'opskit alerts export'")
    e.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from opskit.monitoring.dashboards import write_dashboards
    from opskit.monitoring.rules import load_settings

    paths = write_dashboards(args.out, load_settings(args.settings))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
