"""Resuming from a checkpoint: which one, the command for each launcher, and the verdicts on a checkpoint scan."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from opskit.analyses.training.settings import DEFAULTS, LAUNCHERS, TrainingSettings
from opskit.checks import Status, Verdict
from opskit.errors import InputError
from opskit.sources.checkpoints import Checkpoint, CheckpointScan


@dataclass(frozen=True)
class ResumePlan:
    """The command that resumes training from a checkpoint, and what to know before running it."""

    checkpoint: Checkpoint
    launcher: str
    command: str
    notes: tuple[str, ...] = ()


def resume_point(scan: CheckpointScan, before_step: int | None = None) -> Checkpoint | None:
    """The newest complete and verified checkpoint, saved before ``before_step`` (the first NaN loss) if given."""
    return next((c for c in scan.checkpoints if c.complete and (before_step is None or c.step < before_step)), None)


def build_resume_command(checkpoint: Checkpoint, settings: TrainingSettings = DEFAULTS) -> ResumePlan:
    """The exact command to resume from ``checkpoint`` with ``settings.launcher`` (one of :data:`LAUNCHERS`).

    - ``hf_trainer``: ``torchrun ... script --resume_from_checkpoint PATH`` (``TrainingArguments`` parses it)
    - ``lightning``: ``python script fit --ckpt_path PATH`` (LightningCLI; ``trainer.fit(ckpt_path=...)`` in code)
    - ``deepspeed``: ``deepspeed ... script --deepspeed_config CFG --load_dir DIR --load_tag TAG``; the script
      must pass them to ``engine.load_checkpoint(load_dir, tag=tag)``, which otherwise reads ``latest``
    - ``torchrun``: ``torchrun ... script RESUME_ARG PATH`` with ``resume_arg`` the script's own flag
    """
    launcher, nnodes, nproc = settings.launcher, settings.nnodes, settings.nproc_per_node
    if launcher not in LAUNCHERS:
        raise InputError(f"unknown launcher {launcher!r}", column="launcher", hint="one of: " + ", ".join(LAUNCHERS))
    q = shlex.quote
    path, script = q(str(checkpoint.path)), q(settings.script)
    extra = f" {settings.script_args.strip()}" if settings.script_args.strip() else ""
    dist = f"--nnodes={nnodes} --nproc_per_node={nproc}"
    if nnodes > 1:
        dist += f" --rdzv_backend=c10d --rdzv_endpoint={q(settings.rdzv_endpoint or '$MASTER_ADDR:29500')}"
    notes: list[str] = []
    if not checkpoint.complete:
        notes.append("this checkpoint is incomplete: resuming from it will fail or silently lose state")
    if launcher == "hf_trainer":
        command = f"torchrun {dist} {script}{extra} --resume_from_checkpoint {path}"
        notes.append("keep output_dir and the other training arguments as in the interrupted run")
    elif launcher == "lightning":
        command = f"python {script} fit{extra} --ckpt_path {path}"
        notes.append("without LightningCLI, call trainer.fit(model, datamodule, ckpt_path=...) with this path")
    elif launcher == "deepspeed":
        load_dir, tag = checkpoint.path.parent, checkpoint.path.name
        if checkpoint.path.is_dir() and checkpoint.kind != "deepspeed":
            inner = sorted(p for p in checkpoint.path.glob("global_step*") if p.is_dir())
            if inner:  # HF Trainer / Lightning folder holding the DeepSpeed engine state
                load_dir, tag = checkpoint.path, inner[-1].name
            else:
                notes.append(f"{checkpoint.path.name} holds no DeepSpeed engine state (global_step*/): "
                             "check the launcher")  # fmt: skip
        nodes = f" --num_nodes={nnodes} --hostfile=hostfile" if nnodes > 1 else ""
        command = (
            f"deepspeed{nodes} --num_gpus={nproc} {script}{extra} --deepspeed_config {q(settings.deepspeed_config)}"
            f" --load_dir {q(str(load_dir))} --load_tag {q(tag)}"
        )
        notes.append(f"the script must call engine.load_checkpoint({str(load_dir)!r}, tag={tag!r})")
        notes.append(f"or point {load_dir / 'latest'} at {tag} (write the tag into it) before resuming")
    else:
        command = f"torchrun {dist} {script}{extra} {settings.resume_arg} {path}"
    return ResumePlan(checkpoint, launcher, command, tuple(notes))


def judge_checkpoints(
    scan: CheckpointScan, plan: ResumePlan | None = None, *, before_step: int | None = None
) -> list[Verdict]:
    """One verdict per checkpoint and one for the resume point.

    Incomplete checkpoints newer than the resume point WARN (nothing must resume from them). With
    ``before_step`` (the first non-finite loss), complete checkpoints saved at or after it WARN too: they hold
    weights already damaged, and the resume point is the newest complete one before it.
    """
    out: list[Verdict] = []
    resume = resume_point(scan, before_step)
    for c in scan.checkpoints:
        newer = resume is None or c.step > resume.step
        if c.complete and (before_step is None or c.step < before_step):
            out.append(Verdict("checkpoint complete", Status.PASS, subject=c.path.name, observed=c.step, unit="step",
                               evidence=f"{c.path} ({len(c.verified)} files verified)"))  # fmt: skip
        elif c.complete:
            out.append(Verdict("checkpoint complete", Status.WARN, subject=c.path.name, observed=c.step, unit="step",
                               threshold=before_step, evidence=f"{c.path} ({len(c.verified)} files verified)",
                               message=f"complete, but saved at or after the first NaN/inf loss (step {before_step})",
                               next_step="do not resume from it: its weights may already be damaged"))  # fmt: skip
        else:
            out.append(
                Verdict(
                    "checkpoint complete",
                    Status.WARN if newer else Status.PASS,
                    subject=c.path.name,
                    observed=c.step,
                    unit="step",
                    evidence=f"{c.path}: " + "; ".join(c.problems[:4]),
                    message="incomplete" + (": newer than the resume point, do not resume from it" if newer else ""),
                    next_step="move it aside (do not delete it before the incident review) so nothing resumes from it"
                    if newer
                    else None,
                )
            )
    for note in scan.notes:
        out.append(Verdict("checkpoint pointer", Status.WARN, subject=scan.pointer_file.name if scan.pointer_file
                           else None, evidence=str(scan.pointer_file), message=note,
                           next_step="pass the checkpoint tag explicitly or rewrite the pointer"))  # fmt: skip
    if resume is None:
        why = f" before step {before_step} (first non-finite loss)" if before_step is not None else ""
        out.append(
            Verdict(
                "resume point",
                Status.FAIL,
                subject=str(scan.root),
                observed=len(scan.checkpoints),
                unit="checkpoints found",
                message=f"no complete checkpoint to resume from{why}",
                next_step="check the checkpoint folder and the save interval; restarting from scratch loses the run",
            )
        )
    else:
        lost = scan.newest.step - resume.step if scan.newest else 0
        message = "newest complete and verified checkpoint"
        if before_step is not None:
            message += f" saved before the first non-finite loss (step {before_step})"
        message += f"; {lost} steps behind the newest on disk" if lost else ""
        out.append(
            Verdict(
                "resume point",
                Status.PASS,
                subject=resume.path.name,
                observed=resume.step,
                unit="step",
                evidence=str(resume.path),
                message=message,
                next_step=plan.command if plan else None,
            )
        )
    return out


def judge_resume(
    scan: CheckpointScan, settings: TrainingSettings = DEFAULTS, *, before_step: int | None = None
) -> tuple[list[Verdict], ResumePlan | None]:
    """Checkpoint verdicts and the resume command, from the newest complete checkpoint before ``before_step``.

    ``before_step`` is the first NaN/inf loss; without it the newest complete checkpoint is chosen. The plan
    is None when no checkpoint qualifies (the ``resume point`` verdict FAILs then).
    """
    chosen = resume_point(scan, before_step)
    plan = None if chosen is None else build_resume_command(chosen, settings)
    return judge_checkpoints(scan, plan, before_step=before_step), plan
