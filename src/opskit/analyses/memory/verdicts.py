"""The job's memory judged: the estimate against the GPU's capacity, and against what the OOM showed.

:func:`judge_job_memory` is the whole stage: the config with the OOM's figures, the estimate, the
remedies ranked, the plan to fit and the verdicts, returned as one :class:`JobMemoryResult`.
"""

from __future__ import annotations

from dataclasses import dataclass

from opskit.analyses.memory.estimate import MemoryEstimate, estimate_memory
from opskit.analyses.memory.oom_figures import OomFigures, apply_oom_figures
from opskit.analyses.memory.remedies import Remedy, plan_to_fit, rank_remedies
from opskit.checks import Status, Verdict
from opskit.sources.job_config import JobConfig

NEAR_CAPACITY = 0.9  # WARN above this share of the GPU's capacity


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
    elif total > NEAR_CAPACITY * cap:
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


def judge_estimate_against_oom(estimate: MemoryEstimate, figures: OomFigures) -> Verdict:
    """Does the estimate explain the OOM? It should reach what the process held plus what it asked for."""
    held = figures.held_gib
    if held is None:
        return Verdict("estimate explains the OOM", Status.SKIP, message="the OOM message has no in-use figure")
    needed = held + (figures.requested_gib or 0.0)
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


@dataclass(frozen=True)
class JobMemoryResult:
    """The estimate per GPU, the remedies ranked by saving, the changes combined to fit, and the verdicts."""

    estimate: MemoryEstimate
    remedies: tuple[Remedy, ...]
    plan: tuple[Remedy, ...]
    verdicts: tuple[Verdict, ...]


def judge_job_memory(
    config: JobConfig, figures: OomFigures | None = None, *, gpu_memory_gib: float = 0.0
) -> JobMemoryResult:
    """Estimate, rank the remedies, plan the fit and judge ``config``, with what the OOM message showed.

    The config first takes the message's capacity and allocator setting (:func:`apply_oom_figures`); the
    message's reserved-but-unallocated memory is the saving of ``expandable_segments``; with a message,
    the ``estimate explains the OOM`` verdict follows the ``memory estimate`` one.
    """
    estimate = estimate_memory(apply_oom_figures(config, figures, gpu_memory_gib=gpu_memory_gib))
    reserved = figures.reserved_unallocated_gib if figures is not None else None
    requested = figures.requested_gib if figures is not None else None
    remedies = rank_remedies(estimate, reserved_unallocated_gib=reserved, requested_gib=requested)
    plan = plan_to_fit(estimate)
    rows = judge_memory(estimate, remedies, plan)
    if figures is not None:
        rows.append(judge_estimate_against_oom(estimate, figures))
    return JobMemoryResult(estimate, tuple(remedies), tuple(plan), tuple(rows))
