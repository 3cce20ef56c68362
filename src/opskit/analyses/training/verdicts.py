"""Verdicts on a training run: progress per rank, finite loss, spikes, throughput, stalls, torchrun's report."""

from __future__ import annotations

import pandas as pd

from opskit.analyses.training.progress import TrainingResult
from opskit.checks import Status, Verdict


def rank_label(rank: int) -> str:
    """``rank 5``; ``log`` for records whose rank neither the line nor the file name gave (-1)."""
    return f"rank {rank}" if rank >= 0 else "log"


def _evidence(row: pd.Series) -> str:
    return f"{row['file']}:{row['line']} step {row['step']} loss {row['loss']}"


def judge_training(result: TrainingResult) -> list[Verdict]:
    """Verdicts, one per rank where ranks differ: progress, finite loss, spikes, stalls."""
    out: list[Verdict] = []
    settings = result.settings
    lagging = set(result.lagging_ranks)
    for row in result.ranks.itertuples(index=False):
        rank = int(row.rank)
        where = f"{row.file}:{row.last_line} (last record)"
        if rank == result.first_stopped_rank:
            status, message = Status.FAIL, f"stopped first: {result.stopped_first_reason}"
            step = "read this rank's log around its last lines (and dmesg/host logs of its node): the others waited"
        elif rank in lagging:
            status, message, step = Status.WARN, "behind the furthest rank", "check whether this rank also stalled"
        else:
            status, message, step = Status.PASS, None, None
        out.append(
            Verdict("rank progress", status, subject=rank_label(rank), observed=int(row.last_step),
                    threshold=result.max_step, unit="step", evidence=where, next_step=step, message=message)
        )  # fmt: skip
    if result.nonfinite.empty:
        out.append(Verdict("loss finite", Status.PASS, subject="all ranks", observed=0, threshold=0, unit="records"))
    for rank, group in result.nonfinite.groupby("rank", sort=True):
        first = group.sort_values(["step", "line"]).iloc[0]
        out.append(
            Verdict(
                "loss finite",
                Status.FAIL,
                subject=rank_label(rank),
                observed=len(group),
                threshold=0,
                unit="NaN/inf records",
                evidence=_evidence(first),
                message=f"first non-finite loss at step {first['step']}",
                next_step="inspect the batch at that step and the learning rate; lower the LR or enable gradient "
                "clipping; resume from a checkpoint before the first NaN",
            )
        )
    if result.spikes.empty:
        out.append(Verdict("loss spikes", Status.PASS, subject="all ranks", observed=0, threshold=settings.spike_z,
                           unit="robust z"))  # fmt: skip
    for rank, group in result.spikes.groupby("rank", sort=True):
        worst = group.sort_values("robust_z").iloc[-1]
        out.append(
            Verdict(
                "loss spikes",
                Status.WARN,
                subject=rank_label(rank),
                observed=round(float(worst["robust_z"]), 1),
                threshold=settings.spike_z,
                unit="robust z",
                evidence=_evidence(worst),
                message=f"{len(group)} spike(s); worst at step {worst['step']} against a median of "
                f"{worst['median']:.4g}",
                next_step="look at the data of that step; recurring spikes call for a lower LR or gradient clipping",
            )
        )
    out.extend(_judge_throughput(result))
    if result.stalls.empty:
        out.append(Verdict("stalls", Status.PASS, subject="all ranks", observed=0, threshold=settings.stall_factor,
                           unit="x median interval"))  # fmt: skip
    for rank, group in result.stalls.groupby("rank", sort=True):
        worst = group.sort_values("gap_s").iloc[-1]
        out.append(
            Verdict(
                "stalls",
                Status.WARN,
                subject=rank_label(rank),
                observed=round(float(worst["gap_s"]), 1),
                threshold=round(settings.stall_factor * float(worst["median_s"]), 1),
                unit="s",
                evidence=f"{worst['file']}:{worst['line']} after step {worst['after_step']}",
                message=f"{len(group)} gap(s) between records; the median interval is {worst['median_s']:.3g} s",
                next_step="check the data loader, checkpoint saving and the host around that time",
            )
        )
    return out


def _judge_throughput(result: TrainingResult) -> list[Verdict]:
    frame = result.throughput
    if frame.empty:
        return []
    unit = str(frame["unit"].iloc[0]).replace("_per_s", "/s")
    floor = 1 - result.settings.throughput_tolerance
    fleet = float(frame["median"].median())
    flagged = frame[frame["straggler"] | frame["degrading"]]
    if flagged.empty:
        return [Verdict("throughput", Status.PASS, subject="all ranks", observed=round(fleet, 1),
                        unit=unit, message="no straggler, no rank slowing down")]  # fmt: skip
    if len(frame) > 1 and frame["degrading"].all():
        worst = frame.sort_values("vs_own").iloc[0]
        return [
            Verdict(
                "throughput",
                Status.WARN,
                subject="all ranks",
                observed=round(float(frame["recent_median"].median()), 1),
                threshold=round(fleet * floor, 1),
                unit=unit,
                evidence=f"{worst['file']}:{worst['line']} (last record)",
                message=f"every rank slowed down together (to {frame['vs_own'].median():.0%} of its median): in "
                "synchronous training one slow GPU or link slows them all",
                next_step="look for the rank that stopped first and check its GPU's clocks, temperature and Xid "
                "errors (nvidia-smi -q -d PERFORMANCE,TEMPERATURE)",
            )
        ]
    out = []
    for row in flagged.itertuples(index=False):
        if row.degrading:
            observed, reference = row.recent_median, row.median
            message = f"its last records run at {row.vs_own:.0%} of its own median"
        else:
            observed, reference = row.median, fleet
            message = f"runs at {row.vs_fleet:.0%} of the median rank: every rank waits for it"
        out.append(
            Verdict(
                "throughput",
                Status.WARN,
                subject=rank_label(row.rank),
                observed=round(float(observed), 1),
                threshold=round(float(reference) * floor, 1),
                unit=unit,
                evidence=f"{row.file}:{row.line} (last record)",
                message=message,
                next_step="check that GPU's clocks, temperature and Xid errors (nvidia-smi -q -d PERFORMANCE,"
                "TEMPERATURE) and the node's data loading",
            )
        )
    return out


def judge_torchrun_report(
    report: dict, *, where: str, cause_rank: int | None, hint: str | None = None
) -> Verdict | None:
    """torchrun's "Root Cause (first observed failure)" against the rank the evidence points at.

    ``report`` is the ``torchrun`` details of a ``worker_failed`` finding (``root_cause`` with rank, exitcode,
    signal). torchrun names the first process *it saw* exit: after a watchdog abort that is a waiting rank,
    not the one that stopped. WARN when they differ, PASS when they agree; None without a root-cause block.
    """
    root = report.get("root_cause") or {}
    if root.get("rank") is None:
        return None
    named = int(root["rank"])
    how = f"exit code {root.get('exitcode')}" + (f" ({root['signal']})" if root.get("signal") else "")
    observed = f"rank {named}, {how}"
    if cause_rank is None or named == cause_rank:
        return Verdict("torchrun first observed failure", Status.PASS, subject=f"rank {named}", observed=observed,
                       evidence=where, next_step=hint)  # fmt: skip
    return Verdict(
        "torchrun first observed failure",
        Status.WARN,
        subject=f"rank {named}",
        observed=observed,
        threshold=f"rank {cause_rank}",
        evidence=where,
        message=f"torchrun names rank {named}, but rank {cause_rank} stopped first: rank {named}'s exit is a "
        "consequence (the watchdog aborted it while it waited)",
        next_step=hint or f"read rank {cause_rank}'s log, not rank {named}'s traceback",
    )
