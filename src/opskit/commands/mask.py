"""``opskit mask FILE|- [--out FILE] [--kinds ...] [--operator mask|redact|hash]``: mask PII and secrets.

Streams logs, CSV or JSON lines through the one masking policy in bounded memory; bytes that are
not UTF-8 pass through unchanged. Exit 0; a summary line (counts per kind) on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from opskit.errors import InputError
from opskit.privacy import KINDS, OPERATORS, MaskingPolicy, counting
from opskit.privacy.stream import mask_lines


def register(subparsers) -> None:
    p = subparsers.add_parser("mask", help="mask PII and secrets in a log, CSV or JSON-lines file (streaming)")
    p.add_argument("path", help="file to mask, or - for stdin")
    p.add_argument("--out", help="write here (default: stdout)")
    p.add_argument(
        "--kinds", nargs="+", choices=KINDS, metavar="KIND", help=f"kinds to mask (default all: {', '.join(KINDS)})"
    )
    p.add_argument("--operator", default="mask", choices=OPERATORS, help="mask (keep a shape), redact or hash (salted)")
    p.add_argument("--keep-ip", action="store_true", help="leave IPv4/IPv6 addresses in clear")
    p.set_defaults(func=run)


def _open_in(path: str):
    if path == "-":
        return open(sys.stdin.fileno(), encoding="utf-8", errors="surrogateescape", newline="", closefd=False)
    source = Path(path)
    if not source.is_file():
        raise InputError(f"no such file: {path}", path=str(source), hint="give a file path or - for stdin")
    return source.open(encoding="utf-8", errors="surrogateescape", newline="")


def _open_out(path: str | None):
    if path:
        return open(path, "w", encoding="utf-8", errors="surrogateescape", newline="")
    return open(sys.stdout.fileno(), "w", encoding="utf-8", errors="surrogateescape", newline="", closefd=False)


def run(args: argparse.Namespace) -> int:
    policy = MaskingPolicy(kinds=frozenset(args.kinds or KINDS), operator=args.operator, network=not args.keep_ip)
    started = time.perf_counter()
    n_chars = 0
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(_open_in(args.path))
        out = stack.enter_context(_open_out(args.out))
        counts = stack.enter_context(counting())
        for block in mask_lines(src, policy=policy):
            n_chars += len(block)
            out.write(block)
    found = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing found"
    seconds = time.perf_counter() - started
    print(f"masked: {found} ({n_chars} chars in {seconds:.2f} s, operator {args.operator})", file=sys.stderr)
    return 0
