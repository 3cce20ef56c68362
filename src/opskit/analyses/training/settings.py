"""What the runbook's parameters set for the training area, as one value built once and passed down."""

from __future__ import annotations

from dataclasses import dataclass

LAUNCHERS = ("torchrun", "hf_trainer", "lightning", "deepspeed")


@dataclass(frozen=True)
class TrainingSettings:
    """Thresholds for judging the loss and the pace of a run, and how the run is launched (for its resume command).

    Loss and pace: ``spike_z`` (robust z-score above which a loss is a spike) against the previous
    ``spike_window`` records of a rank; a gap between records over ``stall_factor`` x the rank's median
    interval and ``stall_min_gap_s`` is a stall; a rank more than ``throughput_tolerance`` below the median
    rank (or below its own median, lately) is slow.

    Launch: ``launcher`` (one of :data:`LAUNCHERS`), ``script`` and its own ``script_args``, the world
    (``nproc_per_node`` x ``nnodes``), and for some launchers ``rdzv_endpoint``, ``resume_arg`` (the
    script's own resume flag under plain torchrun) and ``deepspeed_config``.
    """

    spike_z: float = 6.0
    spike_window: int = 50
    stall_factor: float = 5.0
    stall_min_gap_s: float = 60.0
    throughput_tolerance: float = 0.2
    launcher: str = "hf_trainer"
    script: str = "train.py"
    script_args: str = ""
    nproc_per_node: int = 8
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    resume_arg: str = "--resume"
    deepspeed_config: str = "ds_config.json"

    @property
    def world_size(self) -> int:
        """Ranks in the job: GPUs per node x nodes."""
        return self.nproc_per_node * self.nnodes


DEFAULTS = TrainingSettings()
"""The runbook's defaults: the settings a function uses when none are given."""
