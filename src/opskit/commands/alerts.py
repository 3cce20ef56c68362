"""``opskit alerts export``: Prometheus alerting and recording rules from opskit's thresholds."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("alerts", help="Prometheus alert rules from opskit's thresholds")
    sub = p.add_subparsers(dest="alerts_command", required=True)
    e = sub.add_parser("export", help="write opskit-rules.yml (check it with: promtool check rules FILE)")
    e.add_argument("--out", default=".", help="folder to write opskit-rules.yml into (default: .)")
    e.add_argument("--settings", default=None, help="YAML file overriding thresholds (hot_pct: 90, hot_for: 10m, ...)")
    e.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from opskit.monitoring.rules import alert_names, build_rules, load_settings, write_rules

    settings = load_settings(args.settings)
    path = write_rules(args.out, settings)
    print(f"wrote {len(alert_names(build_rules(settings)))} alerts to {path}")
    return 0
