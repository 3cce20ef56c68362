"""A training interruption, diagnosed: which rank stopped first and why, and where to resume.

``runbooks/diagnose_training_interruption.ipynb`` narrates this module. :func:`run` reads the training
progress (:mod:`opskit.sources.training_logs`, judged by :mod:`opskit.analyses.training`), scans the logs
for faults (:func:`opskit.analyses.faults.scan.scan`) and checks the checkpoints on disk
(:mod:`opskit.sources.checkpoints`, :mod:`opskit.analyses.training.resume`). Each stage returns what it
found and its verdicts; a stage that raises becomes an ERROR row and the later ones still run.
:func:`judge_log_faults` composes the two areas: the faults in the logs against the training progress.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from opskit.analyses.faults.distributed import NcclWatchdog, parse_nccl_watchdog
from opskit.analyses.faults.findings import ScanResult
from opskit.analyses.faults.scan import scan
from opskit.analyses.faults.verdicts import LOG_CHECK
from opskit.analyses.training.progress import TrainingResult, analyze_training
from opskit.analyses.training.resume import ResumePlan, judge_resume
from opskit.analyses.training.settings import TrainingSettings
from opskit.analyses.training.verdicts import judge_torchrun_report, judge_training
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.runbooks.diagnose_training_interruption_result import DiagnoseTrainingInterruptionResult
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.checkpoints import CheckpointScan, find_checkpoints
from opskit.sources.training_logs import read_training_logs

T = TypeVar("T")


def run(
    *,
    log_path: str = "sample:training_nccl_hang",
    checkpoint_dir: str | None = "sample:training_nccl_hang_checkpoints",
    launcher: Literal["torchrun", "hf_trainer", "lightning", "deepspeed"] = "hf_trainer",
    script: str = "train.py",
    script_args: str = "",
    nproc_per_node: int = 8,
    nnodes: int = 1,
    spike_z: float = 6.0,
    spike_window: int = 50,
    stall_factor: float = 5.0,
) -> DiagnoseTrainingInterruptionResult:
    """Judge an interrupted training run: progress per rank, the faults in its logs, its checkpoints.

    ``log_path`` and ``checkpoint_dir`` are paths or ``sample:NAME`` values, resolved inside the stages so
    that a bad one becomes an ERROR row. ``checkpoint_dir`` None (or a sample beside real logs) gives a
    SKIPped ``resume point``. The stages run in this order: ``training progress``, ``log faults`` (which
    uses the rank that stopped first), ``checkpoints`` (which resumes from before the first NaN/inf loss).
    """
    settings = TrainingSettings(
        spike_z=spike_z,
        spike_window=spike_window,
        stall_factor=stall_factor,
        launcher=launcher,
        script=script,
        script_args=script_args,
        nproc_per_node=nproc_per_node,
        nnodes=nnodes,
    )
    training, progress_rows = _attempt("training progress", lambda: _judge_progress(log_path, settings))
    logs, fault_rows = _attempt(LOG_CHECK, lambda: _judge_logs(log_path, training))
    disk, checkpoint_rows = _attempt(
        "checkpoints", lambda: _judge_checkpoint_dir(checkpoint_dir, log_path, training, settings)
    )
    found, watchdog = logs or (None, None)
    checkpoints, plan = disk or (None, None)
    return DiagnoseTrainingInterruptionResult(
        VerdictTable([*progress_rows, *fault_rows, *checkpoint_rows]),
        training=training,
        faults=found,
        watchdog=watchdog,
        checkpoint_scan=checkpoints,
        plan=plan,
    )


def _attempt(name: str, stage: Callable[[], tuple[T, list[Verdict]]]) -> tuple[T | None, list[Verdict]]:
    """Run one stage; an exception becomes its ERROR row and no value, so the later stages still run."""
    try:
        return stage()
    except Exception as exc:  # every failure becomes a visible ERROR row
        return None, [error_verdict(name, exc)]


def _judge_progress(log_path: str, settings: TrainingSettings) -> tuple[TrainingResult, list[Verdict]]:
    """The training progress read from the logs, and its verdicts (rank progress, loss, throughput, stalls)."""
    training = analyze_training(read_training_logs(resolve(log_path)), settings)
    return training, judge_training(training)


def _judge_logs(
    log_path: str, training: TrainingResult | None
) -> tuple[tuple[ScanResult, NcclWatchdog | None], list[Verdict]]:
    """The faults found in the logs with the NCCL watchdog report read from them, and their verdicts."""
    found = scan(resolve(log_path))
    rows, watchdog = judge_log_faults(found, training)
    return (found, watchdog), rows


def _judge_checkpoint_dir(
    checkpoint_dir: str | None, log_path: str, training: TrainingResult | None, settings: TrainingSettings
) -> tuple[tuple[CheckpointScan, ResumePlan | None] | None, list[Verdict]]:
    """The checkpoints on disk and the resume plan, and their verdicts; a SKIP without a folder to read.

    The bundled sample checkpoints are never judged beside a real job's logs.
    """
    if checkpoint_dir is None or sample_beside_real_input(checkpoint_dir, log_path):
        skip = Verdict(
            "resume point",
            Status.SKIP,
            message="no checkpoint_dir given",
            next_step="rerun with -p checkpoint_dir PATH (the run's output folder)",
        )
        return None, [skip]
    found = find_checkpoints(resolve(checkpoint_dir), world_size=settings.world_size)
    first_nan = training.first_nonfinite_step if training is not None else None
    rows, plan = judge_resume(found, settings, before_step=first_nan)
    return (found, plan), rows


def judge_log_faults(
    found: ScanResult, training: TrainingResult | None = None
) -> tuple[list[Verdict], NcclWatchdog | None]:
    """Verdicts on the faults in the logs, and the NCCL watchdog report read from them (None without timeouts).

    - ``log faults``: PASS when nothing known was found, else FAIL naming the root cause (the first ranked finding);
    - ``torchrun first observed failure`` (:func:`judge_torchrun_report`): the rank torchrun blames against the
      rank that stopped first according to the training progress (else the root cause's rank);
    - ``NCCL collective``: the collective the ranks timed out on, and the ranks that lagged or reported nothing
      (the ranks the training progress knows are the expected ones).
    """
    root = found.root_cause
    if root is None:
        return [
            Verdict(LOG_CHECK, Status.PASS, observed=0, unit="findings", message="no known fault in the logs")
        ], None
    rows = [
        Verdict(
            LOG_CHECK,
            Status.FAIL,
            subject=f"root cause: {root.fault}",
            observed=len(found.findings),
            unit="findings",
            evidence=f"{root.where}: {root.text}",
            message=found.ranking_reason,
            next_step=root.next_step,
        )
    ]
    cause_rank = training.first_stopped_rank if training is not None else None
    cause_rank = root.rank if cause_rank is None else cause_rank
    report = next((f for f in found.findings if f.fault == "worker_failed" and f.details.get("torchrun")), None)
    if report is not None:
        row = judge_torchrun_report(
            report.details["torchrun"], where=report.where, cause_rank=cause_rank, hint=report.details.get("hint")
        )
        if row is not None:
            rows.append(row)
    waits = [(f.rank, f.text) for f in found.findings if f.fault == "nccl_timeout"]
    if not waits:
        return rows, None
    ranks = training.ranks["rank"].tolist() if training is not None else None
    watchdog = parse_nccl_watchdog(waits, expected_ranks=ranks)
    silent = sorted(set(watchdog.lagging_ranks) | set(watchdog.missing_ranks))
    rows.append(
        Verdict(
            "NCCL collective",
            Status.FAIL,
            subject=f"SeqNum {watchdog.seq_num} {watchdog.op_type}",
            observed=len(watchdog.timed_out_ranks),
            unit="ranks timed out",
            threshold=f"timeout {watchdog.timeout_ms} ms",
            message=f"lagging or missing ranks: {silent}" if silent else "no rank lagged",
            next_step="the ranks that never reached this collective hold the cause: read their logs",
        )
    )
    return rows, watchdog
