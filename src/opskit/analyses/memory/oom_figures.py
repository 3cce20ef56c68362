"""What a CUDA out-of-memory message tells the memory estimate, as plain GiB values.

The message is parsed elsewhere (the runbook composes the two); this area only needs the figures:
the GPU's capacity, what the process held, what it asked for, the allocator's reserved-but-unallocated
memory and whether ``expandable_segments`` was already set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from opskit.sources.job_config import JobConfig


@dataclass(frozen=True)
class OomFigures:
    """A CUDA OOM message's figures in GiB; None where the message does not give one."""

    capacity_gib: float | None = None
    requested_gib: float | None = None
    in_use_gib: float | None = None
    allocated_gib: float | None = None
    reserved_unallocated_gib: float | None = None
    expandable_segments_set: bool = False

    @property
    def held_gib(self) -> float | None:
        """What the process held when it failed: its in-use memory, else what PyTorch had allocated."""
        return self.in_use_gib or self.allocated_gib


def apply_oom_figures(
    config: JobConfig, figures: OomFigures | None = None, *, gpu_memory_gib: float = 0.0
) -> JobConfig:
    """``config`` with what the OOM message reveals: the GPU's capacity and whether expandable_segments is set.

    An explicit ``gpu_memory_gib`` (above 0) wins over the message, the message over the config.
    """
    capacity = config.gpu_memory_gib
    expandable = config.expandable_segments
    if figures is not None:
        if figures.capacity_gib:
            capacity = float(figures.capacity_gib)
        expandable = expandable or figures.expandable_segments_set
    if gpu_memory_gib and gpu_memory_gib > 0:
        capacity = float(gpu_memory_gib)
    return replace(config, gpu_memory_gib=capacity, expandable_segments=expandable)
