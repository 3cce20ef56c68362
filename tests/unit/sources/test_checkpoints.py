"""Checkpoints on disk: discovery by name, completeness, container checks, resume commands."""

from __future__ import annotations

import json
import shlex
import struct
import zipfile
from pathlib import Path

import pytest

from opskit.analyses.training.resume import build_resume_command, judge_checkpoints, resume_point
from opskit.analyses.training.settings import TrainingSettings
from opskit.errors import InputError
from opskit.sources.checkpoint_files import verify_safetensors, verify_torch_file
from opskit.sources.checkpoints import find_checkpoints


def safetensors_bytes(tensors: dict[str, tuple[str, list[int], int]]) -> bytes:
    """A safetensors file per the format spec: u64 LE header length, JSON header, packed data."""
    header, offset = {}, 0
    for name, (dtype, shape, width) in tensors.items():
        size = width
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * offset


def torch_zip(path: Path) -> Path:
    """The layout torch.save writes: <name>/data.pkl, <name>/data/0, <name>/version (stored, no pickle run)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/data/0", b"\0" * 256)
        archive.writestr("archive/version", b"3\n")
    return path


def hf_checkpoint(root: Path, step: int, *, drop: tuple[str, ...] = ()) -> Path:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(safetensors_bytes({"w": ("BF16", [4, 4], 2), "b": ("F32", [4], 4)}))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": []}))
    torch_zip(folder / "optimizer.pt")
    torch_zip(folder / "scheduler.pt")
    torch_zip(folder / "rng_state.pth")
    for name in drop:
        (folder / name).unlink()
    return folder


def test_safetensors_header_checks(tmp_path):
    good = tmp_path / "good.safetensors"
    good.write_bytes(safetensors_bytes({"w": ("F16", [8, 2], 2)}))
    assert verify_safetensors(good) is None
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-5])
    assert "cover" in verify_safetensors(truncated) or "beyond" in verify_safetensors(truncated)
    huge_header = tmp_path / "huge.safetensors"
    huge_header.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    assert verify_safetensors(huge_header) is not None
    not_json = tmp_path / "garbage.safetensors"
    not_json.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe\x00\x01")
    assert verify_safetensors(not_json) is not None


def test_torch_zip_central_directory_is_checked_without_unpickling(tmp_path):
    good = torch_zip(tmp_path / "step_10.pt")
    assert verify_torch_file(good) is None
    cut = tmp_path / "step_20.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # central directory lost
    assert "central directory" in verify_torch_file(cut)
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"\x80\x02\x8a\x0alz\xfc\x9cF\xf9 j\xa8P\x19.")
    assert verify_torch_file(legacy) is None
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    assert verify_torch_file(text) is not None


def test_newest_complete_hf_checkpoint_is_chosen_over_an_incomplete_newer_one(tmp_path):
    hf_checkpoint(tmp_path, 500)
    hf_checkpoint(tmp_path, 1000)
    newer = hf_checkpoint(tmp_path, 1500, drop=("optimizer.pt", "trainer_state.json"))
    scan = find_checkpoints(tmp_path)
    assert [c.step for c in scan.checkpoints] == [1500, 1000, 500]
    assert scan.newest.path == newer and not scan.newest.complete
    assert any("optimizer.pt" in p for p in scan.newest.problems)
    assert any("trainer_state.json" in p for p in scan.newest.problems)
    assert resume_point(scan).step == 1000
    assert any("safetensors" in v for v in resume_point(scan).verified)
    frame = scan.to_frame()
    assert list(frame["complete"]) == [False, True, True]


def test_zero_size_and_truncated_weights_make_a_checkpoint_incomplete(tmp_path):
    empty = hf_checkpoint(tmp_path, 10)
    (empty / "optimizer.pt").write_bytes(b"")
    cut = hf_checkpoint(tmp_path, 20)
    data = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(data[:-10])
    scan = find_checkpoints(tmp_path)
    assert resume_point(scan) is None
    assert any("empty file" in p for p in scan.checkpoints[1].problems)
    assert any("model.safetensors" in p for p in scan.checkpoints[0].problems)


def test_sharded_weights_need_every_shard(tmp_path):
    folder = hf_checkpoint(tmp_path, 30)
    (folder / "model.safetensors").unlink()
    shard = safetensors_bytes({"w": ("F32", [2], 4)})
    (folder / "model-00001-of-00002.safetensors").write_bytes(shard)
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    problems = find_checkpoints(tmp_path).checkpoints[0].problems
    assert any("model-00002-of-00002.safetensors" in p for p in problems)


def test_deepspeed_latest_pointing_at_an_incomplete_tag_is_reported(tmp_path):
    for step, ranks in ((1000, 4), (1500, 2)):
        folder = tmp_path / f"global_step{step}"
        folder.mkdir()
        torch_zip(folder / "mp_rank_00_model_states.pt")
        for r in range(ranks):
            torch_zip(folder / f"bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt")
    (tmp_path / "latest").write_text("global_step1500")
    scan = find_checkpoints(tmp_path, world_size=4)
    assert scan.latest_pointer == "global_step1500"
    assert resume_point(scan).step == 1000
    assert any("incomplete" in n for n in scan.notes)
    plan = build_resume_command(resume_point(scan), TrainingSettings(launcher="deepspeed", nproc_per_node=4))
    assert "--load_tag global_step1000" in plan.command
    assert any("tag='global_step1000'" in n for n in plan.notes)


def test_lightning_and_plain_torch_files_are_found_by_step(tmp_path):
    torch_zip(tmp_path / "epoch=3-step=1200.ckpt")
    torch_zip(tmp_path / "step_800.pt")
    (tmp_path / "epoch=4-step=1600.ckpt").write_bytes(b"PK\x03\x04 partial")
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    scan = find_checkpoints(tmp_path)
    assert [(c.step, c.kind) for c in scan.checkpoints] == [(1600, "lightning"), (1200, "lightning"), (800, "torch")]
    assert resume_point(scan).step == 1200


def test_megatron_iteration_folders(tmp_path):
    folder = tmp_path / "iter_0002000" / "mp_rank_00"
    folder.mkdir(parents=True)
    torch_zip(folder / "model_optim_rng.pt")
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("2000")
    scan = find_checkpoints(tmp_path)
    assert resume_point(scan).step == 2000 and resume_point(scan).kind == "megatron"
    assert scan.notes == ()


def test_resume_commands_quote_paths_and_name_the_checkpoint(tmp_path):
    folder = hf_checkpoint(tmp_path / "run with space", 1000)
    ckpt = resume_point(find_checkpoints(folder.parent))
    hf = build_resume_command(ckpt, TrainingSettings(launcher="hf_trainer", script="train.py", nproc_per_node=8))
    argv = shlex.split(hf.command)
    assert argv[:3] == ["torchrun", "--nnodes=1", "--nproc_per_node=8"]
    assert argv[argv.index("--resume_from_checkpoint") + 1] == str(folder)
    multi = build_resume_command(
        ckpt, TrainingSettings(launcher="torchrun", nnodes=2, rdzv_endpoint="head:29500", resume_arg="--ckpt")
    )
    assert "--rdzv_endpoint=head:29500" in multi.command and shlex.split(multi.command)[-2] == "--ckpt"
    lightning = build_resume_command(ckpt, TrainingSettings(launcher="lightning", script="main.py"))
    assert shlex.split(lightning.command)[:3] == ["python", "main.py", "fit"]
    with pytest.raises(InputError):
        build_resume_command(ckpt, TrainingSettings(launcher="slurm"))


def test_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as info:
        find_checkpoints(tmp_path / "missing")
    assert info.value.path.endswith("missing")


def test_hf_checkpoint_with_fsdp_sharded_state(tmp_path):
    for step, cut in ((200, False), (400, True)):
        folder = hf_checkpoint(tmp_path, step, drop=("model.safetensors", "optimizer.pt"))
        for sub in ("pytorch_model_fsdp_0", "optimizer_0"):
            (folder / sub).mkdir()
            for rank in range(2):
                (folder / sub / f"__{rank}_0.distcp").write_bytes(b"\x01" * 64)
            if not (cut and sub == "optimizer_0"):
                (folder / sub / ".metadata").write_bytes(b"\x80\x04metadata")
    scan = find_checkpoints(tmp_path)
    newest, older = scan.checkpoints
    assert older.complete, older.problems
    assert not newest.complete and any("optimizer_0: .metadata missing" in p for p in newest.problems)
    assert resume_point(scan).step == 200


def test_lightning_deepspeed_checkpoint_folder(tmp_path):
    folder = tmp_path / "epoch=1-step=600.ckpt" / "checkpoint"
    folder.mkdir(parents=True)
    torch_zip(folder / "mp_rank_00_model_states.pt")
    torch_zip(folder / "zero_pp_rank_0_mp_rank_00_optim_states.pt")
    scan = find_checkpoints(tmp_path)
    assert [(c.step, c.kind, c.complete) for c in scan.checkpoints] == [(600, "lightning_deepspeed", True)]
    (folder / "zero_pp_rank_0_mp_rank_00_optim_states.pt").unlink()
    assert not find_checkpoints(tmp_path).checkpoints[0].complete


def test_judge_checkpoints_warns_on_newer_incomplete_and_fails_without_a_resume_point(tmp_path):
    hf_checkpoint(tmp_path, 100)
    hf_checkpoint(tmp_path, 200, drop=("trainer_state.json",))
    scan = find_checkpoints(tmp_path)
    rows = {(v.name, v.subject): v for v in judge_checkpoints(scan, build_resume_command(resume_point(scan)))}
    assert rows[("checkpoint complete", "checkpoint-200")].status == "WARN"
    assert rows[("checkpoint complete", "checkpoint-100")].status == "PASS"
    resume = rows[("resume point", "checkpoint-100")]
    assert resume.status == "PASS" and resume.next_step.startswith("torchrun ")
    (tmp_path / "checkpoint-100" / "optimizer.pt").unlink()
    rows = judge_checkpoints(find_checkpoints(tmp_path))
    assert [v.status for v in rows if v.name == "resume point"] == ["FAIL"]


def test_deepspeed_resume_of_an_hf_checkpoint_uses_its_inner_engine_tag(tmp_path):
    folder = hf_checkpoint(tmp_path, 700, drop=("optimizer.pt", "scheduler.pt"))
    inner = folder / "global_step700"
    inner.mkdir()
    torch_zip(inner / "mp_rank_00_model_states.pt")
    torch_zip(inner / "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt")
    (folder / "latest").write_text("global_step700")
    ckpt = resume_point(find_checkpoints(tmp_path))
    assert ckpt is not None and ckpt.step == 700
    argv = shlex.split(build_resume_command(ckpt, TrainingSettings(launcher="deepspeed")).command)
    assert argv[argv.index("--load_dir") + 1] == str(folder)
    assert argv[argv.index("--load_tag") + 1] == "global_step700"
    plain = hf_checkpoint(tmp_path / "other", 800)
    plan = build_resume_command(resume_point(find_checkpoints(plain.parent)), TrainingSettings(launcher="deepspeed"))
    assert any("no DeepSpeed engine state" in n for n in plan.notes)


def test_resume_point_moves_before_the_first_nan(tmp_path):
    for step in (500, 1000, 1500):
        hf_checkpoint(tmp_path, step)
    scan = find_checkpoints(tmp_path)
    assert resume_point(scan).step == 1500
    assert resume_point(scan, before_step=1200).step == 1000
    assert resume_point(scan, before_step=400) is None
    rows = {(v.name, v.subject): v for v in judge_checkpoints(scan, before_step=1200)}
    assert rows[("checkpoint complete", "checkpoint-1500")].status == "WARN"
    assert rows[("checkpoint complete", "checkpoint-1000")].status == "PASS"
    assert rows[("resume point", "checkpoint-1000")].status == "PASS"
    assert [v.status for v in judge_checkpoints(scan, before_step=400) if v.name == "resume point"] == ["FAIL"]
