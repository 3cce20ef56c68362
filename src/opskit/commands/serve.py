"""``opskit serve --config opskit-serve.yaml``: the alert receiver and read-only report server."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("serve", help="receive Alertmanager webhooks, run the mapped runbook, serve reports")
    p.add_argument("--config", required=True, help="opskit-serve.yaml (token, routes, chat webhooks)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    p.add_argument("--check", action="store_true", help="only check the config and routing, then exit")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from opskit.monitoring.serve import load_config, serve

    if args.check:
        cfg = load_config(args.config)
        print(f"config ok: {len(cfg.routing.routes)} routes, {len(cfg.chats)} chat webhooks")
        return 0
    serve(args.config, host=args.host, port=args.port)
    return 0
