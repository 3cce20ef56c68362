"""Structured details of the faults where numbers matter: CUDA OOM, NCCL watchdog, torchrun, Xid.

Each parser takes the text a log really holds and returns a frozen dataclass; fields that the
text does not state are ``None``. Sizes are in MiB, durations in milliseconds.
"""

from __future__ import annotations

import csv
import re
import signal
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import pandas as pd

from opskit.bundled import XID_CODES, bundled_text
from opskit.sources.logs import rank_from_line

# ---------------------------------------------------------------- sizes and timestamps

_UNITS = {"b": 1 / 2**20, "kib": 1 / 1024, "kb": 1 / 1024, "mib": 1.0, "mb": 1.0, "gib": 1024.0, "gb": 1024.0}
_UNITS.update({"tib": 1024.0**2, "tb": 1024.0**2})
_SIZE = r"([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)\b"


def size_to_mib(number: str | float, unit: str) -> float:
    """``"2.00", "GiB"`` -> 2048.0. PyTorch prints binary units; ``GB`` is read as GiB too."""
    return float(number) * _UNITS[unit.lower()]


_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_TS_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T _](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?")
_TS_GLOG = re.compile(r"(?:^|[\[\s:])[IWEF](\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{1,9})")
_TS_TEXT = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?: (\d{4}))?", re.I
)


def _ts(year: int, month: int, day: int, hh: int, mm: int, ss: int, frac: str | None = None) -> pd.Timestamp | None:
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return pd.Timestamp(year, month, day, hh, mm, ss, micro, tz="UTC")
    except ValueError:
        return None


def parse_timestamp(text: str, *, default_year: int | None = None) -> tuple[pd.Timestamp | None, bool]:
    """The first timestamp in a log line, in UTC, and whether the line stated its year.

    Reads ISO 8601 (``2026-11-28 10:02:11,123``, ``2026-11-28T10:02:11Z``, torchrun's
    ``2026-11-28_10:02:11``), glog (``E1128 10:02:11.123456``, as PyTorch's C++ logs print) and
    syslog/``dmesg -T`` (``Nov 28 10:02:11 [2026]``). Times without a zone are taken as UTC; a
    missing year is ``default_year`` (the current year when None).
    """
    head = text[:300]
    m = _TS_ISO.search(head)
    if m:
        y, mo, d, hh, mi, ss, frac, zone = m.groups()
        ts = _ts(int(y), int(mo), int(d), int(hh), int(mi), int(ss), frac)
        if ts is not None and zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            digits = zone[1:].replace(":", "")
            ts = ts - sign * pd.Timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return ts, ts is not None
    year = default_year or pd.Timestamp.now(tz="UTC").year
    m = _TS_GLOG.search(head)
    if m:
        mo, d, hh, mi, ss, frac = m.groups()
        return _ts(year, int(mo), int(d), int(hh), int(mi), int(ss), frac), False
    m = _TS_TEXT.search(head)
    if m:
        mon, d, hh, mi, ss, y = m.groups()
        stated = y is not None
        return _ts(int(y) if stated else year, _MONTHS[mon.lower()], int(d), int(hh), int(mi), int(ss)), stated
    return None, False


# ---------------------------------------------------------------- CUDA out of memory

_OOM_REQ = re.compile(r"Tried to allocate " + _SIZE, re.I)
_OOM_TOTAL = re.compile(r"GPU (\d+) has a total capacity of " + _SIZE + r" of which " + _SIZE + r" is free", re.I)
_OOM_PROC = re.compile(r"Process (\d+) has " + _SIZE + r" memory in use", re.I)
_OOM_SELF = re.compile(r"this process has " + _SIZE + r" memory in use", re.I)
_OOM_ALLOC = re.compile(_SIZE + r" is allocated by PyTorch", re.I)
_OOM_RESERVED_FREE = re.compile(_SIZE + r" is reserved by PyTorch but unallocated", re.I)
# PyTorch 1.x: (GPU 0; 15.78 GiB total capacity; 14.56 GiB already allocated; 3.44 MiB free; 14.73 GiB reserved ...)
_OOM_OLD = re.compile(
    r"\(GPU (\d+); " + _SIZE + r" total capacity; " + _SIZE + r" already allocated; " + _SIZE + r" free; "
    r"(?:" + _SIZE + r" allowed; )?" + _SIZE + r" reserved in total by PyTorch",
    re.I,
)
_OOM_HINT = re.compile(
    r"If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
    r"[^.]*\.?",
    re.I,
)
_EXPANDABLE = re.compile(r"expandable_segments\s*:\s*True", re.I)

OOM_CLASSES = ("capacity", "fragmentation", "contention", "unknown")


@dataclass(frozen=True)
class CudaOom:
    """The figures of a CUDA out-of-memory message and what they say (sizes in MiB).

    ``classification``: ``capacity`` (the job needs more than the GPU has), ``fragmentation``
    (memory is reserved by PyTorch's cache but unallocated), ``contention`` (another process
    holds memory on the GPU) or ``unknown`` when the message carries no figures (TensorFlow).
    """

    gpu: int | None
    requested_mib: float | None
    total_mib: float | None
    free_mib: float | None
    allocated_mib: float | None
    reserved_unallocated_mib: float | None
    process_in_use_mib: float | None
    other_processes: tuple[tuple[int, float], ...]
    classification: str
    expandable_segments_set: bool
    suggestion: str

    @property
    def other_processes_mib(self) -> float:
        return float(sum(mib for _, mib in self.other_processes))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["other_processes"] = [{"pid": pid, "mib": mib} for pid, mib in self.other_processes]
        out["other_processes_mib"] = self.other_processes_mib
        return out


def classify_oom(
    requested: float | None,
    total: float | None,
    reserved_unallocated: float | None,
    other_processes_mib: float,
) -> str:
    """contention when other processes hold at least the request (or 5 % of the GPU); fragmentation
    when the cache's reserved-but-unallocated memory would cover the request (or is 10 % of the GPU);
    capacity otherwise; unknown without figures."""
    if requested is None and total is None:
        return "unknown"
    req = requested or 0.0
    tot = total or 0.0
    if other_processes_mib > 0 and other_processes_mib >= max(req, 0.05 * tot):
        return "contention"
    if (
        reserved_unallocated is not None
        and reserved_unallocated > 0
        and (reserved_unallocated >= req or reserved_unallocated >= 0.1 * tot)
    ):
        return "fragmentation"
    return "capacity"


def _oom_suggestion(kind: str, oom: dict[str, Any]) -> str:
    if kind == "contention":
        return (
            f"other processes hold {oom['others']:,.0f} MiB on GPU {oom['gpu']}: stop them or schedule the job on a "
            "free GPU (nvidia-smi --query-compute-apps=pid,used_memory --format=csv on the node)"
        )
    if kind == "fragmentation" and not oom["expandable"]:
        return (
            f"{oom['reserved_unallocated']:,.0f} MiB is reserved by PyTorch but unallocated: "
            "set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True"
        )
    if kind == "fragmentation":
        return (
            "expandable_segments is already set and memory is still fragmented: lower the peak (smaller "
            "micro-batch, activation checkpointing) or keep tensor shapes stable between steps"
        )
    if kind == "capacity":
        return (
            "the job needs more memory than the GPU has: smaller micro-batch with gradient accumulation, "
            "activation checkpointing, bf16 mixed precision, ZeRO/FSDP sharding (open diagnose_gpu_oom)"
        )
    return "the message has no figures: rerun with the framework's memory summary (torch.cuda.memory_summary())"


def parse_cuda_oom(text: str, *, alloc_conf: str | None = None) -> CudaOom:
    """Read a CUDA OOM message (PyTorch 2.x and 1.x wording; TensorFlow gives no figures).

    ``alloc_conf`` is the job's ``PYTORCH_CUDA_ALLOC_CONF`` when known; otherwise the text is
    searched for ``expandable_segments:True`` outside PyTorch's own hint sentence.
    """
    gpu = total = free = allocated = reserved_free = in_use = None
    requested = None
    m = _OOM_REQ.search(text)
    if m:
        requested = size_to_mib(*m.groups())
    m = _OOM_TOTAL.search(text)
    if m:
        gpu, total, free = int(m.group(1)), size_to_mib(m.group(2), m.group(3)), size_to_mib(m.group(4), m.group(5))
    m = _OOM_ALLOC.search(text)
    if m:
        allocated = size_to_mib(*m.groups())
    m = _OOM_RESERVED_FREE.search(text)
    if m:
        reserved_free = size_to_mib(*m.groups())
    m = _OOM_SELF.search(text)
    if m:
        in_use = size_to_mib(*m.groups())
    m = _OOM_OLD.search(text)
    if m:
        g = m.groups()
        gpu = int(g[0])
        total, allocated, free = size_to_mib(g[1], g[2]), size_to_mib(g[3], g[4]), size_to_mib(g[5], g[6])
        reserved = size_to_mib(g[9], g[10])
        reserved_free = max(0.0, reserved - allocated)
    others = tuple((int(pid), size_to_mib(n, u)) for pid, n, u in _OOM_PROC.findall(text))
    if alloc_conf is not None:
        expandable = bool(_EXPANDABLE.search(alloc_conf))
    else:
        expandable = bool(_EXPANDABLE.search(_OOM_HINT.sub("", text)))
    other_mib = float(sum(mib for _, mib in others))
    kind = classify_oom(requested, total, reserved_free, other_mib)
    facts = {"others": other_mib, "gpu": gpu, "reserved_unallocated": reserved_free or 0.0, "expandable": expandable}
    return CudaOom(
        gpu=gpu,
        requested_mib=requested,
        total_mib=total,
        free_mib=free,
        allocated_mib=allocated,
        reserved_unallocated_mib=reserved_free,
        process_in_use_mib=in_use,
        other_processes=others,
        classification=kind,
        expandable_segments_set=expandable,
        suggestion=_oom_suggestion(kind, facts),
    )


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


# ---------------------------------------------------------------- Xid

_XID_LINE = re.compile(r"Xid \((?:PCI:)?([0-9A-Fa-f:.]+)\): (\d+)(?:, pid=(\d+|'<unknown>'))?")


@dataclass(frozen=True)
class XidInfo:
    """An NVIDIA Xid code decoded with the bundled table (``data/xid.csv``)."""

    code: int
    meaning: str
    severity: str
    action: str
    source: str
    known: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@cache
def xid_table() -> dict[int, XidInfo]:
    """The bundled Xid table by code."""
    text = bundled_text(XID_CODES)
    rows = csv.DictReader(text.splitlines())
    return {
        int(r["code"]): XidInfo(int(r["code"]), r["meaning"], r["severity"], r["action"], r["source"], True)
        for r in rows
    }


def decode_xid(code: int | str) -> XidInfo:
    """Meaning, severity and immediate action (restart app, reset GPU, drain and reboot, contact support)."""
    number = int(code)
    known = xid_table().get(number)
    if known:
        return known
    return XidInfo(
        number,
        "not in the bundled table",
        "unknown",
        "contact support",
        "look it up in NVIDIA's Xid catalog (docs.nvidia.com/deploy/xid-errors)",
        False,
    )


def parse_xid_line(text: str) -> tuple[int, str | None] | None:
    """``(code, PCI address)`` from a kernel ``NVRM: Xid (PCI:0000:3b:00): 79, ...`` line."""
    m = _XID_LINE.search(text)
    return (int(m.group(2)), m.group(1)) if m else None
