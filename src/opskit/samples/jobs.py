"""Sample failed-job logs for triage.

``job_multirank_oom``: a 4-rank torchrun job (one node, DDP, bf16). Rank 3 hits a CUDA out-of-memory
on an unusually long batch at 09:11:38 (fragmentation: 12.9 GiB reserved but unallocated); ranks 0-2
wait in the next ALLREDUCE and hit the NCCL watchdog ten minutes later (SeqNum 9020); torchrun's
report names rank 3 as the first observed failure, with ``error_file: <N/A>``. Around it: the noise
of a healthy run (NCCL INFO lines, a deprecation warning, fp16-style loss-scale overflows that recover).
``job_healthy``: the same job finishing normally, with the same harmless warnings.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from opskit.samples import scenario
from opskit.samples.logtext import torchrun_failure_report

RANKS = 4
OOM_RANK = 3
START = pd.Timestamp("2026-11-28 09:00:00")
OOM_AT = pd.Timestamp("2026-11-28 09:11:38.520")
WATCHDOG_AT = pd.Timestamp("2026-11-28 09:21:40.881")
SECONDS_PER_STEP = 0.6
SEQ_AT_HANG = 9020
PIDS = {r: 4100 + r for r in range(RANKS)}

OOM_MESSAGE = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 8.00 GiB. GPU 3 has a total capacity of 79.11 GiB "
    "of which 5.12 GiB is free. Including non-PyTorch memory, this process has 73.98 GiB memory in use. Of the "
    "allocated memory 60.35 GiB is allocated by PyTorch, and 12.91 GiB is reserved by PyTorch but unallocated. If "
    "reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
    "fragmentation.  See documentation for Memory Management  "
    "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
)


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S,") + f"{ts.microsecond // 1000:03d}"


def _glog(level: str, ts: pd.Timestamp, pid: int, where: str) -> str:
    return f"[{level}{ts.strftime('%m%d %H:%M:%S.%f')} {pid} {where}]"


def _preamble(rank: int) -> list[str]:
    pid = PIDS[rank]
    host = "gpu-node-01"
    return [
        f"[rank{rank}]:{_glog('I', START, pid, 'torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:852')} "
        f"[PG 0 Rank {rank}] ProcessGroupNCCL initialization options: size: {RANKS}, global rank: {rank}, "
        "TIMEOUT(ms): 600000",
        f"{host}:{pid}:{pid + 80} [{rank}] NCCL INFO Bootstrap : Using eth0:10.1.0.11<0>",
        f"{host}:{pid}:{pid + 80} [{rank}] NCCL INFO NCCL version 2.21.5+cuda12.4",
        f"{host}:{pid}:{pid + 80} [{rank}] NCCL INFO Channel 00/24 :    0   1   2   3",
        f"{host}:{pid}:{pid + 80} [{rank}] NCCL INFO comm 0x55d0 rank {rank} nranks {RANKS} cudaDev {rank} "
        "busId 18000 - Init COMPLETE",
        f"[rank{rank}]:/usr/local/lib/python3.11/dist-packages/torch/cuda/amp/grad_scaler.py:120: FutureWarning: "
        "`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` "
        "instead.",
    ]


def _steps(rank: int, rng: np.random.Generator, last_step: int) -> list[str]:
    lines = []
    for step in range(10, last_step + 1, 10):
        ts = START + pd.Timedelta(seconds=step * SECONDS_PER_STEP + float(rng.uniform(0, 0.05)))
        loss = 2.1 + 5.0 * math.exp(-step / 300) + float(rng.normal(0, 0.02))
        lr = 3e-4 * min(1.0, step / 200)
        tps = 98_000 + float(rng.normal(0, 400))
        lines.append(f"[rank{rank}]:{_stamp(ts)} INFO step {step} | loss {loss:.4f} | lr {lr:.2e} | tokens/s {tps:.0f}")
        if step in (120, 130):
            lines.append(
                f"[rank{rank}]:{_stamp(ts)} INFO Gradient overflow.  Skipping step, loss scaler 0 reducing loss "
                "scale to 32768.0"
            )
    return lines


def _oom_tail(rank: int) -> list[str]:
    return [
        f"[rank{rank}]:{_stamp(OOM_AT - pd.Timedelta(seconds=2))} INFO eval batch with long sequences (max_len=16384)",
        f"[rank{rank}]: Traceback (most recent call last):",
        f'[rank{rank}]:   File "/workspace/train.py", line 233, in <module>',
        f"[rank{rank}]:     main()",
        f'[rank{rank}]:   File "/workspace/train.py", line 201, in main',
        f"[rank{rank}]:     logits = model(input_ids).logits",
        f"[rank{rank}]: {OOM_MESSAGE}",
    ]


def _watchdog_tail(rank: int) -> list[str]:
    ts = WATCHDOG_AT + pd.Timedelta(milliseconds=21 * rank)
    pid = PIDS[rank]
    return [
        f"[rank{rank}]:{_glog('E', ts, pid, 'torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:616')} [Rank {rank}] "
        f"Watchdog caught collective operation timeout: WorkNCCL(SeqNum={SEQ_AT_HANG}, OpType=ALLREDUCE, "
        f"NumelIn=4194304, NumelOut=4194304, Timeout(ms)=600000) ran for {600112 + 9 * rank} milliseconds before "
        "timing out.",
        f"[rank{rank}]:{_glog('E', ts, pid, 'torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1785')} "
        f"[PG 0 (default_pg) Rank {rank}] Exception (either an error or timeout) detected by watchdog at work: "
        f"{SEQ_AT_HANG}, last enqueued NCCL work: {SEQ_AT_HANG}, last completed NCCL work: {SEQ_AT_HANG - 1}.",
        f"[rank{rank}]:{_glog('E', ts, pid, 'torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:630')} [Rank {rank}] "
        "To avoid data inconsistency, we are taking the entire process down.",
    ]


def _launcher(failed: bool) -> list[str]:
    head = [
        "W1128 09:00:00.512000 4090 torch/distributed/run.py:793] Setting OMP_NUM_THREADS environment variable "
        "for each process to be 1 in default, to avoid your system being overloaded, please further tune the "
        "variable for optimal performance in your application as needed.",
    ]
    if not failed:
        return [
            *head,
            "I1128 09:40:02.100000 4090 torch/distributed/elastic/agent/server/api.py:879] "
            "[default] worker group successfully finished. Waiting 300 seconds for other agents to finish.",
        ]
    return [
        *head,
        "E1128 09:22:12.004000 4090 torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: 1) "
        "local_rank: 3 (pid: 4103) of binary: /usr/bin/python3",
        *torchrun_failure_report(
            time="2026-11-28_09:11:38",
            host="gpu-node-01",
            rank=3,
            local_rank=3,
            exitcode=1,
            pid=4103,
            traceback="To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
        ),
    ]


def _write_job(folder: Path, *, failed: bool, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    job = folder / "job-8812"
    job.mkdir(parents=True)
    oom_step = int((OOM_AT - START).total_seconds() / SECONDS_PER_STEP) // 10 * 10
    for rank in range(RANKS):
        last = oom_step if failed else 3000
        lines = _preamble(rank) + _steps(rank, rng, last)
        if failed:
            lines += _oom_tail(rank) if rank == OOM_RANK else _watchdog_tail(rank)
        (job / f"rank{rank}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (job / "launcher.log").write_text("\n".join(_launcher(failed)) + "\n", encoding="utf-8")
    return job


@scenario("job_multirank_oom", "per-rank logs of a 4-rank job: rank 3 hits CUDA OOM, ranks 0-2 then time out in NCCL")
def write_job_multirank_oom(folder: Path) -> Path:
    return _write_job(folder, failed=True, seed=8812)


@scenario("job_healthy", "per-rank logs of the same 4-rank job finishing normally, full of harmless warnings")
def write_job_healthy(folder: Path) -> Path:
    return _write_job(folder, failed=False, seed=8813)
