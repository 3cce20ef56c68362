"""Sample training incidents: a multi-rank hang with its checkpoints, and a GPU out-of-memory job.

``training_nccl_hang``: an 8-rank Llama fine-tune (HF Trainer under torchrun). From step 1330 every rank
runs 30 % slower (they wait for rank 5). Rank 5 logs a NaN loss at steps 1510 and 1520 and stops; the
other ranks reach step 1530, wait in an ALLREDUCE and hit the NCCL watchdog ten minutes later; torchrun
then names rank 0's SIGABRT as the "first observed failure".
Rank 3 has a loss spike at step 820 that recovers.
``training_nccl_hang_checkpoints``: its output folder: complete ``checkpoint-500`` and ``checkpoint-1000``,
and ``checkpoint-1500`` cut short by the teardown (weights truncated, no optimizer state, no trainer state).
``gpu_oom_job`` / ``gpu_oom_job_config``: a 7B full fine-tune on 8 x H100 80GB with ZeRO-1, micro-batch 4,
4096 tokens and no activation checkpointing: the real PyTorch CUDA OOM message, and the job's YAML.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario
from opskit.samples.logtext import torchrun_failure_report

RANKS = 8
HANG_RANK = 5
SPIKE_RANK, SPIKE_STEP = 3, 820
LAST_STEP, HANG_LAST_STEP = 1530, 1520
NAN_STEPS = (1510, 1520)
SLOW_FROM_STEP = 1330
START = pd.Timestamp("2026-11-27 01:00:00")
SECONDS_PER_STEP = 1.6
RUN_DIR = "/data/runs/llama-7b-sft"


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S,") + f"{ts.microsecond // 1000:03d}"


def _glog(ts: pd.Timestamp) -> str:
    return ts.strftime("%m%d %H:%M:%S.%f")


def _rank_log(rank: int, rng: np.random.Generator) -> list[str]:
    lines = [
        f"{_stamp(START)} INFO torch.distributed.distributed_c10d: Rank {rank}: Completed store-based barrier for "
        "key:store_based_barrier_key:1 with 8 nodes.",
        f"[rank{rank}]:[W1127 01:00:03.512000 2811 torch/utils/checkpoint.py:92] UserWarning: None of the inputs have "
        "requires_grad=True. Gradients will be None",
    ]
    if rank == 0:
        lines.append(f"{_stamp(START)} INFO trainer: ***** Running training *****  Num examples = 1,254,400")
    last = HANG_LAST_STEP if rank == HANG_RANK else LAST_STEP
    for step in range(10, last + 1, 10):
        ts = START + pd.Timedelta(seconds=step * SECONDS_PER_STEP + float(rng.uniform(0, 0.3)))
        loss = 1.9 + 6.5 * math.exp(-step / 260) + float(rng.normal(0, 0.03))
        if rank == SPIKE_RANK and step == SPIKE_STEP:
            loss *= 3.4
        lr = 2e-5 * min(1.0, step / 100) * (0.5 * (1 + math.cos(math.pi * step / 3000)))
        grad = 0.8 + float(rng.uniform(0, 0.3))
        tokens = 41000 + float(rng.normal(0, 400))
        if step >= SLOW_FROM_STEP:  # rank 5's GPU throttles before the hang; the synchronous ranks wait for it
            tokens *= 0.7
        loss_text, grad_text = f"{loss:.4f}", f"{grad:.3f}"
        if rank == HANG_RANK and step in NAN_STEPS:
            loss_text, grad_text = "nan", "nan"
        lines.append(
            f"{_stamp(ts)} INFO train.py:214 step={step} loss={loss_text} lr={lr:.3e} grad_norm={grad_text} "
            f"tokens_per_s={tokens:.0f}"
        )
        if rank == 0 and step % 500 == 0:
            lines.append(f"{_stamp(ts)} INFO trainer: Saving model checkpoint to {RUN_DIR}/checkpoint-{step}")
    if rank != HANG_RANK:
        ts = START + pd.Timedelta(seconds=LAST_STEP * SECONDS_PER_STEP + 600 + rank * 0.01)
        seq = 48213
        lines += [
            f"[rank{rank}]:[E{_glog(ts)} 2811 ProcessGroupNCCL.cpp:616] [Rank {rank}] Watchdog caught collective "
            f"operation timeout: WorkNCCL(SeqNum={seq}, OpType=ALLREDUCE, NumelIn=262144000, NumelOut=262144000, "
            f"Timeout(ms)=600000) ran for 600031 milliseconds before timing out.",
            f"[rank{rank}]:[E{_glog(ts)} 2811 ProcessGroupNCCL.cpp:1785] [PG 0 (default_pg) Rank {rank}] Exception "
            f"(either an error or timeout) detected by watchdog at work: {seq}, last enqueued NCCL work: {seq}, "
            f"last completed NCCL work: {seq - 1}.",
            f"[rank{rank}]:[E{_glog(ts)} 2811 ProcessGroupNCCL.cpp:630] [Rank {rank}] Some NCCL operations have "
            "failed or timed out. Due to the asynchronous nature of CUDA kernels, subsequent GPU operations might "
            "run on corrupted/incomplete data.",
            f"[rank{rank}]:[E{_glog(ts)} 2811 ProcessGroupNCCL.cpp:636] [Rank {rank}] To avoid data inconsistency, "
            "we are taking the entire process down.",
        ]
    return lines


def _torchrun_log() -> list[str]:
    ts = START + pd.Timedelta(seconds=LAST_STEP * SECONDS_PER_STEP + 603)
    return [
        f"W{_glog(START)} 2790 torch/distributed/run.py:779] Setting OMP_NUM_THREADS environment variable for each "
        "process to be 1 in default, to avoid your system being overloaded, please further tune the variable for "
        "optimal performance in your application as needed.",
        f"E{_glog(ts)} 2790 torch/distributed/elastic/multiprocessing/api.py:833] failed (exitcode: -6) "
        "local_rank: 0 (pid: 2811) of binary: /usr/bin/python3",
        *torchrun_failure_report(
            time=ts.strftime("%Y-%m-%d_%H:%M:%S"),
            host="gpu-node-07",
            rank=0,
            local_rank=0,
            exitcode=-6,
            pid=2811,
            traceback="Signal 6 (SIGABRT) received by PID 2811",
        ),
    ]


@scenario("training_nccl_hang", "8-rank run: rank 5 logs NaN loss and stops first, the others hit the NCCL watchdog")
def write_training_nccl_hang(folder: Path) -> Path:
    logs = folder / "logs"
    logs.mkdir(parents=True)
    rng = np.random.default_rng(20261127)
    for rank in range(RANKS):
        (logs / f"rank{rank}.log").write_text("\n".join(_rank_log(rank, rng)) + "\n", encoding="utf-8")
    (logs / "torchrun.log").write_text("\n".join(_torchrun_log()) + "\n", encoding="utf-8")
    return logs


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]], *, fill: int = 0) -> bytes:
    """A valid safetensors file (u64 little-endian header length, JSON header, packed tensor data)."""
    widths = {"F32": 4, "BF16": 2, "F16": 2}
    header: dict[str, dict] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = widths[dtype] * int(np.prod(shape))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the writer pads the header to 8 bytes
    return struct.pack("<Q", len(raw)) + raw + bytes([fill]) * offset


def torch_zip_bytes(path: Path, payload: int = 4096) -> None:
    """A file laid out like ``torch.save``'s zip archive (data.pkl, data/0, version); nothing to unpickle."""
    stem = path.stem
    entries = {
        f"{stem}/data.pkl": b"\x80\x02}q\x00X\x05\x00\x00\x00stateq\x01s.",
        f"{stem}/data/0": b"\x00" * payload,
        f"{stem}/version": b"3\n",
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():  # a fixed date keeps the bytes identical run after run
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 27, 1, 0, 0)), data)


_TENSORS = {
    "model.embed_tokens.weight": ("BF16", [512, 64]),
    "model.layers.0.self_attn.q_proj.weight": ("BF16", [64, 64]),
    "model.layers.0.mlp.up_proj.weight": ("BF16", [172, 64]),
    "model.norm.weight": ("F32", [64]),
}


def _hf_checkpoint(root: Path, step: int, *, broken: bool = False) -> None:
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    weights = safetensors_bytes(_TENSORS, fill=step % 251)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}), encoding="utf-8")
    if broken:  # the teardown killed the writer: weights cut short, no optimizer, no trainer state
        (folder / "model.safetensors").write_bytes(weights[: len(weights) // 3])
        (folder / "scheduler.pt").write_bytes(b"")
        return
    (folder / "model.safetensors").write_bytes(weights)
    for name in ("optimizer.pt", "scheduler.pt", "rng_state_0.pth", "training_args.bin"):
        torch_zip_bytes(folder / name, payload=8192 if name == "optimizer.pt" else 512)
    state = {"global_step": step, "epoch": step / 4900, "max_steps": 3000, "log_history": []}
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2), encoding="utf-8")


@scenario("training_nccl_hang_checkpoints", "checkpoints of training_nccl_hang: 500 and 1000 complete, 1500 cut short")
def write_training_nccl_hang_checkpoints(folder: Path) -> Path:
    out = folder / "llama-7b-sft"
    for step in (500, 1000, 1500):
        _hf_checkpoint(out, step, broken=step == 1500)
    return out


OOM_MESSAGE = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.96 GiB. GPU 5 has a total capacity of "
    "79.11 GiB of which 1.02 GiB is free. Including non-PyTorch memory, this process has 78.08 GiB memory in use. "
    "Of the allocated memory 76.31 GiB is allocated by PyTorch, and 1.14 GiB is reserved by PyTorch but "
    "unallocated. If reserved but unallocated memory is large try setting "
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory "
    "Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
)

JOB_YAML = """\
# llama-7b full fine-tune, 1 node x 8 H100 80GB, DeepSpeed ZeRO-1
model: meta-llama/Llama-2-7b-hf
params_b: 6.74
num_hidden_layers: 32
hidden_size: 4096
num_attention_heads: 32
vocab_size: 32000
precision: bf16
optimizer: adamw
per_device_train_batch_size: 4
gradient_accumulation_steps: 4
max_seq_length: 4096
num_gpus: 8
zero_stage: 1
gradient_checkpointing: false
gpu_memory_gib: 79.11
"""


def _oom_log() -> list[str]:
    t0 = pd.Timestamp("2026-11-28 09:12:03")
    lines = [
        f"[INFO|trainer.py:2128] {_stamp(t0)} >> ***** Running training *****",
        f"[INFO|trainer.py:2129] {_stamp(t0)} >>   Num examples = 52,002",
        f"[INFO|trainer.py:2132] {_stamp(t0)} >>   Instantaneous batch size per device = 4",
        f"[INFO|trainer.py:2136] {_stamp(t0)} >>   Gradient Accumulation steps = 4",
        "[2026-11-28 09:12:04,101] [INFO] [config.py:1000:print]   zero_optimization ............ {'stage': 1}",
        "  0%|          | 0/1625 [00:00<?, ?it/s]",
        "[rank5]: Traceback (most recent call last):",
        '[rank5]:   File "/workspace/train.py", line 188, in <module>',
        "[rank5]:     trainer.train()",
        '[rank5]:   File "/usr/local/lib/python3.11/site-packages/transformers/trainer.py", line 1938, in train',
        "[rank5]:     return inner_training_loop(",
        '[rank5]:   File "/usr/local/lib/python3.11/site-packages/transformers/models/llama/modeling_llama.py", '
        "line 1187, in forward",
        "[rank5]:     logits = logits.float()",
        f"[rank5]: {OOM_MESSAGE}",
        "E1128 09:12:41.004000 2790 torch/distributed/elastic/multiprocessing/api.py:833] failed (exitcode: 1) "
        "local_rank: 5 (pid: 3102) of binary: /usr/bin/python3",
    ]
    return lines


def _write_oom(folder: Path) -> tuple[Path, Path]:
    log = folder / "train.log"
    log.write_text("\n".join(_oom_log()) + "\n", encoding="utf-8")
    config = folder / "job.yaml"
    config.write_text(JOB_YAML, encoding="utf-8")
    return log, config


@scenario("gpu_oom_job", "7B fine-tune on 8 x H100 80GB that dies with a CUDA OOM on rank 5 (log)")
def write_gpu_oom_job(folder: Path) -> Path:
    return _write_oom(folder)[0]


@scenario("gpu_oom_job_config", "the job config (YAML) of gpu_oom_job: 7B, bf16, ZeRO-1, micro-batch 4, 4096 tokens")
def write_gpu_oom_job_config(folder: Path) -> Path:
    return _write_oom(folder)[1]
