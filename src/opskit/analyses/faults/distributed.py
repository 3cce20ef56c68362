"""Distributed failures in logs: the NCCL watchdog's timeouts and per-rank progress, torchrun's failure report."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from opskit.sources.logs import rank_from_line

# ---------------------------------------------------------------- NCCL watchdog

_WORK = re.compile(
    r"WorkNCCL\(SeqNum=(\d+), OpType=([A-Z_]+)(?:, NumelIn=(-?\d+), NumelOut=(-?\d+))?.*?Timeout\(ms\)=(\d+)\)"
    r"(?: ran for (\d+) milliseconds)?"
)
_PROGRESS = re.compile(
    r"(?:at work|Timeout at NCCL work): (-?\d+), last enqueued NCCL work: (-?\d+), last completed NCCL work: (-?\d+)"
)
_TEXT_RANK = re.compile(r"\[(?:PG [^\]]*?)?Rank (\d+)\]")


@dataclass(frozen=True)
class RankProgress:
    """What one rank's watchdog reported: the work it timed out on, last enqueued and completed."""

    rank: int
    work: int | None
    last_enqueued: int | None
    last_completed: int | None


@dataclass(frozen=True)
class NcclWatchdog:
    """The collective that timed out and each reporting rank's progress.

    ``lagging_ranks`` enqueued fewer collectives than the others (they never reached the one the
    others wait on); ``missing_ranks`` are expected ranks that reported nothing (dead or hung).
    """

    seq_num: int | None
    op_type: str | None
    timeout_ms: int | None
    ran_for_ms: int | None
    numel_in: int | None
    numel_out: int | None
    ranks: dict[int, RankProgress] = field(default_factory=dict)
    timed_out_ranks: tuple[int, ...] = ()
    lagging_ranks: tuple[int, ...] = ()
    missing_ranks: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ranks"] = {str(k): asdict(v) for k, v in self.ranks.items()}
        return out


def _line_rank(text: str) -> int | None:
    m = _TEXT_RANK.search(text)
    return int(m.group(1)) if m else rank_from_line(text)


def parse_nccl_watchdog(
    lines: Iterable[str | tuple[int | None, str]], *, expected_ranks: Iterable[int] | None = None
) -> NcclWatchdog:
    """Read ProcessGroupNCCL watchdog lines from one or many ranks.

    ``lines`` are texts (the rank is read from ``[Rank N]`` or a ``[rankN]:`` prefix) or
    ``(rank, text)`` pairs. ``expected_ranks`` (e.g. ``range(world_size)``) finds missing ranks.
    """
    seq = op = timeout = ran_for = numel_in = numel_out = None
    timed_out: set[int] = set()
    progress: dict[int, RankProgress] = {}
    for item in lines:
        rank, text = item if isinstance(item, tuple) else (None, item)
        if rank is None:
            rank = _line_rank(text)
        m = _WORK.search(text)
        if m:
            s, o, ni, no, t, r = m.groups()
            if seq is None or int(s) < seq:
                seq, op, timeout = int(s), o, int(t)
                numel_in = int(ni) if ni is not None else None
                numel_out = int(no) if no is not None else None
                ran_for = int(r) if r is not None else None
            if rank is not None:
                timed_out.add(rank)
        m = _PROGRESS.search(text)
        if m and rank is not None:
            work, enq, done = (int(x) for x in m.groups())
            progress[rank] = RankProgress(rank, work, enq, done)
            timed_out.add(rank)
    enqueued = [p.last_enqueued for p in progress.values() if p.last_enqueued is not None]
    top = max(enqueued) if enqueued else None
    lagging = sorted(r for r, p in progress.items() if top is not None and (p.last_enqueued or 0) < top)
    missing: list[int] = []
    if expected_ranks is not None:
        seen = timed_out | set(progress)
        missing = sorted(set(expected_ranks) - seen)
    return NcclWatchdog(
        seq_num=seq,
        op_type=op,
        timeout_ms=timeout,
        ran_for_ms=ran_for,
        numel_in=numel_in,
        numel_out=numel_out,
        ranks=dict(sorted(progress.items())),
        timed_out_ranks=tuple(sorted(timed_out)),
        lagging_ranks=tuple(lagging),
        missing_ranks=tuple(missing),
    )


# ---------------------------------------------------------------- torchrun (torch.distributed.elastic)

_TR_SCRIPT = re.compile(r"^\s*(\S+) FAILED\s*$")
_TR_ENTRY = re.compile(r"^\s*\[(\d+)\]:\s*$")
_TR_FIELD = re.compile(r"^\s*(time|host|rank|exitcode|error_file|traceback)\s*:\s?(.*?)\s*$")
_TR_RANK = re.compile(r"(-?\d+)(?: \(local_rank: (\d+)\))?")
_TR_EXIT = re.compile(r"(-?\d+)(?: \(pid: (\d+)\))?")
_TR_SIGNAL = re.compile(r"Signal (\d+) \((SIG[A-Z]+)\)")

RECORD_HINT = (
    "error_file is <N/A>: the entry point lacks @record. Decorate main() with "
    "@record from torch.distributed.elastic.multiprocessing.errors so the worker's traceback appears here"
)


@dataclass(frozen=True)
class ProcessFailure:
    """One entry of torchrun's failure report."""

    index: int
    time: str | None = None
    host: str | None = None
    rank: int | None = None
    local_rank: int | None = None
    exitcode: int | None = None
    pid: int | None = None
    error_file: str | None = None
    traceback: str | None = None
    signal: str | None = None


@dataclass(frozen=True)
class TorchrunFailure:
    """torchrun's ``ChildFailedError`` report: the failed script, every failure, the root cause."""

    script: str | None
    failures: tuple[ProcessFailure, ...]
    root_cause: ProcessFailure | None
    record_hint: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _failure(index: int, fields: dict[str, str]) -> ProcessFailure:
    rank = local = exitcode = pid = None
    if "rank" in fields and (m := _TR_RANK.match(fields["rank"])):
        rank = int(m.group(1))
        local = int(m.group(2)) if m.group(2) else None
    if "exitcode" in fields and (m := _TR_EXIT.match(fields["exitcode"])):
        exitcode = int(m.group(1))
        pid = int(m.group(2)) if m.group(2) else None
    sig = None
    tb = fields.get("traceback")
    if tb and (m := _TR_SIGNAL.search(tb)):
        sig = m.group(2)
    elif exitcode is not None and exitcode < 0:
        try:
            sig = signal.Signals(-exitcode).name
        except ValueError:
            sig = f"signal {-exitcode}"
    return ProcessFailure(
        index=index,
        time=fields.get("time"),
        host=fields.get("host"),
        rank=rank,
        local_rank=local,
        exitcode=exitcode,
        pid=pid,
        error_file=fields.get("error_file"),
        traceback=tb,
        signal=sig,
    )


def parse_torchrun_failure(text: str | Iterable[str]) -> TorchrunFailure:
    """Read torchrun's failure block (the ``Failures:`` and ``Root Cause (first observed failure):`` entries)."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    script = None
    section = None
    entries: list[tuple[str, int, dict[str, str]]] = []
    for raw in lines:
        line = re.sub(r"^\[(?:rank|default)\d+\]:", "", raw)
        if m := _TR_SCRIPT.match(line):
            script = m.group(1)
        elif "Root Cause (first observed failure)" in line:
            section = "root"
        elif line.strip().startswith("Failures:"):
            section = "failures"
        elif (m := _TR_ENTRY.match(line)) and section:
            entries.append((section, int(m.group(1)), {}))
        elif (m := _TR_FIELD.match(line)) and entries:
            entries[-1][2][m.group(1)] = m.group(2)
    failures = tuple(_failure(i, f) for s, i, f in entries if s == "failures")
    roots = [_failure(i, f) for s, i, f in entries if s == "root"]
    all_entries = [*failures, *roots]
    hint = RECORD_HINT if any((e.error_file or "").strip() == "<N/A>" for e in all_entries) else None
    return TorchrunFailure(script, failures, roots[0] if roots else None, hint)
