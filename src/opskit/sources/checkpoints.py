"""Checkpoints on disk: find them and check that each is complete (files present, sane, never unpickled).

Recognised layouts (the step is read from the name):

- Hugging Face Trainer: ``checkpoint-1200/`` (weights, ``trainer_state.json``, ``optimizer.pt``, ``scheduler.pt``)
- DeepSpeed: ``global_step1200/`` (``mp_rank_00_model_states.pt`` + ``*optim_states.pt``) and the ``latest`` file
- Megatron-LM: ``iter_0001200/`` and ``latest_checkpointed_iteration.txt``
- Lightning: ``epoch=3-step=1200.ckpt``; plain PyTorch: ``step_1200.pt``, ``model_step-1200.pth``, ``ckpt_1200.bin``

Each checkpoint's files are verified without loading them (:mod:`opskit.sources.checkpoint_files`);
each layout's expected files are checked here. Which checkpoint to resume from, and the command that
resumes it, is decided in :mod:`opskit.analyses.training.resume`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from opskit.errors import InputError
from opskit.sources.checkpoint_files import verify_file

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
_SHARDED_WEIGHTS = ("global_step", "pytorch_model_fsdp")
_FSDP_DIRS = ("pytorch_model_fsdp", "optimizer_")


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
    """All checkpoints under a folder, newest first, and the pointer file (``latest``) when there is one."""

    root: Path
    checkpoints: tuple[Checkpoint, ...]
    latest_pointer: str | None = None
    pointer_file: Path | None = None
    notes: tuple[str, ...] = field(default=())

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
            verify_file(f, problems, verified)
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
        verify_file(path, problems, verified)
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
