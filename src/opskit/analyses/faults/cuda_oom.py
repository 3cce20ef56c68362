"""CUDA out-of-memory messages: the figures they state, and whether the GPU was too small, fragmented or shared."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# ---------------------------------------------------------------- sizes

_UNITS = {
    "b": 1 / 2**20,
    "bytes": 1 / 2**20,
    "kib": 1 / 1024,
    "kb": 1 / 1024,
    "mib": 1.0,
    "mb": 1.0,
    "gib": 1024.0,
    "gb": 1024.0,
}
_UNITS.update({"tib": 1024.0**2, "tb": 1024.0**2, "bytes": 1 / 2**20})  # 1.x: "0 bytes free"
_SIZE = r"([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|bytes|B)\b"


def size_to_mib(number: str | float, unit: str) -> float:
    """``"2.00", "GiB"`` -> 2048.0. PyTorch prints binary units; ``GB`` is read as GiB too."""
    return float(number) * _UNITS[unit.lower()]


# ---------------------------------------------------------------- CUDA out of memory

_OOM_REQ = re.compile(r"Tried to allocate " + _SIZE, re.I)
_OOM_TOTAL = re.compile(r"GPU (\d+) has a total capac(?:i)?ty of " + _SIZE + r" of which " + _SIZE + r" is free", re.I)
_OOM_PROC = re.compile(r"Process (\d+) has " + _SIZE + r" memory in use", re.I)
_OOM_SELF = re.compile(r"this process has " + _SIZE + r" memory in use", re.I)
_OOM_ALLOC = re.compile(_SIZE + r" is allocated by PyTorch", re.I)
_OOM_RESERVED_FREE = re.compile(_SIZE + r" is reserved by PyTorch but unallocated", re.I)
# PyTorch 1.x: (GPU 0; 15.78 GiB total capacity; 14.56 GiB already allocated; 3.44 MiB free; 14.73 GiB reserved
# in total by PyTorch) from 1.4; up to 1.3 the last figure is "4.68 MiB cached": the cache's unallocated part.
_OOM_OLD = re.compile(r"\(GPU (\d+); " + _SIZE + r" total capacity", re.I)
_OOM_OLD_ALLOC = re.compile(_SIZE + r" already allocated", re.I)
_OOM_OLD_FREE = re.compile(r"; " + _SIZE + r" free\b", re.I)
_OOM_OLD_RESERVED = re.compile(_SIZE + r" reserved in total by PyTorch", re.I)
_OOM_OLD_CACHED = re.compile(_SIZE + r" cached\)", re.I)
_OOM_HINT = re.compile(
    r"If reserved but unallocated memory is large try setting PYTORCH_(?:CUDA|HIP)_ALLOC_CONF=expandable_segments:True"
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
    own_process_pid: int | None = None  # "Process N" that is the job itself (a container's PID namespace)

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
    if tot and req > tot:  # larger than the whole GPU: no cache setting or other process is to blame
        return "capacity"
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
    if kind == "capacity" and oom.get("total") and (oom.get("requested") or 0) > oom["total"]:
        return (
            f"one allocation of {oom['requested']:,.0f} MiB is larger than the whole GPU ({oom['total']:,.0f} MiB): "
            "no allocator setting helps; shrink the tensor (batch, sequence length, resolution) or shard it"
        )
    if kind == "capacity":
        return (
            "the job needs more memory than the GPU has: smaller micro-batch with gradient accumulation, "
            "activation checkpointing, bf16 mixed precision, ZeRO/FSDP sharding (open diagnose_gpu_oom)"
        )
    return "the message has no figures: rerun with the framework's memory summary (torch.cuda.memory_summary())"


def _size(pattern: re.Pattern, text: str) -> float | None:
    m = pattern.search(text)
    return size_to_mib(*m.groups()) if m else None


def _own_process(processes: tuple[tuple[int, float], ...], allocated: float | None, cached: float | None) -> int | None:
    """The listed process that holds at least PyTorch's own memory: in a container the job sees its own
    process as "Process N" (another PID namespace), and PyTorch's allocation must live inside it."""
    if allocated is None:
        return None
    own_floor = allocated + (cached or 0.0)
    fits = [(mib, pid) for pid, mib in processes if mib >= own_floor * 0.99]
    return min(fits)[1] if fits else None


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
        gpu, total = int(m.group(1)), size_to_mib(m.group(2), m.group(3))
        allocated = _size(_OOM_OLD_ALLOC, text)
        free = _size(_OOM_OLD_FREE, text)
        reserved = _size(_OOM_OLD_RESERVED, text)
        if reserved is not None and allocated is not None:
            reserved_free = max(0.0, reserved - allocated)
        else:
            reserved_free = _size(_OOM_OLD_CACHED, text)
    processes = tuple((int(pid), size_to_mib(n, u)) for pid, n, u in _OOM_PROC.findall(text))
    own = _own_process(processes, allocated, reserved_free) if in_use is None else None
    others = tuple(p for p in processes if p[0] != own)
    if alloc_conf is not None:
        expandable = bool(_EXPANDABLE.search(alloc_conf))
    else:
        expandable = bool(_EXPANDABLE.search(_OOM_HINT.sub("", text)))
    other_mib = float(sum(mib for _, mib in others))
    kind = classify_oom(requested, total, reserved_free, other_mib)
    facts = {"others": other_mib, "gpu": gpu, "reserved_unallocated": reserved_free or 0.0, "expandable": expandable}
    facts.update(requested=requested, total=total)
    return CudaOom(
        gpu=gpu,
        requested_mib=requested,
        total_mib=total,
        free_mib=free,
        allocated_mib=allocated,
        reserved_unallocated_mib=reserved_free,
        process_in_use_mib=in_use,
        other_processes=others,
        own_process_pid=own,
        classification=kind,
        expandable_segments_set=expandable,
        suggestion=_oom_suggestion(kind, facts),
    )
