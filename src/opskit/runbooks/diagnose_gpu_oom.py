"""A CUDA out-of-memory error, diagnosed: the message's figures, the job's memory estimate, remedies.

``runbooks/diagnose_gpu_oom.ipynb`` narrates this module. :func:`diagnose_oom` finds the first CUDA OOM
message in the logs (:func:`judge_oom_scan`), estimates the job's memory per GPU from its config with the
facts the message reveals (:func:`judge_job_memory`: the GPU's capacity, ``expandable_segments``), ranks
the remedies and combines them until the job fits. Each part runs inside :func:`opskit.checks.run_checks`,
so an input that cannot be read becomes an ERROR row while the other is still judged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from opskit.analyses.faults.cuda_oom import CudaOom, parse_cuda_oom
from opskit.analyses.faults.findings import Finding, ScanResult
from opskit.analyses.faults.scan import scan
from opskit.analyses.memory.estimate import JobConfig, MemoryEstimate, estimate_memory, read_job_config
from opskit.analyses.memory.remedies import Remedy, plan_to_fit, rank_remedies, remedies_frame
from opskit.checks import Status, Verdict, VerdictTable, run_checks
from opskit.samples import resolve, sample_beside_real_input

Resolver = Callable[[str], "str | os.PathLike[str]"]


def judge_memory(
    estimate: MemoryEstimate, remedies: list[Remedy] | None = None, plan: list[Remedy] | None = None
) -> list[Verdict]:
    """The estimate against the capacity: FAIL when it cannot fit, WARN within 10 %, else PASS.

    The next step is the single remedy that fits with the largest saving, else the combined ``plan``
    (:func:`plan_to_fit`), else what is left when nothing on the list is enough.
    """
    if estimate.capacity_gib <= 0:
        return [Verdict("memory estimate", Status.SKIP, observed=round(estimate.total_gib, 2), unit="GiB per GPU",
                        message="GPU capacity unknown: set gpu_memory_gib")]  # fmt: skip
    total, cap = estimate.total_gib, estimate.capacity_gib
    parts = estimate.to_frame().sort_values("gib_per_gpu", ascending=False)
    biggest = parts.iloc[0]
    evidence = ", ".join(f"{r.component} {r.gib_per_gpu:.1f}" for r in parts.itertuples()) + " GiB"
    first_fit = next((r for r in (remedies or []) if r.fits_after), None)
    if total > cap:
        status = Status.FAIL
        message = f"needs {total - cap:.1f} GiB more than the GPU has; largest part: {biggest.component}"
    elif total > 0.9 * cap:
        status, message = Status.WARN, f"within 10 % of capacity ({cap - total:.1f} GiB left)"
    else:
        status, message = Status.PASS, f"{cap - total:.1f} GiB of headroom"
    step = None
    if status != Status.PASS and first_fit:
        step = f"{first_fit.name}: {first_fit.change} (saves {first_fit.saving_gib:.1f} GiB per GPU)"
    elif status == Status.FAIL and plan and plan[-1].fits_after:
        step = "no single change is enough; combine: " + " + ".join(r.name for r in plan)
        step += f" (about {plan[-1].total_after_gib:.1f} GiB per GPU)"
    elif status == Status.FAIL:
        step = (
            "even every change listed does not fit: use more GPUs (ZeRO-3/FSDP shards over them), tensor "
            "parallelism, or offload optimizer states to CPU (ZeRO-Offload)"
        )
    return [
        Verdict("memory estimate", status, subject="per GPU", observed=round(total, 2), threshold=round(cap, 2),
                unit="GiB", evidence=evidence, message=message, next_step=step)
    ]  # fmt: skip


def apply_oom_facts(config: JobConfig, oom: Any | None = None, *, gpu_memory_gib: float = 0.0) -> JobConfig:
    """``config`` with what a CUDA OOM message reveals: the GPU's capacity and whether expandable_segments is set.

    ``oom`` is a :class:`opskit.analyses.faults.cuda_oom.CudaOom` (or anything with ``total_mib`` and
    ``expandable_segments_set``). An explicit ``gpu_memory_gib`` wins over the message, the message over the config.
    """
    capacity = config.gpu_memory_gib
    expandable = config.expandable_segments
    if oom is not None:
        if getattr(oom, "total_mib", None):
            capacity = float(oom.total_mib) / 1024.0
        expandable = expandable or bool(getattr(oom, "expandable_segments_set", False))
    if gpu_memory_gib and gpu_memory_gib > 0:
        capacity = float(gpu_memory_gib)
    return replace(config, gpu_memory_gib=capacity, expandable_segments=expandable)


def judge_oom(oom: Any, *, where: str, text: str, next_step: str | None = None) -> Verdict:
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
        next_step=next_step
        or (_CAPACITY_STEP if oom.classification == "capacity" else oom.suggestion.replace(_SELF_REFERENCE, "")),
    )


_CAPACITY_STEP = "lower the peak: apply the remedies ranked below, largest saving first, until the estimate fits"
_SELF_REFERENCE = " (open diagnose_gpu_oom)"


def judge_estimate_against_oom(estimate: MemoryEstimate, oom: Any) -> Verdict:
    """Does the estimate explain the OOM? It should reach what the process held plus what it asked for."""
    held = getattr(oom, "process_in_use_mib", None) or getattr(oom, "allocated_mib", None)
    if held is None:
        return Verdict("estimate explains the OOM", Status.SKIP, message="the OOM message has no in-use figure")
    needed = (held + (oom.requested_mib or 0.0)) / 1024.0
    if estimate.total_gib >= needed:
        return Verdict("estimate explains the OOM", Status.PASS, observed=round(estimate.total_gib, 2),
                       threshold=round(needed, 2), unit="GiB",
                       message="the job as configured needs at least what it held when it failed")  # fmt: skip
    return Verdict(
        "estimate explains the OOM",
        Status.WARN,
        observed=round(estimate.total_gib, 2),
        threshold=round(needed, 2),
        unit="GiB",
        message="the estimate is below what the process held plus its last request",
        next_step="check the config matches the job (batch, sequence length, ZeRO stage); look for a memory leak "
        "(tensors kept across steps, growing caches) or a longer sequence in the failing batch",
    )


def judge_oom_scan(
    found: ScanResult, *, alloc_conf: str | None = None
) -> tuple[Verdict, CudaOom | None, Finding | None]:
    """The first CUDA OOM of a log scan, read and judged (:func:`judge_oom`); ``(verdict, oom, finding)``.

    Without an OOM message the verdict WARNs, naming the root cause the scan found instead (if any),
    and ``oom`` and ``finding`` are None. ``alloc_conf`` is the job's ``PYTORCH_CUDA_ALLOC_CONF`` when known.
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
        return verdict, None, None
    first = hits[0]
    oom = parse_cuda_oom(first.text, alloc_conf=alloc_conf)
    return judge_oom(oom, where=first.where, text=first.text), oom, first


def judge_job_memory(
    config: JobConfig, oom: CudaOom | None = None, *, gpu_memory_gib: float = 0.0
) -> tuple[list[Verdict], MemoryEstimate, list[Remedy], list[Remedy]]:
    """The job's memory estimate judged, its remedies and the plan to fit: ``(verdicts, estimate, remedies, plan)``.

    The config first takes what the OOM message reveals (:func:`apply_oom_facts`); the message's
    reserved-but-unallocated memory is the saving of ``expandable_segments``; with a message, the
    ``estimate explains the OOM`` verdict follows the ``memory estimate`` one.
    """
    estimate = estimate_memory(apply_oom_facts(config, oom, gpu_memory_gib=gpu_memory_gib))
    reserved = oom.reserved_unallocated_mib / 1024 if oom is not None and oom.reserved_unallocated_mib else None
    remedies = rank_remedies(estimate, reserved_unallocated_gib=reserved)
    plan = plan_to_fit(estimate)
    rows = judge_memory(estimate, remedies, plan)
    if oom is not None:
        rows.append(judge_estimate_against_oom(estimate, oom))
    return rows, estimate, remedies, plan


@dataclass(frozen=True)
class OomReport:
    """Verdicts and what they were judged from; a part is None when its input is absent or unreadable."""

    verdicts: VerdictTable
    faults: ScanResult | None = None
    oom: CudaOom | None = None
    finding: Finding | None = None
    estimate: MemoryEstimate | None = None
    remedies: tuple[Remedy, ...] = ()
    plan: tuple[Remedy, ...] = ()

    @property
    def held_gib(self) -> float | None:
        """What the process held when it failed (GiB), from the OOM message; None without the figure."""
        return self.oom.process_in_use_mib / 1024 if self.oom is not None and self.oom.process_in_use_mib else None

    def oom_headline(self) -> str:
        """Where the OOM was logged, its class and what to do, as Markdown; or that there is none."""
        if self.oom is None or self.finding is None:
            return "no CUDA OOM figures: see the verdict table"
        return f"`{self.finding.where}` — **{self.oom.classification}**: {self.oom.suggestion}"

    def oom_figures_gib(self) -> dict[str, float]:
        """The OOM message's sizes in GiB (``requested_gib``, ``free_gib``, ...), the ones it gives."""
        if self.oom is None:
            return {}
        sizes = {k: v for k, v in self.oom.to_dict().items() if k.endswith("_mib") and v is not None}
        return {k.replace("_mib", "_gib"): round(v / 1024, 2) for k, v in sizes.items()}

    def remedies_table(self) -> pd.DataFrame:
        """The remedies ranked by saving, largest first."""
        return remedies_frame(list(self.remedies))

    def plan_table(self) -> pd.DataFrame:
        """The changes combined until the job fits, each saving on top of the rows above it."""
        return remedies_frame(list(self.plan))

    def plan_summary(self) -> str:
        """One sentence on the plan: what the combined changes reach, or why there is nothing to combine."""
        if self.estimate is None:
            return "no memory estimate: see the verdict table"
        if not self.plan:
            return "nothing to combine: the estimate fits, or the GPU capacity is unknown"
        last = self.plan[-1]
        verdict = "fits" if last.fits_after else "still does not fit"
        return (
            f"{len(self.plan)} change(s) take the estimate from {self.estimate.total_gib:.1f} to "
            f"{last.total_after_gib:.1f} GiB per GPU ({verdict} in {self.estimate.capacity_gib:.1f} GiB)"
        )

    def figures(self) -> dict[str, Any]:
        """The key figures for ``publish_summary``: the OOM's class and request, the estimate, the top remedy."""
        oom, estimate, remedies = self.oom, self.estimate, self.remedies
        return {
            "oom_class": oom.classification if oom is not None else None,
            "requested_gib": round(oom.requested_mib / 1024, 2) if oom is not None and oom.requested_mib else None,
            "capacity_gib": round(estimate.capacity_gib, 2) if estimate is not None else None,
            "estimate_total_gib": round(estimate.total_gib, 2) if estimate is not None else None,
            "estimate_activations_gib": round(estimate.activations_gib, 2) if estimate is not None else None,
            "fits": estimate.fits if estimate is not None else None,
            "top_remedy": remedies[0].name if remedies else None,
            "top_remedy_saving_gib": round(remedies[0].saving_gib, 2) if remedies and remedies[0].saving_gib else None,
            "plan_to_fit": [r.name for r in self.plan],
        }


def diagnose_oom(
    log_path: str,
    job_config: str | None = None,
    *,
    gpu_memory_gib: float = 0.0,
    alloc_conf: str | None = None,
    resolver: Resolver = resolve,
) -> OomReport:
    """Judge a CUDA OOM: the message in ``log_path``, and the memory estimate of ``job_config`` against the GPU.

    Both are runbook parameters: paths or ``sample:NAME`` values, turned into paths by ``resolver``
    (:func:`opskit.samples.resolve`) inside the checks, so a bad one becomes an ERROR row. ``job_config``
    None (or the sample config beside a real log) gives a SKIPped ``memory estimate``. ``gpu_memory_gib``
    above 0 overrides the capacity the message and the config give.
    """
    parts: dict[str, Any] = {}

    def check_oom() -> Verdict:
        found = parts["faults"] = scan(resolver(log_path))
        verdict, parts["oom"], parts["finding"] = judge_oom_scan(found, alloc_conf=alloc_conf)
        return verdict

    def check_estimate() -> Verdict | list[Verdict]:
        if job_config is None or sample_beside_real_input(job_config, log_path):
            return Verdict(
                "memory estimate",
                Status.SKIP,
                message="no job_config given",
                next_step="rerun with -p job_config job.yaml (params_b, precision, batch, seq_len, gpus, ...)",
            )
        config = read_job_config(resolver(job_config))
        rows, parts["estimate"], remedies, plan = judge_job_memory(
            config, parts.get("oom"), gpu_memory_gib=gpu_memory_gib
        )
        parts["remedies"], parts["plan"] = tuple(remedies), tuple(plan)
        return rows

    verdicts = run_checks([("cuda oom", check_oom), ("memory estimate", check_estimate)])
    return OomReport(verdicts, **parts)
