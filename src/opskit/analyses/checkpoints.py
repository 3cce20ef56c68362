"""Checkpoints on disk: find them, check they are complete, pick the one to resume from.

Recognised layouts (the step is read from the name):

- Hugging Face Trainer: ``checkpoint-1200/`` (weights, ``trainer_state.json``, ``optimizer.pt``, ``scheduler.pt``)
- DeepSpeed: ``global_step1200/`` (``mp_rank_00_model_states.pt`` + ``*optim_states.pt``) and the ``latest`` file
- Megatron-LM: ``iter_0001200/`` and ``latest_checkpointed_iteration.txt``
- Lightning: ``epoch=3-step=1200.ckpt``; plain PyTorch: ``step_1200.pt``, ``model_step-1200.pth``, ``ckpt_1200.bin``

Files are verified without loading them, and nothing is ever unpickled: a torch zip checkpoint must have
a readable zip central directory with a ``data.pkl`` record; a safetensors file must have a sane JSON
header whose tensor offsets cover the file exactly. :func:`build_resume_command` writes the command
that resumes from the chosen checkpoint for torchrun, the HF Trainer, Lightning or DeepSpeed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import struct
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from opskit.checks import Status, Verdict
from opskit.errors import InputError

_DIR_PATTERNS = [
    ("hf_trainer", re.compile(r"^checkpoint-(\d+)$")),
    ("deepspeed", re.compile(r"^global_step(\d+)$")),
    ("megatron", re.compile(r"^iter_(\d+)$")),
    ("lightning_deepspeed", re.compile(r"(?:^|[-_])step=(\d+)(?:[-_.].*)?\.ckpt$")),
    ("directory", re.compile(r"^(?:step|ckpt|checkpoint)[-_]?(\d+)$", re.IGNORECASE)),
]
_FILE_PATTERNS = [
    ("lightning", re.compile(r"(?:^|[-_])step=(\d+)(?:[-_.].*)?\.ckpt$")),
    (
        "torch",
        re.compile(r"(?:^|[-_])(?:step|global_step|iter|ckpt|checkpoint)[-_=]?(\d+)\.(?:pt|pth|bin|ckpt|safetensors)$"),
    ),
]
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
_WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
_SHARDED_WEIGHTS = ("global_step", "pytorch_model_fsdp")
_FSDP_DIRS = ("pytorch_model_fsdp", "optimizer_")
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint on disk, what was checked and what is wrong with it (empty ``problems``: complete)."""

    path: Path
    step: int
    kind: str
    size_bytes: int
    files: int
    problems: tuple[str, ...] = ()
    verified: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class CheckpointScan:
    """All checkpoints under a folder, newest first, and the newest complete one to resume from."""

    root: Path
    checkpoints: tuple[Checkpoint, ...]
    latest_pointer: str | None = None
    pointer_file: Path | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def resume(self) -> Checkpoint | None:
        """The newest complete and verified checkpoint, or None."""
        return next((c for c in self.checkpoints if c.complete), None)

    def resume_before(self, step: int | None) -> Checkpoint | None:
        """The newest complete checkpoint saved before ``step`` (e.g. the first NaN loss); :attr:`resume` if None."""
        if step is None:
            return self.resume
        return next((c for c in self.checkpoints if c.complete and c.step < step), None)

    @property
    def newest(self) -> Checkpoint | None:
        return self.checkpoints[0] if self.checkpoints else None

    def to_frame(self) -> pd.DataFrame:
        """One row per checkpoint, newest first: path, step, kind, size_gib, files, complete, problems, verified."""
        rows = [
            {
                "path": str(c.path),
                "step": c.step,
                "kind": c.kind,
                "size_gib": c.size_bytes / 2**30,
                "files": c.files,
                "complete": c.complete,
                "problems": "; ".join(c.problems),
                "verified": "; ".join(c.verified),
            }
            for c in self.checkpoints
        ]
        columns = ["path", "step", "kind", "size_gib", "files", "complete", "problems", "verified"]
        return pd.DataFrame(rows, columns=columns)


def verify_safetensors(path: Path) -> str | None:
    """None when the safetensors header is sane, else what is wrong (reads only the header)."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name}: {size} bytes, too small for a safetensors header"
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length == 0 or length > MAX_SAFETENSORS_HEADER or length > size - 8:
            return f"{path.name}: header length {length} does not fit a {size}-byte file (truncated?)"
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"{path.name}: header is not valid JSON"
    if not isinstance(header, dict):
        return f"{path.name}: header is not a JSON object"
    data_size = size - 8 - length
    end_max = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            width = _DTYPE_BYTES.get(str(info["dtype"]))
        except (KeyError, TypeError, ValueError):
            return f"{path.name}: tensor {name!r} has a malformed entry"
        if not 0 <= begin <= end <= data_size:
            return f"{path.name}: tensor {name!r} lies beyond the end of the file (truncated?)"
        if width is not None and (end - begin) != count * width:
            return f"{path.name}: tensor {name!r} has {end - begin} bytes for {count} x {info['dtype']}"
        end_max = max(end_max, end)
    if end_max != data_size:
        return f"{path.name}: tensors cover {end_max} of {data_size} data bytes"
    return None


def verify_torch_file(path: Path) -> str | None:
    """None when a torch checkpoint file looks whole, else what is wrong. Never unpickles.

    Zip checkpoints (``torch.save`` since 1.6, Lightning ``.ckpt``) must have a readable central directory
    with a ``data.pkl`` record; legacy pickle files must start with a pickle protocol marker.
    """
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            return f"{path.name}: zip central directory unreadable ({exc}); the file is truncated or corrupt"
        if not any(n.endswith("data.pkl") for n in names):
            return f"{path.name}: zip archive without a data.pkl record: not a torch checkpoint"
        return None
    if magic[:1] == b"\x80" and 2 <= magic[1] <= 5:
        return None  # legacy pickle: no container to verify without unpickling
    return f"{path.name}: neither a torch zip archive nor a pickle"


def _verify_file(path: Path, problems: list[str], verified: list[str]) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        problems.append(f"{path.name}: unreadable ({exc.strerror})")
        return
    if size == 0:
        problems.append(f"{path.name}: empty file")
        return
    if path.suffix == ".safetensors":
        problem = verify_safetensors(path)
        what = "safetensors header"
    elif path.suffix in {".pt", ".pth", ".bin", ".ckpt"}:
        problem = verify_torch_file(path)
        what = "torch zip directory"
    elif path.suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
            problem, what = None, "json"
        except (UnicodeDecodeError, json.JSONDecodeError):
            problem, what = f"{path.name}: not valid JSON (truncated?)", "json"
    else:
        return
    if problem:
        problems.append(problem)
    else:
        verified.append(f"{path.name}: {what}")


def _check_hf(folder: Path, problems: list[str], step: int, world_size: int | None) -> None:
    names = {p.name for p in folder.iterdir()}
    index = next((n for n in _WEIGHT_INDEXES if n in names), None)
    if index:
        try:
            shards = set(json.loads((folder / index).read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, TypeError):
            problems.append(f"{index}: unreadable weight map")
            shards = set()
        missing = sorted(s for s in shards if s not in names)
        if missing:
            problems.append(f"missing weight shards: {', '.join(missing)}")
    elif not any(n in names for n in _WEIGHT_FILES) and not any(n.startswith(_SHARDED_WEIGHTS) for n in names):
        problems.append("no model weights (model.safetensors / pytorch_model.bin)")
    for sharded in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(_FSDP_DIRS)):
        _check_dcp(sharded, problems)
    if "trainer_state.json" not in names:
        problems.append("missing trainer_state.json")
    else:
        try:
            state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
            if int(state.get("global_step", step)) != step:
                problems.append(f"trainer_state.json says global_step {state.get('global_step')}, folder says {step}")
        except (OSError, ValueError):
            pass  # reported by the JSON verification
    has_deepspeed = any(n.startswith("global_step") for n in names)
    has_fsdp_optimizer = any(n.startswith("optimizer_") for n in names)
    for inner in sorted(folder.glob("global_step*")):
        if inner.is_dir():
            inner_problems: list[str] = []
            _check_deepspeed(inner, inner_problems, world_size)
            problems.extend(f"{inner.name}: {p}" for p in inner_problems)
    if "optimizer.pt" not in names and not has_deepspeed and not has_fsdp_optimizer:
        problems.append("missing optimizer.pt (weights alone cannot resume the optimizer)")
    if "scheduler.pt" not in names and not has_deepspeed:
        problems.append("missing scheduler.pt")


def _check_deepspeed(folder: Path, problems: list[str], world_size: int | None) -> None:
    names = [p.name for p in folder.iterdir()]
    if not any(n.endswith("model_states.pt") for n in names):
        problems.append("no *model_states.pt file")
    optim = [n for n in names if n.endswith("optim_states.pt")]
    if not optim:
        problems.append("no *optim_states.pt file")
    elif world_size and len(optim) < world_size:
        problems.append(f"{len(optim)} optimizer shards for {world_size} ranks")


def _check_dcp(folder: Path, problems: list[str]) -> None:
    """A torch.distributed.checkpoint folder (FSDP sharded state): ``.metadata`` and its ``*.distcp`` shards."""
    names = [p.name for p in folder.iterdir()]
    shards = [n for n in names if n.endswith(".distcp")]
    if shards and ".metadata" not in names:
        problems.append(f"{folder.name}: .metadata missing beside {len(shards)} .distcp shard(s) (save cut short)")
    elif ".metadata" in names and not shards:
        problems.append(f"{folder.name}: .metadata without any .distcp shard")


def _check_megatron(folder: Path, problems: list[str]) -> None:
    if not any(folder.rglob("*.pt")) and not any(folder.rglob("*.distcp")):
        problems.append("no model_optim_rng.pt or *.distcp shard")


def inspect_checkpoint(path: Path, kind: str, step: int, *, world_size: int | None = None) -> Checkpoint:
    """Check one checkpoint directory or file: expected files present, sizes non-zero, containers sane."""
    problems: list[str] = []
    verified: list[str] = []
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        if not files:
            problems.append("empty folder")
        for f in files:
            _verify_file(f, problems, verified)
        if files and kind == "hf_trainer":
            _check_hf(path, problems, step, world_size)
        elif files and kind == "deepspeed":
            _check_deepspeed(path, problems, world_size)
        elif files and kind == "lightning_deepspeed":  # Lightning + DeepSpeed: <name>.ckpt/checkpoint/
            _check_deepspeed(path / "checkpoint" if (path / "checkpoint").is_dir() else path, problems, world_size)
        elif files and kind == "megatron":
            _check_megatron(path, problems)
        count = len(files)
    else:
        size, count = path.stat().st_size, 1
        _verify_file(path, problems, verified)
    return Checkpoint(path, step, kind, size, count, tuple(problems), tuple(verified))


def _match(path: Path) -> tuple[str, int] | None:
    patterns = _DIR_PATTERNS if path.is_dir() else _FILE_PATTERNS
    for kind, pattern in patterns:
        m = pattern.search(path.name)
        if m:
            return kind, int(m.group(1))
    return None


def find_checkpoints(
    root: str | os.PathLike[str], *, max_depth: int = 3, world_size: int | None = None
) -> CheckpointScan:
    """Find and check every checkpoint under ``root`` (up to ``max_depth`` folders deep), newest step first.

    A DeepSpeed ``latest`` or Megatron ``latest_checkpointed_iteration.txt`` pointer is read; a pointer to
    a missing or incomplete checkpoint is reported in ``notes`` and as a problem of that checkpoint.
    """
    base = Path(root).expanduser()
    if not base.exists():
        raise InputError("checkpoint folder does not exist", path=base, hint="pass the training output folder")
    if not base.is_dir():
        match = _match(base)
        if not match:
            raise InputError("not a recognised checkpoint file name", path=base, hint="e.g. step_1200.pt")
        return CheckpointScan(base.parent, (inspect_checkpoint(base, *match, world_size=world_size),))
    found: list[Checkpoint] = []
    pointer, pointer_file = None, None
    stack = [(base, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name in ("latest", "latest_checkpointed_iteration.txt") and entry.is_file() and pointer is None:
                pointer_file = entry
                pointer = entry.read_text(encoding="utf-8", errors="replace").strip()
                continue
            match = _match(entry)
            if match:
                found.append(inspect_checkpoint(entry, *match, world_size=world_size))
            elif entry.is_dir() and depth + 1 < max_depth:
                stack.append((entry, depth + 1))
    merged = found
    notes: list[str] = []
    if pointer is not None:
        target = _pointer_target(pointer, pointer_file)
        hit = [c for c in merged if c.path.name == target or (target.isdigit() and c.step == int(target))]
        if not hit:
            notes.append(f"{pointer_file.name} points to {pointer!r}, which is not on disk")
        elif not hit[0].complete:
            notes.append(f"{pointer_file.name} points to {pointer!r}, which is incomplete: pass the tag explicitly")
            flagged = replace(hit[0], problems=(*hit[0].problems, f"named by {pointer_file.name}"))
            merged = [flagged if c is hit[0] else c for c in merged]
    merged.sort(key=lambda c: (c.step, c.path.is_dir()), reverse=True)
    return CheckpointScan(base, tuple(merged), pointer, pointer_file, tuple(notes))


def _pointer_target(pointer: str, pointer_file: Path) -> str:
    if pointer_file.name == "latest_checkpointed_iteration.txt" and pointer.isdigit():
        return f"iter_{int(pointer):07d}"
    return pointer


LAUNCHERS = ("torchrun", "hf_trainer", "lightning", "deepspeed")


@dataclass(frozen=True)
class ResumePlan:
    """The command that resumes training from a checkpoint, and what to know before running it."""

    checkpoint: Checkpoint
    launcher: str
    command: str
    notes: tuple[str, ...] = ()


def build_resume_command(
    checkpoint: Checkpoint,
    launcher: str = "torchrun",
    *,
    script: str = "train.py",
    script_args: str = "",
    nproc_per_node: int = 8,
    nnodes: int = 1,
    rdzv_endpoint: str | None = None,
    resume_arg: str = "--resume",
    deepspeed_config: str = "ds_config.json",
) -> ResumePlan:
    """The exact command to resume from ``checkpoint`` with ``launcher`` (one of :data:`LAUNCHERS`).

    - ``hf_trainer``: ``torchrun ... script --resume_from_checkpoint PATH`` (``TrainingArguments`` parses it)
    - ``lightning``: ``python script fit --ckpt_path PATH`` (LightningCLI; ``trainer.fit(ckpt_path=...)`` in code)
    - ``deepspeed``: ``deepspeed ... script --deepspeed_config CFG --load_dir DIR --load_tag TAG``; the script
      must pass them to ``engine.load_checkpoint(load_dir, tag=tag)``, which otherwise reads ``latest``
    - ``torchrun``: ``torchrun ... script RESUME_ARG PATH`` with ``resume_arg`` the script's own flag
    """
    if launcher not in LAUNCHERS:
        raise InputError(f"unknown launcher {launcher!r}", column="launcher", hint="one of: " + ", ".join(LAUNCHERS))
    q = shlex.quote
    path = q(str(checkpoint.path))
    extra = f" {script_args.strip()}" if script_args.strip() else ""
    dist = f"--nnodes={nnodes} --nproc_per_node={nproc_per_node}"
    if nnodes > 1:
        dist += f" --rdzv_backend=c10d --rdzv_endpoint={q(rdzv_endpoint or '$MASTER_ADDR:29500')}"
    notes: list[str] = []
    if not checkpoint.complete:
        notes.append("this checkpoint is incomplete: resuming from it will fail or silently lose state")
    if launcher == "hf_trainer":
        command = f"torchrun {dist} {q(script)}{extra} --resume_from_checkpoint {path}"
        notes.append("keep output_dir and the other training arguments as in the interrupted run")
    elif launcher == "lightning":
        command = f"python {q(script)} fit{extra} --ckpt_path {path}"
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
            f"deepspeed{nodes} --num_gpus={nproc_per_node} {q(script)}{extra} --deepspeed_config {q(deepspeed_config)}"
            f" --load_dir {q(str(load_dir))} --load_tag {q(tag)}"
        )
        notes.append(f"the script must call engine.load_checkpoint({str(load_dir)!r}, tag={tag!r})")
        notes.append(f"or point {load_dir / 'latest'} at {tag} (write the tag into it) before resuming")
    else:
        command = f"torchrun {dist} {q(script)}{extra} {resume_arg} {path}"
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
    resume = scan.resume_before(before_step)
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
