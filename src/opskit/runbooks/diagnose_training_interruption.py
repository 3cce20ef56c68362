"""A training interruption, diagnosed: which rank stopped first and why, and where to resume.

``runbooks/diagnose_training_interruption.ipynb`` narrates this module. :func:`diagnose_interruption`
reads the training progress (:mod:`opskit.sources.training_logs`), scans the logs for faults
(:func:`opskit.analyses.faults.scan.scan`) and checks the checkpoints on disk (:mod:`opskit.sources.checkpoints`,
:mod:`opskit.analyses.training.resume`), each inside :func:`opskit.checks.run_checks` so that one input
that cannot be read becomes an ERROR row while the others are still judged. The pieces it combines,
:func:`judge_log_faults` and :func:`judge_resume`, work on results already computed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from opskit.analyses.faults.distributed import NcclWatchdog, parse_nccl_watchdog
from opskit.analyses.faults.findings import ScanResult
from opskit.analyses.faults.scan import scan
from opskit.analyses.training.progress import TrainingResult, analyze_training
from opskit.analyses.training.resume import ResumePlan, build_resume_command, judge_checkpoints
from opskit.analyses.training.verdicts import judge_torchrun_report, judge_training
from opskit.checks import Status, Verdict, VerdictTable, run_checks
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.checkpoints import CheckpointScan, find_checkpoints
from opskit.sources.training_logs import read_training_logs

Resolver = Callable[[str], "str | os.PathLike[str]"]


@dataclass(frozen=True)
class InterruptionReport:
    """Verdicts and what they were judged from; a part is None when its input could not be read."""

    verdicts: VerdictTable
    training: TrainingResult | None = None
    faults: ScanResult | None = None
    watchdog: NcclWatchdog | None = None
    checkpoints: CheckpointScan | None = None
    plan: ResumePlan | None = None

    def faults_headline(self) -> str:
        """Why the findings are ranked as they are; or that there are none, or that the scan did not run."""
        if self.faults is None:
            return "the log scan did not run: see the verdict table"
        return f"**{self.faults.ranking_reason}**" if self.faults.findings else "no findings"

    def findings_table(self, limit: int = 15) -> pd.DataFrame:
        """The ranked findings, root cause first: fault, rank, timestamp, file, line, text, next_step."""
        columns = ["fault", "rank", "timestamp", "file", "line", "text", "next_step"]
        if self.faults is None:
            return pd.DataFrame(columns=columns)
        return self.faults.to_frame()[columns].head(limit)

    def loss_tables(self, limit: int = 20) -> dict[str, pd.DataFrame]:
        """The non-empty tables behind the loss verdicts, by title: non-finite losses, spikes, stalls, throughput."""
        if self.training is None:
            return {}
        tables = {
            "non-finite losses": self.training.nonfinite,
            "spikes": self.training.spikes,
            "stalls": self.training.stalls,
            "throughput per rank": self.training.throughput,
        }
        return {title: frame.head(limit) for title, frame in tables.items() if not frame.empty}

    def checkpoint_table(self) -> pd.DataFrame:
        """The checkpoints found, newest first: path, step, kind, size_gib, complete, problems."""
        columns = ["path", "step", "kind", "size_gib", "complete", "problems"]
        return pd.DataFrame(columns=columns) if self.checkpoints is None else self.checkpoints.to_frame()[columns]

    def resume_markdown(self) -> str:
        """The resume point, its command in a code block and the notes on it, as Markdown; or why there is none."""
        if self.plan is None:
            return "no resume command: see the verdict table (resume point)"
        chosen = self.plan.checkpoint
        text = f"Resume from **step {chosen.step}** (`{chosen.path.name}`):\n\n```\n{self.plan.command}\n```"
        return text + "".join(f"\n\n- {note}" for note in self.plan.notes)

    def figures(self) -> dict[str, Any]:
        """The key figures for ``publish_summary``: root cause, first stopped rank, steps, the resume point."""
        training, found, plan = self.training, self.faults, self.plan
        return {
            "root_cause": found.root_cause.fault if found is not None and found.root_cause else None,
            "first_stopped_rank": training.first_stopped_rank if training is not None else None,
            "max_step": training.max_step if training is not None else None,
            "ranks": len(training.ranks) if training is not None else None,
            "nonfinite_loss_records": len(training.nonfinite) if training is not None else None,
            "loss_spikes": len(training.spikes) if training is not None else None,
            "resume_step": plan.checkpoint.step if plan is not None else None,
            "resume_checkpoint": str(plan.checkpoint.path) if plan is not None else None,
            "resume_command": plan.command if plan is not None else None,
        }


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
            Verdict("log faults", Status.PASS, observed=0, unit="findings", message="no known fault in the logs")
        ], None
    rows = [
        Verdict(
            "log faults",
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


def judge_resume(
    scan_result: CheckpointScan,
    training: TrainingResult | None = None,
    *,
    launcher: str = "hf_trainer",
    script: str = "train.py",
    script_args: str = "",
    nproc_per_node: int = 8,
    nnodes: int = 1,
) -> tuple[list[Verdict], ResumePlan | None]:
    """Checkpoint verdicts and the resume command, from the newest complete checkpoint before the first NaN/inf loss.

    Without training progress (or without a non-finite loss) the newest complete checkpoint is chosen.
    The plan is None when no checkpoint qualifies (the ``resume point`` verdict FAILs then).
    """
    first_nan = training.first_nonfinite_step if training is not None else None
    chosen = scan_result.resume_before(first_nan)
    plan = None
    if chosen is not None:
        plan = build_resume_command(
            chosen, launcher, script=script, script_args=script_args, nproc_per_node=nproc_per_node, nnodes=nnodes
        )
    return judge_checkpoints(scan_result, plan, before_step=first_nan), plan


def diagnose_interruption(
    log_path: str,
    checkpoint_dir: str | None = None,
    *,
    launcher: str = "hf_trainer",
    script: str = "train.py",
    script_args: str = "",
    nproc_per_node: int = 8,
    nnodes: int = 1,
    spike_z: float = 6.0,
    spike_window: int = 50,
    stall_factor: float = 5.0,
    resolver: Resolver = resolve,
) -> InterruptionReport:
    """Judge an interrupted training run: progress per rank, the faults in its logs, its checkpoints.

    ``log_path`` and ``checkpoint_dir`` are runbook parameters: paths or ``sample:NAME`` values, turned
    into paths by ``resolver`` (:func:`opskit.samples.resolve`) inside the checks, so a bad one becomes an
    ERROR row. ``checkpoint_dir`` None (or a sample beside real logs) gives a SKIPped ``resume point``.
    The checks run in this order: ``training progress``, ``log faults`` (which uses the rank that stopped
    first), ``checkpoints`` (which resumes from before the first NaN/inf loss).
    """
    parts: dict[str, Any] = {}

    def check_training() -> list[Verdict]:
        records = read_training_logs(resolver(log_path))
        training = parts["training"] = analyze_training(
            records, spike_window=spike_window, spike_z=spike_z, stall_factor=stall_factor
        )
        return judge_training(training)

    def check_faults() -> list[Verdict]:
        found = parts["faults"] = scan(resolver(log_path))
        rows, parts["watchdog"] = judge_log_faults(found, parts.get("training"))
        return rows

    def check_checkpoints() -> Verdict | list[Verdict]:
        if checkpoint_dir is None or sample_beside_real_input(checkpoint_dir, log_path):
            return Verdict(
                "resume point",
                Status.SKIP,
                message="no checkpoint_dir given",
                next_step="rerun with -p checkpoint_dir PATH (the run's output folder)",
            )
        found = parts["checkpoints"] = find_checkpoints(resolver(checkpoint_dir), world_size=nproc_per_node * nnodes)
        rows, parts["plan"] = judge_resume(
            found,
            parts.get("training"),
            launcher=launcher,
            script=script,
            script_args=script_args,
            nproc_per_node=nproc_per_node,
            nnodes=nnodes,
        )
        return rows

    verdicts = run_checks(
        [("training progress", check_training), ("log faults", check_faults), ("checkpoints", check_checkpoints)]
    )
    return InterruptionReport(verdicts, **parts)
