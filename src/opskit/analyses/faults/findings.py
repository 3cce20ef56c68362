"""What a log scan found: one :class:`Finding` per fault line, per-source statistics, the ranked :class:`ScanResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from opskit.analyses.faults.distributed import NcclWatchdog
from opskit.sources.logs import Skipped

MAX_TEXT_CHARS = 2000
MAX_FINDINGS_PER_FILE = 20


@dataclass(frozen=True)
class Finding:
    """One fault found in a log line: the class, where, the (masked) evidence and what to do."""

    fault: str
    file: str
    line: int
    text: str
    next_step: str
    meaning: str
    rank: int | None
    timestamp: pd.Timestamp | None
    severity: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    tier: int = 5
    runbook: str | None = None
    title: str = ""

    @property
    def where(self) -> str:
        """``file:line`` with the rank when known."""
        rank = f" (rank {self.rank})" if self.rank is not None else ""
        return f"{self.file}:{self.line}{rank}"

    def to_dict(self) -> dict[str, Any]:
        from opskit.checks import to_jsonable

        return {
            "fault": self.fault,
            "file": self.file,
            "line": self.line,
            "text": self.text,
            "next_step": self.next_step,
            "meaning": self.meaning,
            "rank": self.rank,
            "timestamp": self.timestamp.isoformat() if self.timestamp is not None else None,
            "severity": self.severity,
            "title": self.title,
            "runbook": self.runbook,
            "details": to_jsonable(self.details),
        }


@dataclass(frozen=True)
class SourceStats:
    """What was read from one log."""

    name: str
    rank: int | None
    lines: int
    bytes: int
    findings: int


@dataclass(frozen=True)
class ScanResult:
    """Ranked findings (root cause first), why that order, and what was read."""

    findings: list[Finding]
    root_cause: Finding | None
    ranking_reason: str
    files_read: int
    lines_read: int
    bytes_read: int
    counts: dict[str, int] = field(default_factory=dict)
    sources: list[SourceStats] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    engine: str = ""
    catalogue_version: str = ""
    watchdog: NcclWatchdog | None = None

    @property
    def faults(self) -> list[str]:
        """Fault classes found, in ranked order, each once."""
        return list(dict.fromkeys(f.fault for f in self.findings))

    def to_frame(self) -> pd.DataFrame:
        """One row per finding, ranked: fault, file, line, rank, timestamp, severity, text, next_step, meaning."""
        columns = ["fault", "file", "line", "rank", "timestamp", "severity", "text", "next_step", "meaning"]
        rows = [{c: getattr(f, c) for c in columns} for f in self.findings]
        frame = pd.DataFrame(rows, columns=columns)
        frame["rank"] = frame["rank"].astype("Int64")
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "root_cause": self.root_cause.to_dict() if self.root_cause else None,
            "ranking_reason": self.ranking_reason,
            "files_read": self.files_read,
            "lines_read": self.lines_read,
            "bytes_read": self.bytes_read,
            "counts": dict(self.counts),
            "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            "engine": self.engine,
            "watchdog": self.watchdog.to_dict() if self.watchdog else None,
        }
