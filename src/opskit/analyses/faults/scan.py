"""Find the faults in a failed job's logs and rank them so the root cause comes first.

The fault classes, their patterns, meaning and next step live in ``data/fault_signatures.yaml``
(:func:`load_catalogue`). :func:`scan` streams any number of logs (files, directories of
per-rank logs, gzip, stdin) through all patterns at once, with Hyperscan when it is installed
and Python's ``re`` otherwise (same findings either way), and returns a :class:`ScanResult`
whose findings are ranked: causes before their consequences (system first, then model), then
the first failure in time across ranks.

    >>> result = scan("logs/")                       # doctest: +SKIP
    >>> result.root_cause.fault, result.ranking_reason  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from opskit.analyses.faults.details import (
    CudaOom,
    NcclWatchdog,
    ProcessFailure,
    TorchrunFailure,
    XidInfo,
    decode_xid,
    parse_cuda_oom,
    parse_nccl_watchdog,
    parse_timestamp,
    parse_torchrun_failure,
    parse_xid_line,
)
from opskit.analyses.faults.engines import (
    HyperscanEngine,
    ReEngine,
    hyperscan_available,
    required_literal,
)
from opskit.bundled import FAULT_SIGNATURES, bundled_path
from opskit.errors import InputError
from opskit.privacy import mask
from opskit.sources.logs import (
    BLOCK_BYTES,
    LogSource,
    Skipped,
    decode_line,
    discover,
    iter_regions,
    rank_from_line,
    read_excerpt,
)

__all__ = [
    "FAULT_CLASSES",
    "Catalogue",
    "CudaOom",
    "FaultClass",
    "Finding",
    "NcclWatchdog",
    "ProcessFailure",
    "ScanResult",
    "SourceStats",
    "TorchrunFailure",
    "XidInfo",
    "classify_line",
    "decode_xid",
    "excerpt",
    "load_catalogue",
    "parse_cuda_oom",
    "parse_nccl_watchdog",
    "parse_torchrun_failure",
    "rank_findings",
    "scan",
]

CATALOGUE_PATH = bundled_path(FAULT_SIGNATURES)
FAULT_CLASSES = (
    "cuda_oom",
    "host_oom",
    "nccl_timeout",
    "nccl_error",
    "cuda_version_mismatch",
    "corrupt_checkpoint",
    "state_dict_mismatch",
    "nan_loss",
    "cuda_illegal_access",
    "gpu_hardware",
    "data_error",
    "disk_full",
    "killed_preempted",
)
MAX_TEXT_CHARS = 2000
MAX_FINDINGS_PER_FILE = 20
_CONTEXT_LINES = 14

# ---------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class FaultClass:
    """One fault class of the catalogue."""

    name: str
    title: str
    severity: str
    tier: int
    meaning: str
    next_step: str
    runbook: str | None
    patterns: tuple[str, ...]
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """Fault classes in match order, the harmless patterns, and the compiled matchers."""

    classes: tuple[FaultClass, ...]
    harmless: tuple[str, ...]
    version: str = ""

    def __getitem__(self, name: str) -> FaultClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def all_patterns(self) -> list[str]:
        """Every fault pattern, in class order (what the scanner searches for)."""
        return [p for c in self.classes for p in c.patterns]


_Matcher = tuple[str, "re.Pattern[str]"]  # (required literal, lowercased; the pattern)


def _literal_matchers(patterns: Iterable[str]) -> list[_Matcher]:
    return [(required_literal(p).decode(), re.compile(p, re.IGNORECASE)) for p in patterns]


def _any(matchers: list[_Matcher], text: str, low: str) -> bool:
    return any((not lit or lit in low) and rx.search(text) for lit, rx in matchers)


def _matchers(catalogue: Catalogue) -> tuple[list[_Matcher], list[tuple[str, FaultClass, re.Pattern[str]]], dict]:
    """Compiled once per catalogue and kept on it: a cheap literal test guards each regex search."""
    compiled = catalogue.__dict__.get("_compiled")
    if compiled is None:
        faults = [(lit, c, rx) for c in catalogue.classes for lit, rx in _literal_matchers(c.patterns)]
        ignores = {c.name: _literal_matchers(c.ignore) for c in catalogue.classes if c.ignore}
        compiled = (_literal_matchers(catalogue.harmless), faults, ignores)
        object.__setattr__(catalogue, "_compiled", compiled)
    return compiled


def load_catalogue(path: str | os.PathLike[str] | None = None) -> Catalogue:
    """Read a catalogue YAML (the bundled one by default) and check every pattern compiles."""
    if path is None:
        return _default_catalogue()
    return _read_catalogue(Path(path))


@cache
def _default_catalogue() -> Catalogue:
    return _read_catalogue(CATALOGUE_PATH)


def _read_catalogue(path: Path) -> Catalogue:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the fault catalogue: {exc}", path=path) from exc
    classes = []
    for name, spec in (doc.get("classes") or {}).items():
        try:
            fc = FaultClass(
                name=name,
                title=spec.get("title", name),
                severity=spec.get("severity", "error"),
                tier=int(spec.get("tier", 5)),
                meaning=" ".join(str(spec["meaning"]).split()),
                next_step=" ".join(str(spec["next_step"]).split()),
                runbook=spec.get("runbook"),
                patterns=tuple(spec["patterns"]),
                ignore=tuple(spec.get("ignore") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"fault class {name!r} lacks {exc}", path=path, hint="see the comment at the top") from exc
        for pattern in (*fc.patterns, *fc.ignore):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InputError(f"bad pattern {pattern!r} in {name}: {exc}", path=path) from exc
        classes.append(fc)
    return Catalogue(tuple(classes), tuple(doc.get("harmless") or ()), str(doc.get("version", "")))


def classify_line(text: str, catalogue: Catalogue | None = None) -> FaultClass | None:
    """The fault class of one log line, or None (no pattern, or a harmless line).

    The first class in catalogue order with a matching pattern wins, unless the line is harmless
    or matches one of that class's ``ignore`` patterns.
    """
    cat = catalogue or _default_catalogue()
    harmless, faults, ignores = _matchers(cat)
    low = text.lower()
    skipped = set()
    for lit, fc, rx in faults:
        if fc.name in skipped or (lit and lit not in low) or not rx.search(text):
            continue
        if fc.name in ignores and _any(ignores[fc.name], text, low):
            skipped.add(fc.name)
            continue
        return None if _any(harmless, text, low) else fc
    return None


@cache
def _engine(catalogue: Catalogue, kind: str) -> ReEngine | HyperscanEngine:
    patterns = catalogue.all_patterns()
    if kind == "hyperscan":
        return HyperscanEngine(patterns)
    return ReEngine(patterns)


# ---------------------------------------------------------------- results


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


# ---------------------------------------------------------------- scanning


def _line_details(fc: FaultClass, text: str) -> dict[str, Any]:
    if fc.name == "cuda_oom":
        oom = parse_cuda_oom(text)
        return {"oom": oom.to_dict()} if oom.classification != "unknown" else {}
    if fc.name == "nccl_timeout":
        wd = parse_nccl_watchdog([text])
        if wd.seq_num is not None or wd.ranks:
            return {k: v for k, v in wd.to_dict().items() if v not in (None, (), {}, [])}
    if fc.name == "gpu_hardware":
        xid = parse_xid_line(text)
        if xid:
            return {"xid": decode_xid(xid[0]).to_dict(), "pci": xid[1]}
    return {}


class _FileScan:
    """Scan state of one source: findings (capped), line count, per-class totals."""

    def __init__(self, source: LogSource, catalogue: Catalogue, counts: Counter):
        self.source = source
        self.catalogue = catalogue
        self.counts = counts
        self.findings: list[tuple[Finding, bool, int]] = []  # finding, year stated, byte offset
        self.kept: Counter = Counter()

    def add(self, raw: bytes, line: int, offset: int) -> None:
        text = decode_line(raw[: MAX_TEXT_CHARS * 4].rstrip(b"\r"))
        fc = classify_line(text if len(raw) <= MAX_TEXT_CHARS * 4 else decode_line(raw), self.catalogue)
        if fc is None:
            return
        self.counts[fc.name] += 1
        if self.kept[fc.name] >= MAX_FINDINGS_PER_FILE:
            return
        self.kept[fc.name] += 1
        rank = rank_from_line(text)
        ts, stated = parse_timestamp(text)
        finding = Finding(
            fault=fc.name,
            file=self.source.name,
            line=line,
            text=mask(text[:MAX_TEXT_CHARS]) or "",
            next_step=fc.next_step,
            meaning=fc.meaning,
            rank=rank if rank is not None else self.source.rank,
            timestamp=ts,
            severity=fc.severity,
            details=_line_details(fc, text),
            tier=fc.tier,
            runbook=fc.runbook,
            title=fc.title,
        )
        self.findings.append((finding, stated or ts is None, offset))


def _count_newlines(data: bytes, start: int, end: int) -> int:
    """Line ends in ``data[start:end]``; numpy's vectorised compare beats ``bytes.count`` on big blocks."""
    if end - start < 1 << 16:
        return data.count(b"\n", start, end)
    return int(np.count_nonzero(np.frombuffer(data, np.uint8, end - start, start) == 10))


def _scan_source(
    source: LogSource, catalogue: Catalogue, engine, counts: Counter, block_bytes: int = BLOCK_BYTES
) -> tuple[_FileScan, int, int]:
    state = _FileScan(source, catalogue, counts)
    line_no = 1
    nbytes = 0
    ends_with_newline = True
    stream = source.open()
    try:
        for region in iter_regions(stream, block_bytes=block_bytes):
            data, start, end = region.data, region.start, region.end
            nbytes += end - start
            ends = engine.match_ends(data, start, end)
            if ends:
                pos, ln, last_start = start, line_no, -1
                for e in ends:
                    ls = max(data.rfind(b"\n", start, e) + 1, start)
                    if ls == last_start:
                        continue
                    ln += data.count(b"\n", pos, ls)
                    pos = ls
                    le = data.find(b"\n", e, end)
                    state.add(data[ls : end if le < 0 else le], ln, region.offset + ls)
                    last_start = ls
            if not region.continued:
                line_no += _count_newlines(data, start, end)
                ends_with_newline = data[end - 1 : end] == b"\n"
    finally:
        if source.path is not None:
            stream.close()
    lines = line_no - 1 + (0 if ends_with_newline else 1)
    return state, lines, nbytes


def _enrich(state: _FileScan, default_year: int, expected_ranks: set[int]) -> list[Finding]:
    """Add context that needs nearby lines: timestamps from the lines before, torchrun blocks."""
    out = []
    for finding, stated, offset in state.findings:
        f = replace(finding, details={**finding.details, "offset": offset})
        if f.timestamp is not None and not stated:
            ts, _ = parse_timestamp(f.text, default_year=default_year)
            f = replace(f, timestamp=ts)
        root_block = "Root Cause (first observed failure)" in f.text
        entry_line = _EXIT_FIELD.match(f.text) is not None
        if f.timestamp is None or root_block or entry_line:
            try:
                lines = read_excerpt(state.source, offset, before=_CONTEXT_LINES, after=_CONTEXT_LINES)
            except OSError:
                lines = []
            if root_block or entry_line:
                f = _torchrun_context(f, lines, root_block, default_year)
            if f.timestamp is None:
                for _, text in reversed([x for x in lines if x[0] <= 0]):
                    ts, _ = parse_timestamp(text, default_year=default_year)
                    if ts is not None:
                        f = replace(f, timestamp=ts, details={**f.details, "timestamp_from": "a line before"})
                        break
        if f.fault == "nccl_timeout" and expected_ranks and "ranks" in f.details:
            f = replace(f, details={**f.details, "expected_ranks": sorted(expected_ranks)})
        out.append(f)
    return out


_EXIT_FIELD = re.compile(r"^(?:\[\w+\]:)?\s*exitcode\s*:")


def _torchrun_context(f: Finding, lines: list[tuple[int, str]], root_block: bool, default_year: int) -> Finding:
    """Rank, time and the @record hint of a finding inside torchrun's failure report."""
    if root_block:
        block = parse_torchrun_failure([t for i, t in lines if i >= 0])
        entry = block.root_cause
        details = {**f.details, "torchrun": block.to_dict()}
        if block.record_hint:
            details["hint"] = block.record_hint
    else:  # an ``exitcode : -9`` line: its entry starts a few lines above
        start = max((i for i, t in lines if i <= 0 and re.match(r"^\s*\[\d+\]:\s*$", t)), default=None)
        if start is None:
            return f
        end = min((i for i, t in lines if i > 0 and not re.match(r"^\s+\w+\s*:", t)), default=len(lines))
        block = parse_torchrun_failure(["Failures:", *(t for i, t in lines if start <= i < end)])
        entry = block.failures[0] if block.failures else None
        details = {**f.details, "torchrun_entry": asdict(entry) if entry else None}
    if entry is None:
        return f
    ts = parse_timestamp(entry.time or "", default_year=default_year)[0]
    return replace(
        f,
        details=details,
        rank=entry.rank if entry.rank is not None else f.rank,
        timestamp=ts if ts is not None else f.timestamp,
    )


_MAX_TS = pd.Timestamp.max.tz_localize("UTC")


def _order_key(f: Finding, source_index: dict[str, int]) -> tuple:
    return (f.tier, f.timestamp if f.timestamp is not None else _MAX_TS, source_index.get(f.file, 0), f.line)


def rank_findings(findings: Iterable[Finding], source_order: Iterable[str] = ()) -> tuple[list[Finding], str]:
    """Order findings root cause first and say why in one sentence.

    Order: the catalogue's tier (hardware, then host resources and the software stack, then a
    rank-local failure such as an OOM, then kills, NCCL errors, NCCL timeouts, launcher reports),
    then time (the first failure across ranks), then file order and line.
    """
    index = {name: i for i, name in enumerate(source_order)}
    ranked = sorted(findings, key=lambda f: _order_key(f, index))
    return ranked, _reason(ranked)


_TIER_WHY = {
    1: "a GPU hardware fault breaks every job on that GPU, so it explains the failures that follow",
    2: "host resources and the software stack come first (system first, then model)",
    3: "a failure on one rank makes the other ranks wait for it",
    4: "a killed worker leaves the other ranks waiting on their collectives",
    5: "an NCCL error on one rank surfaces as timeouts on the others",
    6: "a timeout is a consequence, and no fault that could cause it was found",
    7: "only the launcher's report of a failed worker was found",
}


def _reason(ranked: list[Finding]) -> str:
    if not ranked:
        return "No known fault signature was found."
    first = ranked[0]
    when = f" at {first.timestamp:%Y-%m-%d %H:%M:%S}" if first.timestamp is not None else ""
    head = f"{first.fault} in {first.where}{when} is ranked first"
    later = [f for f in ranked[1:] if f.fault != first.fault or f.rank != first.rank]
    consequences = list(dict.fromkeys(f.fault for f in ranked if f.tier > first.tier))
    if consequences:
        why = _TIER_WHY.get(first.tier, "it ranks as a cause")
        return f"{head}: {why}; the later {', '.join(consequences)} findings are most likely its consequences."
    if later:
        n = len(ranked)
        return f"{head}: it is the first failure in time across ranks among {n} findings of the same kind of cause."
    return f"{head}: it is the only fault found."


def scan(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    catalogue: Catalogue | str | os.PathLike[str] | None = None,
    engine: str | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> ScanResult:
    """Scan logs for every fault class of the catalogue and rank the findings.

    ``paths``: a file, a directory (read recursively), a ``.gz`` file, ``-`` for stdin, or a list
    of them. ``engine``: ``"hyperscan"`` or ``"re"`` (default: Hyperscan when installed).
    ``block_bytes``: how much is read and searched at a time (memory is about twice this).
    A missing path raises :class:`InputError`; so does a set of inputs with nothing readable
    (every file binary or unreadable). Memory stays bounded whatever the logs' size.
    """
    cat = catalogue if isinstance(catalogue, Catalogue) else load_catalogue(catalogue)
    kind = engine or ("hyperscan" if hyperscan_available() else "re")
    if kind not in ("hyperscan", "re"):
        raise InputError(f"unknown scan engine {kind!r}", hint="use 'hyperscan' or 're'")
    eng = _engine(cat, kind)
    sources, skipped = discover(paths)
    if not sources:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in skipped[:5])
        raise InputError(
            f"no readable log among the inputs ({reasons})",
            path=skipped[0].name if skipped else None,
            hint="pass the job's text logs (plain or .gz)",
        )
    counts: Counter = Counter()
    states: list[tuple[_FileScan, int, int]] = []
    for source in sources:
        try:
            states.append(_scan_source(source, cat, eng, counts, block_bytes))
        except (OSError, EOFError) as exc:
            skipped.append(Skipped(source.name, f"unreadable: {exc}"))
    years = [f.timestamp.year for st, _, _ in states for f, stated, _ in st.findings if stated and f.timestamp]
    default_year = Counter(years).most_common(1)[0][0] if years else pd.Timestamp.now(tz="UTC").year
    expected = {s.rank for s in sources if s.rank is not None}
    findings = [f for st, _, _ in states for f in _enrich(st, default_year, expected)]
    ranked, reason = rank_findings(findings, [s.name for s in sources])
    timeouts = [(f.rank, f.text) for f in ranked if f.fault == "nccl_timeout"]
    watchdog = parse_nccl_watchdog(timeouts, expected_ranks=sorted(expected) or None) if timeouts else None
    stats = [
        SourceStats(st.source.name, st.source.rank, lines, nbytes, sum(st.kept.values()))
        for st, lines, nbytes in states
    ]
    return ScanResult(
        findings=ranked,
        root_cause=ranked[0] if ranked else None,
        ranking_reason=reason,
        files_read=len(states),
        lines_read=sum(s.lines for s in stats),
        bytes_read=sum(s.bytes for s in stats),
        counts=dict(counts.most_common()),
        sources=stats,
        skipped=skipped,
        engine=eng.name,
        catalogue_version=cat.version,
        watchdog=watchdog,
    )


def excerpt(finding: Finding, *, before: int = 2, after: int = 2, sources: Iterable[LogSource] = ()) -> str:
    """The masked lines around a finding, numbered, the finding's line marked with ``>``."""
    source = next((s for s in sources if s.name == finding.file), None)
    if source is None:
        path = Path(finding.file)
        if not path.is_file():
            return f"> {finding.line:>7} | {finding.text}"
        found, _ = discover(path)
        if not found:
            return f"> {finding.line:>7} | {finding.text}"
        source = found[0]
    offset = finding.details.get("offset")
    if offset is None:
        return f"> {finding.line:>7} | {finding.text}"
    lines = read_excerpt(source, offset, before=before, after=after)
    return "\n".join(f"{'>' if i == 0 else ' '} {finding.line + i:>7} | {mask(t[:MAX_TEXT_CHARS])}" for i, t in lines)
