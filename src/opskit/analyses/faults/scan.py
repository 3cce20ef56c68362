"""Find the faults in a failed job's logs: every pattern at once over streamed files, Hyperscan or ``re``."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from opskit.analyses.faults.catalogue import Catalogue, FaultClass, classify_line, engine_for, load_catalogue
from opskit.analyses.faults.cuda_oom import parse_cuda_oom
from opskit.analyses.faults.distributed import parse_nccl_watchdog, parse_torchrun_failure
from opskit.analyses.faults.engines import hyperscan_available
from opskit.analyses.faults.evidence import LOOK_AHEAD, LOOK_BACK, may_introduce, statement_after
from opskit.analyses.faults.findings import MAX_FINDINGS_PER_FILE, MAX_TEXT_CHARS, Finding, ScanResult, SourceStats
from opskit.analyses.faults.metrics import CANDIDATE, FAST, MetricWatch
from opskit.analyses.faults.ranking import rank_findings
from opskit.analyses.faults.signals import SIGKILL_REASON, attribute_kills
from opskit.analyses.faults.xid import decode_xid, parse_xid_line
from opskit.errors import InputError
from opskit.privacy import mask
from opskit.sources.log_encoding import UntilDamage
from opskit.sources.log_offsets import line_start
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
from opskit.sources.timestamps import parse_timestamp

INCOMPLETE = "not read in full"  # reason prefix of a source whose reading stopped before its end
NO_LINE_ENDS = "no line ends: the file may be cut"  # reason of a source with text but no line end at all
CONTEXT_LINES = 14  # lines read around a finding for its timestamp or torchrun's report


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

        self.metrics = MetricWatch()
        self.metric_offset = 0
        self.metric_line = 0  # the line whose record proved the divergence (metric_offset is its start)
        self.damage: str | None = None  # why reading stopped before the end (a truncated .gz), if it did
        self.line_ends = False  # whether any line end was seen

    def add(self, raw: bytes, line: int, offset: int) -> None:
        text = decode_line(raw[: MAX_TEXT_CHARS * 4].rstrip(b"\r"))
        fc = classify_line(text if len(raw) <= MAX_TEXT_CHARS * 4 else decode_line(raw), self.catalogue)
        if fc is None:
            return
        self._keep(fc, text, line, offset, {})

    def add_metric(self, raw: bytes, line: int, offset: int) -> None:
        """Feed a metric line to the divergence rules (:mod:`opskit.analyses.faults.metrics`)."""
        if self.metrics.found is None:
            low = raw.lower()
            if FAST.search(low) is None:  # every figure finite and modest, no overflow, nothing skipped
                self.metrics.modest(low)
                return
            self.metrics.feed(line, decode_line(raw[: MAX_TEXT_CHARS * 4].rstrip(b"\r")))
            if self.metrics.found is not None:
                self.metric_offset, self.metric_line = offset, line

    def finish(self) -> None:
        """Turn a divergence the metric rules proved into a ``nan_loss`` finding."""
        found = self.metrics.found
        fc = next((c for c in self.catalogue.classes if c.name == "nan_loss"), None)
        if found is None or fc is None:
            return
        line, text, details = found
        if any(f.fault == "nan_loss" and f.line <= line for f, _, _ in self.findings):
            return
        # the evidence may be an earlier record (where a run of non-finite values began): its own offset, so the
        # excerpt shown around it is numbered and marked right
        offset = line_start(self.source, self.metric_offset, line - self.metric_line)
        self._keep(fc, text, line, self.metric_offset if offset is None else offset, details)

    def _keep(self, fc: FaultClass, text: str, line: int, offset: int, extra: dict) -> None:
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
            details={**_line_details(fc, text), **extra},
            tier=fc.tier,
            runbook=fc.runbook,
            title=fc.title,
        )
        self.findings.append((finding, stated or ts is None, offset))


def _regions_until_damage(state: _FileScan, stream, block_bytes: int):
    """The stream's regions up to the end or to the damage (kept in ``state.damage``)."""
    reader = UntilDamage(stream)
    try:
        yield from iter_regions(reader, block_bytes=block_bytes)
    finally:
        state.damage = reader.damage


def _scan_metrics(state: _FileScan, data: bytes, start: int, end: int, line_no: int, base: int) -> None:
    """Feed the lines of a block that carry a gradient norm, a loss scale, skipped steps or a non-finite value
    to the metric rules (the block is lower-cased once, so the search needs no case-folding)."""
    watch = state.metrics
    if watch.found is not None:
        return
    low = data[start:end].lower()
    if watch.baseline_open:
        _read_baseline(watch, data, low, start, end)
    pos, ln, last, after = start, line_no, -1, 0
    for m in CANDIDATE.finditer(low):
        ls = max(data.rfind(b"\n", start, start + m.start()) + 1, start)
        if ls == last:
            continue
        if watch.big and low.find(b"loss", after, ls - start) >= 0:
            watch.loss_between()  # a loss line too small to be a candidate: the explosion did not stay
        ln += data.count(b"\n", pos, ls)
        pos, last = ls, ls
        le = data.find(b"\n", start + m.end(), end)
        after = (end if le < 0 else le) - start
        state.add_metric(data[ls : end if le < 0 else le], ln, base + ls)
        if watch.found is not None:
            return


def _read_baseline(watch: MetricWatch, data: bytes, low: bytes, start: int, end: int) -> None:
    """The log's first lines that name a loss, read for the baseline a finite explosion is measured against."""
    after = 0
    for m in re.finditer(rb"loss", low):
        if m.start() < after:
            continue
        ls = max(data.rfind(b"\n", start, start + m.start()) + 1, start)
        le = data.find(b"\n", start + m.end(), end)
        after = (end if le < 0 else le) - start
        watch.observe(decode_line(data[ls : end if le < 0 else le][: MAX_TEXT_CHARS * 4].rstrip(b"\r")))
        if not watch.baseline_open:
            return


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
        for region in _regions_until_damage(state, stream, block_bytes):
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
            _scan_metrics(state, data, start, end, line_no, region.offset)
            if not region.continued:
                line_no += _count_newlines(data, start, end)
                ends_with_newline = data[end - 1 : end] == b"\n"
                state.line_ends = state.line_ends or line_no > 1
    finally:
        if source.path is not None:
            stream.close()
    state.finish()
    lines = line_no - 1 + (0 if ends_with_newline else 1)
    return state, lines, nbytes


def _hand_over(state: _FileScan) -> None:
    """A finding on a line that only introduces the message below it (a traceback's code line, a C++ terminate
    header) hands over to that line: dropped when that line is a finding itself, else moved to it."""
    lines_found = {f.line for f, _, _ in state.findings}
    kept = []
    for finding, stated, offset in state.findings:
        if may_introduce(finding.text):
            try:
                lines = dict(read_excerpt(state.source, offset, before=LOOK_BACK, after=LOOK_AHEAD))
            except OSError:
                lines = {}
            i = statement_after(lines)
            if i is not None and finding.line + i in lines_found:
                state.counts[finding.fault] -= 1  # the line below is that fault's evidence, counted once
                continue
            if i is not None:
                text = mask(lines[i][:MAX_TEXT_CHARS]) or ""
                details = {**finding.details, "introduced_at_line": finding.line}
                finding = replace(finding, line=finding.line + i, text=text, details=details)
                lines_found.add(finding.line)
                moved = line_start(state.source, offset, i)
                offset = offset if moved is None else moved
        kept.append((finding, stated, offset))
    state.findings = kept


def _enrich(state: _FileScan, default_year: int | None, expected_ranks: set[int]) -> list[Finding]:
    """Add context that needs nearby lines: the line a header or code line introduces, timestamps from the
    lines before, torchrun blocks."""
    _hand_over(state)
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
                lines = read_excerpt(state.source, offset, before=CONTEXT_LINES, after=CONTEXT_LINES)
            except OSError:
                lines = []
            if root_block or entry_line:
                f = _torchrun_context(f, lines, root_block, default_year)
            if f.timestamp is None:
                f = _stamp_from_neighbours(f, lines, default_year)
        if f.fault == "nccl_timeout" and expected_ranks and "ranks" in f.details:
            f = replace(f, details={**f.details, "expected_ranks": sorted(expected_ranks)})
        out.append(f)
    return out


def _stamp_from_neighbours(f: Finding, lines: list[tuple[int, str]], default_year: int | None) -> Finding:
    """A finding's time from the nearest stamped line before it, else from the first one after it: a line of a
    log happened no later than the lines after it, so that stamp is an upper bound (and ties go to file order)."""
    before = reversed([text for i, text in lines if i <= 0])
    after = (text for i, text in lines if i > 0)
    for where, texts in (("a line before", before), ("a line after (at the latest)", after)):
        for text in texts:
            ts, _ = parse_timestamp(text, default_year=default_year)
            if ts is not None:
                return replace(f, timestamp=ts, details={**f.details, "timestamp_from": where})
    return f


_EXIT_FIELD = re.compile(r"^(?:\[\w+\]:)?\s*(?:exitcode|traceback)\s*:")


def _torchrun_context(f: Finding, lines: list[tuple[int, str]], root_block: bool, default_year: int | None) -> Finding:
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
    eng = engine_for(cat, kind)
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
            state, lines, nbytes = _scan_source(source, cat, eng, counts, block_bytes)
        except (OSError, EOFError) as exc:
            skipped.append(Skipped(source.name, f"unreadable: {exc}"))
            continue
        states.append((state, lines, nbytes))
        if state.damage is not None:  # what was found before the damage is kept, and the gap is said
            read = f"{nbytes:,} bytes ({lines:,} lines) read"
            skipped.append(Skipped(source.name, f"{INCOMPLETE}: {read}, then {state.damage}"))
        elif nbytes > 0 and not state.line_ends:  # text and not one line end: a fragment, not a whole log
            skipped.append(Skipped(source.name, f"{NO_LINE_ENDS} ({nbytes:,} bytes without a line end)"))
    years = [f.timestamp.year for st, _, _ in states for f, stated, _ in st.findings if stated and f.timestamp]
    default_year = Counter(years).most_common(1)[0][0] if years else None  # None: no stamp lands in the future
    expected = {s.rank for s in sources if s.rank is not None}
    findings = [f for st, _, _ in states for f in _enrich(st, default_year, expected)]
    findings = attribute_kills(findings, cat)
    if "killed_preempted" in counts and any(f.details.get("inferred") == SIGKILL_REASON for f in findings):
        counts["host_oom"] += counts.pop("killed_preempted")  # the kills were re-read as the host's OOM killer
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
        counts={name: n for name, n in counts.most_common() if n > 0},
        sources=stats,
        skipped=skipped,
        engine=eng.name,
        catalogue_version=cat.version,
        watchdog=watchdog,
    )
