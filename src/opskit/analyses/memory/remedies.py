"""Changes that lower a training job's GPU memory, ranked by the saving each brings per GPU.

Every saving is the estimate of :func:`opskit.analyses.memory.estimate.estimate_memory` recomputed with
the one change (:func:`rank_remedies`), or with changes applied one after the other until the job
fits (:func:`plan_to_fit`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import pandas as pd

from opskit.analyses.memory.estimate import MemoryEstimate, estimate_memory
from opskit.sources.job_config import JobConfig


@dataclass(frozen=True)
class Remedy:
    """One change to the job, the memory it saves per GPU and what it costs."""

    name: str
    change: str
    saving_gib: float | None
    total_after_gib: float | None
    fits_after: bool | None
    cost: str


def _changes(cfg: JobConfig) -> list[tuple[str, str, JobConfig, str]]:
    """The config changes that lower memory: ``(name, change, new config, cost)``."""
    out: list[tuple[str, str, JobConfig, str]] = []
    if cfg.micro_batch_size > 1:
        half = max(1, cfg.micro_batch_size // 2)
        out.append((
            "smaller micro-batch",
            f"micro_batch_size {cfg.micro_batch_size} -> {half} (global batch shrinks)",
            replace(cfg, micro_batch_size=half),
            "fewer samples per step; retune the learning rate",
        ))  # fmt: skip
        factor = cfg.micro_batch_size
        out.append((
            "gradient accumulation",
            f"micro_batch_size {cfg.micro_batch_size} -> 1, gradient_accumulation_steps "
            f"{cfg.gradient_accumulation_steps} -> {cfg.gradient_accumulation_steps * factor} (same global batch)",
            replace(cfg, micro_batch_size=1, gradient_accumulation_steps=cfg.gradient_accumulation_steps * factor),
            "same convergence, slower steps (less parallel work per kernel)",
        ))  # fmt: skip
    if cfg.training and not cfg.activation_checkpointing and cfg.layers:
        out.append((
            "activation checkpointing",
            "activation_checkpointing: true (gradient_checkpointing in HF TrainingArguments)",
            replace(cfg, activation_checkpointing=True),
            "about 30 % more compute per step (the forward pass runs twice)",
        ))  # fmt: skip
    if cfg.precision == "fp32":
        out.append((
            "mixed precision",
            "precision fp32 -> bf16 (autocast; bf16 on Ampere or newer, fp16 with loss scaling before)",
            replace(cfg, precision="bf16"),
            "check the loss curve against an fp32 run once",
        ))  # fmt: skip
    if cfg.training and not cfg.flash_attention and cfg.layers:
        out.append((
            "fused attention",
            "use FlashAttention / scaled_dot_product_attention (attn_implementation='sdpa' or 'flash_attention_2')",
            replace(cfg, flash_attention=True),
            "none on supported GPUs",
        ))  # fmt: skip
    if cfg.data_parallel > 1:
        for stage in range(cfg.zero_stage + 1, 4):
            fsdp = {2: "SHARD_GRAD_OP", 3: "FULL_SHARD"}.get(stage)
            out.append((
                f"ZeRO stage {stage}" + (f" / FSDP {fsdp}" if fsdp else ""),
                f"zero_stage {cfg.zero_stage} -> {stage} over {cfg.data_parallel} data-parallel GPUs",
                replace(cfg, zero_stage=stage),
                "more communication per step" if stage < 3 else "weights gathered per layer: more communication",
            ))  # fmt: skip
    return out


def rank_remedies(
    estimate: MemoryEstimate, *, reserved_unallocated_gib: float | None = None, requested_gib: float | None = None
) -> list[Remedy]:
    """Remedies for ``estimate`` ranked by expected saving per GPU, largest first (unknown savings last).

    Each saving comes from re-estimating the changed config. ``expandable_segments`` is offered only when it
    is not already set, with the reserved-but-unallocated memory of the OOM message as its saving, and never
    when the failed request (``requested_gib``) is larger than the whole GPU: no allocator setting helps then.
    """
    cfg = estimate.config
    out: list[Remedy] = []
    for name, change, new, cost in _changes(cfg):
        after = estimate_memory(new)
        saving = estimate.total_gib - after.total_gib
        if saving > 0.005:
            out.append(Remedy(name, change, saving, after.total_gib, after.fits, cost))
    too_big = bool(requested_gib and estimate.capacity_gib > 0 and requested_gib > estimate.capacity_gib)
    if not cfg.expandable_segments and not too_big:
        saving = reserved_unallocated_gib if reserved_unallocated_gib and reserved_unallocated_gib > 0 else None
        after = estimate.total_gib - saving if saving else None
        fits = None if after is None or estimate.capacity_gib <= 0 else after <= estimate.capacity_gib
        out.append(
            Remedy(
                "allocator expandable_segments",
                "export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                saving,
                after,
                fits,
                "none; helps when reserved-but-unallocated memory is large (fragmentation)",
            )
        )
    return sorted(out, key=lambda r: -(r.saving_gib if r.saving_gib is not None else -1.0))


def plan_to_fit(estimate: MemoryEstimate, *, max_changes: int = 6) -> list[Remedy]:
    """Changes applied one after the other, largest saving first, until the job fits (greedy).

    Each step's ``saving_gib`` is what it adds on top of the steps before and ``total_after_gib`` the
    running total. The micro-batch is lowered only with gradient accumulation, so the global batch stays.
    Empty when the job already fits or the capacity is unknown.
    """
    if estimate.capacity_gib <= 0 or estimate.fits:
        return []
    plan: list[Remedy] = []
    current = estimate
    for _ in range(max_changes):
        options = [
            (estimate_memory(new), name, change, cost)
            for name, change, new, cost in _changes(current.config)
            if name != "smaller micro-batch"
        ]
        options = [o for o in options if current.total_gib - o[0].total_gib > 0.005]
        if not options:
            break
        after, name, change, cost = min(options, key=lambda o: o[0].total_gib)
        plan.append(Remedy(name, change, current.total_gib - after.total_gib, after.total_gib, after.fits, cost))
        current = after
        if after.fits:
            break
    return plan


def remedies_frame(remedies: list[Remedy]) -> pd.DataFrame:
    """Remedies as a table, in their ranked order (rank 1 first)."""
    rows = [{"rank": i, **asdict(r)} for i, r in enumerate(remedies, start=1)]
    return pd.DataFrame(rows, columns=["rank", "name", "change", "saving_gib", "total_after_gib", "fits_after", "cost"])
