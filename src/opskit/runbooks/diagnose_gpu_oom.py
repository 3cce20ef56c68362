"""A CUDA out-of-memory error, diagnosed: the message's figures, the job's memory estimate, remedies.

``runbooks/diagnose_gpu_oom.ipynb`` narrates this module. :func:`run` finds the first CUDA OOM
message in the logs (the faults area parses it), then estimates the job's memory per GPU from its
config with the figures the message gives (the memory area: the GPU's capacity, what the process
held, ``expandable_segments``), ranks the remedies and combines them until the job fits. An input
that cannot be read becomes an ERROR row while the other is still judged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from opskit.analyses.faults.cuda_oom import CudaOom, parse_cuda_oom
from opskit.analyses.faults.scan import scan
from opskit.analyses.faults.verdicts import gap_verdicts
from opskit.analyses.memory.verdicts import JobMemoryResult, judge_job_memory
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.runbooks.diagnose_gpu_oom_result import SELF_REFERENCE, DiagnoseGpuOomResult, OomMessage
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.job_config import read_job_config

if TYPE_CHECKING:
    from opskit.analyses.faults.scan import ScanResult

T = TypeVar("T")
CAPACITY_STEP = "lower the peak: apply the remedies ranked below, largest saving first, until the estimate fits"
NO_CONFIG_STEP = "rerun with -p job_config job.yaml (params_b, precision, batch, seq_len, gpus, ...)"


def run(
    *,
    log_path: str = "sample:gpu_oom_job",
    job_config: str | None = "sample:gpu_oom_job_config",
    gpu_memory_gib: float = 0.0,
    alloc_conf: str | None = None,
) -> DiagnoseGpuOomResult:
    """Judge a CUDA OOM: the message in ``log_path``, and the memory estimate of ``job_config`` against the GPU.

    Both are paths or ``sample:NAME`` values. ``job_config`` None (or the sample config beside a real
    log) gives a SKIPped ``memory estimate``. ``gpu_memory_gib`` above 0 overrides the capacity the
    message and the config give; ``alloc_conf`` is the job's ``PYTORCH_CUDA_ALLOC_CONF`` when known.
    Never raises on bad input: a check that cannot be evaluated is an ERROR row.
    """
    message, oom_rows = _attempt("cuda oom", lambda: find_oom(log_path, alloc_conf=alloc_conf))
    if job_config is None or sample_beside_real_input(job_config, log_path):
        memory, memory_rows = None, [_no_config()]
    else:
        memory, memory_rows = _attempt(
            "memory estimate", lambda: judge_config(job_config, message, gpu_memory_gib=gpu_memory_gib)
        )
    return DiagnoseGpuOomResult(VerdictTable([*oom_rows, *memory_rows]), message=message, memory=memory)


def _attempt(name: str, stage: Callable[[], tuple[T, list[Verdict]]]) -> tuple[T | None, list[Verdict]]:
    """The stage's value and verdicts; when it raises, None and its ERROR row."""
    try:
        return stage()
    except Exception as exc:  # becomes a visible ERROR row; the other check still runs
        return None, [error_verdict(name, exc)]


def find_oom(log_path: str, *, alloc_conf: str | None = None) -> tuple[OomMessage | None, list[Verdict]]:
    """Scan ``log_path`` and judge its first CUDA OOM message (:func:`judge_oom_scan`)."""
    found = scan(resolve(log_path))
    verdict, message = judge_oom_scan(found, alloc_conf=alloc_conf)
    return message, [verdict, *gap_verdicts(found, "cuda oom")]  # and which logs it could not read in full


def judge_config(
    job_config: str, message: OomMessage | None, *, gpu_memory_gib: float = 0.0
) -> tuple[JobMemoryResult, list[Verdict]]:
    """Read ``job_config`` and judge the job's memory with the OOM message's figures (when there is one)."""
    config = read_job_config(resolve(job_config))
    memory = judge_job_memory(config, message.figures if message is not None else None, gpu_memory_gib=gpu_memory_gib)
    return memory, list(memory.verdicts)


def _no_config() -> Verdict:
    return Verdict("memory estimate", Status.SKIP, message="no job_config given", next_step=NO_CONFIG_STEP)


def judge_oom(oom: CudaOom, *, where: str, text: str) -> Verdict:
    """The CUDA OOM itself: what was requested against what was free, and its class (capacity/fragmentation/...)."""
    requested = oom.requested_mib / 1024.0 if oom.requested_mib is not None else None
    free = oom.free_mib / 1024.0 if oom.free_mib is not None else None
    facts = []
    if oom.allocated_mib is not None:
        facts.append(f"{oom.allocated_mib / 1024:.2f} GiB allocated by PyTorch")
    if oom.reserved_unallocated_mib is not None:
        facts.append(f"{oom.reserved_unallocated_mib / 1024:.2f} GiB reserved but unallocated")
    if oom.other_processes:
        facts.append(f"{oom.other_processes_mib / 1024:.2f} GiB held by other processes")
    return Verdict(
        "cuda oom",
        Status.FAIL,
        subject=f"GPU {oom.gpu}" if oom.gpu is not None else None,
        observed=round(requested, 2) if requested is not None else None,
        threshold=round(free, 2) if free is not None else None,
        unit="GiB",
        evidence=f"{where}: {text}",
        message=f"{oom.classification}: " + ("; ".join(facts) if facts else "no figures in the message"),
        next_step=CAPACITY_STEP if oom.classification == "capacity" else oom.suggestion.replace(SELF_REFERENCE, ""),
    )


def judge_oom_scan(found: ScanResult, *, alloc_conf: str | None = None) -> tuple[Verdict, OomMessage | None]:
    """The first CUDA OOM of a log scan, read and judged (:func:`judge_oom`): ``(verdict, message)``.

    Without an OOM message the verdict WARNs, naming the root cause the scan found instead (if any),
    and the message is None. ``alloc_conf`` is the job's ``PYTORCH_CUDA_ALLOC_CONF`` when known.
    """
    hits = [f for f in found.findings if f.fault == "cuda_oom"]
    if not hits:
        root = found.root_cause
        verdict = Verdict(
            "cuda oom",
            Status.WARN,
            observed=0,
            unit="OOM messages",
            message="no CUDA out-of-memory message in the logs"
            + (f"; the root cause found is {root.fault}" if root else ""),
            evidence=f"{root.where}: {root.text}" if root else None,
            next_step=root.next_step if root else "pass the log of the rank that failed",
        )
        return verdict, None
    first = hits[0]
    message = OomMessage(first.where, first.text, parse_cuda_oom(first.text, alloc_conf=alloc_conf))
    return judge_oom(message.parsed, where=message.where, text=message.text), message
