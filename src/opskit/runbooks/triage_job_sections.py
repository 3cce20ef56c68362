"""What the triage runbook shows of a log scan: the findings table, the evidence excerpts, the root cause's
details, the runbook to open next. Text for a report; the masking is done here or by the display helpers."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.analyses.faults.findings import MAX_TEXT_CHARS, Finding, ScanResult
from opskit.privacy import mask
from opskit.runbooks.tables import number
from opskit.sources.logs import discover, read_excerpt

FINDING_COLUMNS = ["fault", "rank", "timestamp", "file", "line", "text"]
_HIDDEN_DETAILS = ("offset", "timestamp_from")  # bookkeeping of the scan, not evidence


def next_runbook(result: ScanResult | None) -> str | None:
    """The runbook to open after triage: the root cause's, from the catalogue."""
    if result is None or result.root_cause is None:
        return None
    return result.root_cause.runbook


def scan_headline(result: ScanResult | None) -> str:
    """One Markdown sentence on the scan: why it failed, that it found nothing, or why the findings rank so."""
    if result is None:
        return "The logs could not be scanned: see the ERROR row of the verdict table."
    if not result.findings:
        return f"No known fault signature in {result.files_read} file(s), {result.lines_read:,} lines."
    return f"**Why this order:** {mask(result.ranking_reason)}"


def findings_table(result: ScanResult | None, n: int = 30) -> pd.DataFrame:
    """The first ``n`` findings, root cause first: fault, rank, time, file, line, text (not yet masked)."""
    if result is None or not result.findings:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return result.to_frame()[FINDING_COLUMNS].head(n)


# ---------------------------------------------------------------- evidence around each finding
def excerpt(finding: Finding, *, before: int = 2, after: int = 2) -> str:
    """The masked lines around a finding, numbered, the finding's line marked with ``>``; only that line
    when its file cannot be read again (standard input, a file moved since the scan)."""
    alone = f"> {finding.line:>7} | {finding.text}"
    offset = finding.details.get("offset")
    path = Path(finding.file)
    if offset is None or not path.is_file():
        return alone
    try:
        found, _ = discover(path)
        lines = read_excerpt(found[0], offset, before=before, after=after) if found else []
    except OSError:
        return alone
    if not lines:
        return alone
    return "\n".join(f"{'>' if i == 0 else ' '} {finding.line + i:>7} | {mask(t[:MAX_TEXT_CHARS])}" for i, t in lines)


def evidence_text(result: ScanResult | None, *, max_findings: int = 8, context: int = 2) -> str:
    """The masked lines around each finding, one block per fault, rank and file, at most ``max_findings``."""
    if result is None:
        return ""
    blocks: list[str] = []
    shown: set[tuple[str, int | None, str]] = set()
    for f in result.findings:
        if (f.fault, f.rank, f.file) in shown or len(shown) >= max_findings:
            continue
        shown.add((f.fault, f.rank, f.file))
        rank = f" rank {f.rank}" if f.rank is not None else ""
        blocks.append(f"== {f.fault}{rank} — {mask(f.file)}:{f.line}\n{excerpt(f, before=context, after=context)}")
    return "\n\n".join(blocks)


def code_block(text: str) -> str:
    """``text`` as a fenced Markdown code block, the fence longer than any run of backticks inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


# ---------------------------------------------------------------- the root cause's details
def _value(value: Any) -> str:
    """One detail value as Markdown: numbers as numbers, lists joined, text as inline code."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)  # ids, ranks, pids, lines: no separators
    if isinstance(value, float):
        return number(value)  # the report's one number style: 8,192 MiB, not 8,192.0
    if isinstance(value, list | tuple | set):
        return ", ".join(_value(v) for v in value) or "none"
    return "`" + str(value).replace("`", "'") + "`"


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | set | Mapping) and not value)


def detail_lines(key: str, value: Any, depth: int = 0) -> list[str]:
    """A detail as nested Markdown bullets: a mapping one bullet per key, a list of mappings one per item;
    empty values inside a mapping are left out."""
    pad = "  " * depth
    if isinstance(value, Mapping):
        items = [(k, v) for k, v in value.items() if not _empty(v)]
        if not items:
            return [f"{pad}- {key}: none"]
        return [f"{pad}- {key}:", *(line for k, v in items for line in detail_lines(str(k), v, depth + 1))]
    if isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        rows = [
            ", ".join(f"{k} {_value(x)}" for k, x in v.items() if not _empty(x))
            if isinstance(v, Mapping)
            else _value(v)
            for v in value
        ]
        return [f"{pad}- {key}:", *(f"{pad}  - {row}" for row in rows)]
    return [f"{pad}- {key}: {'none' if _empty(value) else _value(value)}"]


def _ranks(ranks: tuple[int, ...]) -> str:
    return ", ".join(str(r) for r in ranks) or "none"


def root_cause_details(result: ScanResult | None) -> str:
    """Markdown on the root cause: what it means, its structured figures (masked), and the NCCL watchdog."""
    rc = result.root_cause if result is not None else None
    if rc is None:
        return "No root cause to detail."
    lines = [f"**{rc.fault}** ({rc.title}) at `{mask(rc.where)}`: {rc.meaning}", ""]
    details = {k: v for k, v in rc.details.items() if k not in _HIDDEN_DETAILS}
    lines += [mask(line) or "" for k, v in details.items() for line in detail_lines(k, v)]
    if not details:
        lines.append("No structured figures in this message.")
    wd = result.watchdog
    if wd is not None:
        lines += [
            "",
            f"**NCCL watchdog**: collective SeqNum {wd.seq_num} ({wd.op_type}, timeout {wd.timeout_ms} ms) timed out "
            f"on ranks {_ranks(wd.timed_out_ranks)}; ranks that never reported: {_ranks(wd.missing_ranks)}; "
            f"ranks behind the others: {_ranks(wd.lagging_ranks)}.",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------- what next
def next_step_text(result: ScanResult | None, log_path: str | os.PathLike[str]) -> str:
    """Markdown: the runbook to open next with the same logs, or where to look when the logs say nothing."""
    nxt = next_runbook(result)
    if nxt:
        return f"Open **`runbooks/{nxt}.ipynb`**, or run `opskit run {nxt} -p log_path {mask(os.fspath(log_path))}`."
    return (
        "No fault found in the logs: check the scheduler's view (`sacct`, `kubectl describe pod`) "
        "and the node's `dmesg`."
    )


def kept_text(manifest: Path) -> str:
    """Markdown: where the evidence was kept."""
    return f"Logs and findings copied: evidence kept in `{manifest.parent}` (`SHA256SUMS`, `manifest.json`)."
