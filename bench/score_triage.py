"""Score the triage on the real-log corpus: top-1 class, evidence line, false alarms on healthy windows.

Run: ``.venv/bin/python bench/score_triage.py [--batch N] [FOLDER ...]`` (default: tests/fixtures/real/failure_logs
and tests/fixtures/real/healthy_logs). Each folder holds an ``expected.yaml`` naming every file's class
(``none`` for a healthy window) and the 1-based line of its evidence. Prints the misses and the scores.

``--batch N`` scores only the entries marked ``batch: N`` (entries without a mark are batch 1). Files added
in a later batch estimate the score on logs the rules were not written from, when scored with the rules as
they were before: ``git archive <commit> src | tar -x -C /tmp/old`` and run this script with
``PYTHONPATH=/tmp/old/src``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from opskit.analyses.faults.scan import scan

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT / "tests/fixtures/real/failure_logs", ROOT / "tests/fixtures/real/healthy_logs"]


def judge(folder: Path, batch: int | None = None) -> list[dict]:
    """One row per file of ``folder``'s index (of one batch, or all): expected and found class and line."""
    rows = []
    for entry in yaml.safe_load((folder / "expected.yaml").read_text())["files"]:
        if batch is not None and entry.get("batch", 1) != batch:
            continue
        found = scan(folder / entry["file"]).root_cause
        rows.append(
            {
                "file": entry["file"],
                "expected": entry["class"],
                "line": entry.get("line"),
                "found": found.fault if found else "none",
                "found_line": found.line if found else None,
            }
        )
    return rows


def main(argv: list[str]) -> int:
    batch = None
    if argv[:1] == ["--batch"]:
        if len(argv) < 2 or not argv[1].isdigit():
            print("usage: score_triage.py [--batch N] [FOLDER ...]", file=sys.stderr)
            return 2
        batch, argv = int(argv[1]), argv[2:]
    rows = [r for folder in (map(Path, argv) if argv else DEFAULT) for r in judge(folder, batch)]
    faults = [r for r in rows if r["expected"] != "none"]
    healthy = [r for r in rows if r["expected"] == "none"]
    top1 = sum(r["found"] == r["expected"] for r in faults)
    lines = sum(r["found"] == r["expected"] and r["found_line"] == r["line"] for r in faults)
    alarms = [r for r in healthy if r["found"] != "none"]
    for r in rows:
        if r["found"] != r["expected"] or (r["line"] and r["found_line"] != r["line"]):
            print(f"miss {r['file']}: expected {r['expected']}:{r['line']}, found {r['found']}:{r['found_line']}")
    n = max(len(faults), 1)
    print(f"failure logs: {len(faults)}, healthy windows: {len(healthy)}")
    print(f"top-1 class: {100 * top1 / n:.1f} %  evidence line: {100 * lines / n:.1f} %  false alarms: {len(alarms)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
