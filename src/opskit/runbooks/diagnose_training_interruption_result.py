"""What ``diagnose_training_interruption`` found, and the notebook's sections, ready to show and masked.

:class:`DiagnoseTrainingInterruptionResult` holds the verdicts and the parts they were judged from;
a part is None when its input could not be read (its check is an ERROR row) or was not given (a SKIP),
and the section that needs it says so instead of failing. The frame helpers below build the tables the
sections show; they take the parts themselves, so a caller that has them can use the tables directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from opskit.analyses.faults.distributed import NcclWatchdog
from opskit.analyses.faults.findings import ScanResult
from opskit.analyses.faults.verdicts import LOG_CHECK
from opskit.analyses.training.progress import TrainingResult
from opskit.analyses.training.resume import ResumePlan
from opskit.checks import Status, VerdictTable
from opskit.plots.training import plot_last_step_by_rank, plot_loss_by_rank
from opskit.runbooks.display import Markdown, Outputs, shown_once, table, unavailable
from opskit.sources.checkpoints import CheckpointScan

FINDING_COLUMNS = ["fault", "rank", "timestamp", "file", "line", "text", "next_step"]
CHECKPOINT_COLUMNS = ["path", "step", "kind", "size_gib", "complete", "problems"]


def findings_frame(faults: ScanResult, limit: int = 15) -> pd.DataFrame:
    """The ranked findings, root cause first: fault, rank, timestamp, file, line, text, next_step."""
    return faults.to_frame()[FINDING_COLUMNS].head(limit)


def loss_frames(training: TrainingResult, limit: int = 20) -> dict[str, pd.DataFrame]:
    """The non-empty tables behind the loss verdicts, by title: non-finite losses, spikes."""
    tables = {"non-finite losses": training.nonfinite, "spikes": training.spikes}
    return {title: frame.head(limit) for title, frame in tables.items() if not frame.empty}


def pace_frames(training: TrainingResult, limit: int = 20) -> dict[str, pd.DataFrame]:
    """The non-empty tables behind the stall and throughput verdicts, by title: stalls, throughput per rank."""
    tables = {"stalls": training.stalls, "throughput per rank": training.throughput}
    return {title: frame.head(limit) for title, frame in tables.items() if not frame.empty}


def checkpoint_frame(checkpoints: CheckpointScan) -> pd.DataFrame:
    """The checkpoints found, newest first: path, step, kind, size_gib, complete, problems."""
    return checkpoints.to_frame()[CHECKPOINT_COLUMNS]


def resume_markdown(plan: ResumePlan) -> str:
    """The resume point, its command in a code block and the notes on it, as Markdown."""
    chosen = plan.checkpoint
    text = f"Resume from **step {chosen.step}** (`{chosen.path.name}`):\n\n```\n{plan.command}\n```"
    return text + "".join(f"\n\n- {note}" for note in plan.notes)


def _titled(frames: dict[str, pd.DataFrame]) -> list[Markdown | pd.DataFrame]:
    return [item for title, frame in frames.items() for item in (Markdown(f"**{title}**"), table(frame))]


@dataclass(frozen=True)
class DiagnoseTrainingInterruptionResult:
    """Verdicts and what they were judged from: training progress, the log scan, the checkpoints, the resume plan."""

    verdicts: VerdictTable
    training: TrainingResult | None = None
    faults: ScanResult | None = None
    watchdog: NcclWatchdog | None = None
    checkpoint_scan: CheckpointScan | None = None
    plan: ResumePlan | None = None

    @property
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

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: the root cause, the first rank to stop, the last step, where to resume."""
        training, found, plan = self.training, self.faults, self.plan
        out: dict[str, Any] = {}
        if found is not None:
            rc = found.root_cause
            out["root cause"] = (rc.title or rc.fault) if rc else "no known fault in the logs"
        if training is not None:
            stopped = training.first_stopped_rank
            out["first rank to stop"] = stopped if stopped is not None else "none"
            out["last step"] = training.max_step
        if plan is not None or self.checkpoint_scan is not None:
            out["resume from step"] = plan.checkpoint.step if plan is not None else "no complete checkpoint"
        return out

    def _why(self, *checks: str) -> str | None:
        """The message of the ERROR or SKIP row of the first of ``checks`` that has one: why a part is missing."""
        for name in checks:
            for row in self.verdicts.find(name):
                if row.status in (Status.ERROR, Status.SKIP):
                    return row.message
        return None

    def root_cause(self, limit: int = 15) -> Outputs | Markdown:
        """Why the findings are ranked as they are, and the findings, root cause first."""
        if self.faults is None:
            return unavailable("The log scan", self._why(LOG_CHECK))
        if not self.faults.findings:
            return Markdown("No known fault in the logs.")
        return Outputs([Markdown(f"**{self.faults.ranking_reason}**"), table(findings_frame(self.faults, limit))])

    def stopped_first(self) -> Outputs | Markdown:
        """Which rank stopped first and why, the last step per rank as a bar plot, and the table per rank."""
        if self.training is None:
            return unavailable("The training progress", self._why("training progress"))
        training = self.training
        figure = shown_once(plot_last_step_by_rank(training))
        return Outputs([Markdown(f"**{training.stopped_first_reason}**"), figure, table(training.ranks)])

    def loss(self, limit: int = 20) -> Outputs | Markdown:
        """The loss per rank with NaN/inf values and spikes marked, and the tables of both."""
        if self.training is None:
            return unavailable("The loss per rank", self._why("training progress"))
        frames = loss_frames(self.training, limit)
        note = None if frames else Markdown("No NaN/inf loss and no spike.")
        return Outputs([shown_once(plot_loss_by_rank(self.training)), *_titled(frames), note])

    def stalls_and_throughput(self, limit: int = 20) -> Outputs | Markdown:
        """The stalls between records and the throughput per rank (stragglers, ranks slowing down)."""
        if self.training is None:
            return unavailable("Stalls and throughput", self._why("training progress"))
        frames = pace_frames(self.training, limit)
        if not frames:
            return Markdown("No stall between records, and the logs print no throughput.")
        return Outputs(_titled(frames))

    def checkpoints(self) -> pd.DataFrame | Markdown:
        """The checkpoints found, newest first, with what is wrong with the incomplete ones."""
        if self.checkpoint_scan is None:
            return unavailable("The checkpoint scan", self._why("checkpoints", "resume point"))
        root = self.checkpoint_scan.root
        return table(checkpoint_frame(self.checkpoint_scan), empty=f"No checkpoint found under `{root}`.")

    def resume_command(self) -> Markdown:
        """The command that resumes from the newest complete checkpoint before the first NaN/inf loss, or why none."""
        if self.plan is None:
            return Markdown("no resume command: see the verdict table (resume point)")
        return Markdown(resume_markdown(self.plan))
