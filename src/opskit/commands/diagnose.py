"""``opskit diagnose PATH...``: the ranked faults in a failed job's logs, root cause first.

Exit codes: 1 when a fault was found, 0 when none, 2 when the input could not be read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from opskit.errors import InputError

if TYPE_CHECKING:
    from opskit.analyses.faults.findings import ScanResult

MAX_SHOWN = 20


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "diagnose",
        help="find the root cause in a failed job's logs (ranked fault findings)",
        description=(
            "Scan log files, folders of per-rank logs, .gz files or - (stdin) for known fault signatures "
            "(CUDA/host OOM, NCCL timeouts and errors, driver mismatch, corrupt checkpoints, NaN loss, Xid, "
            "disk full, preemption...) and print the findings ranked root cause first. "
            "Exit 1 when a fault was found, 0 when none, 2 when the input could not be read."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="log file, folder of logs, .gz, or - for stdin")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the findings as a JSON list, root cause first (the whole scan summary, never an empty "
        "list, when no finding was made in logs not read in full or with no lines)",
    )
    p.add_argument("--keep", metavar="DIR", help="copy the logs read into this incident folder with SHA-256 sums")
    p.add_argument(
        "--engine", choices=["auto", "hyperscan", "re"], default="auto", help="pattern engine (default: auto)"
    )
    p.add_argument("--catalogue", metavar="YAML", help="a fault catalogue to use instead of the bundled one")
    p.add_argument("--all", action="store_true", help=f"show every finding (default: the first {MAX_SHOWN})")
    p.set_defaults(func=_diagnose)


def _stdin_to(folder: Path) -> Path:
    target = folder / "logs" / "stdin.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return target


def _diagnose(args: argparse.Namespace) -> int:
    from opskit.analyses.faults.scan import scan
    from opskit.sources.logs import discover, preserve_evidence

    paths = list(args.paths)
    if args.keep and "-" in paths:
        keep = Path(args.keep).expanduser()
        if (keep / "manifest.json").exists():
            raise InputError("this incident folder already holds evidence", path=keep, hint="choose a new folder")
        saved = _stdin_to(keep)
        paths = [str(saved) if p == "-" else p for p in paths]
    engine = None if args.engine == "auto" else args.engine
    result = scan(paths, catalogue=args.catalogue, engine=engine)
    for s in result.skipped:
        print(f"warning: skipped {s.name}: {s.reason}", file=sys.stderr)
    manifest = None
    if args.keep:
        sources, _ = discover(paths)
        manifest = preserve_evidence(
            sources,
            args.keep,
            extra={
                "command": "opskit diagnose " + " ".join(args.paths),
                "root_cause": result.root_cause.to_dict() if result.root_cause else None,
                "ranking_reason": result.ranking_reason,
                "findings": [f.to_dict() for f in result.findings],
            },
        )
    unjudged = not result.findings and (result.skipped or result.lines_read == 0)
    if args.json and unjudged:  # never an empty list (read as "healthy") for logs not read in full
        print(json.dumps(result.to_dict(), indent=1, default=str))
    elif args.json:
        print(json.dumps([f.to_dict() for f in result.findings], indent=1))
    else:
        _print_text(result, show_all=args.all)
    if manifest is not None:
        print(
            f"evidence kept: {manifest.parent} ({len(result.sources)} files, SHA256SUMS, manifest.json)",
            file=sys.stderr,
        )
    return 1 if result.findings or unjudged else 0


def _print_text(result: ScanResult, *, show_all: bool) -> None:
    width = shutil.get_terminal_size((120, 20)).columns
    rc = result.root_cause
    scanned = (
        f"scanned {result.files_read} file(s), {result.lines_read:,} lines, "
        f"{result.bytes_read / 2**20:,.1f} MiB ({result.engine})"
    )
    if rc is None and result.lines_read == 0:
        print(f"nothing to judge: no lines read; {scanned}")
        return
    if rc is None:
        gaps = f"; {len(result.skipped)} file(s) not read in full (see the warnings)" if result.skipped else ""
        print(f"no known fault found{' in what was read' if gaps else ''}; {scanned}{gaps}")
        return
    print(f"root cause: {rc.fault} ({rc.title}) at {rc.where}")
    if rc.timestamp is not None:
        print(f"  time:      {rc.timestamp:%Y-%m-%d %H:%M:%S} UTC")
    print(f"  evidence:  {textwrap.shorten(rc.text, width=max(60, width - 13), placeholder=' ...')}")
    print(textwrap.fill(rc.meaning, width=width, initial_indent="  meaning:   ", subsequent_indent=" " * 13))
    print(textwrap.fill(rc.next_step, width=width, initial_indent="  next step: ", subsequent_indent=" " * 13))
    oom = rc.details.get("oom")
    if oom:
        print(f"  oom:       {oom['classification']}: {oom['suggestion']}")
    if rc.details.get("hint"):
        print(
            textwrap.fill(rc.details["hint"], width=width, initial_indent="  hint:      ", subsequent_indent=" " * 13)
        )
    if rc.runbook:
        print(f"  runbook:   opskit run {rc.runbook}")
    print(textwrap.fill(result.ranking_reason, width=width, initial_indent="why first: ", subsequent_indent=" " * 11))
    shown = result.findings if show_all else result.findings[:MAX_SHOWN]
    print(f"\nfindings ({len(result.findings)}, ranked):")
    for i, f in enumerate(shown, start=1):
        when = f"{f.timestamp:%m-%d %H:%M:%S}" if f.timestamp is not None else "-"
        rank = f"rank {f.rank}" if f.rank is not None else "-"
        head = f"{i:>3}. {f.fault:<22} {rank:<8} {when:<14} {f.file}:{f.line}  "
        print(head + textwrap.shorten(f.text, width=max(20, width - len(head)), placeholder=" ..."))
    if len(shown) < len(result.findings):
        print(f"  ... {len(result.findings) - len(shown)} more (--all or --json)")
    capped = {k: n for k, n in result.counts.items() if n > sum(1 for f in result.findings if f.fault == k)}
    if capped:
        print("  lines matched in all: " + ", ".join(f"{k} {n:,}" for k, n in capped.items()))
    print(scanned)
