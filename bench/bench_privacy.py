"""Masking throughput: ``opskit mask`` (combined screen, batched) beside a line-by-line ``re.sub`` loop.

The baseline applies the same patterns (validators included) to every line, the way a hand-written
script would; both run in this process on one core and are timed in CPU seconds (the machine may be
shared). Two logs: ``typical`` (a training log, 2 % of lines carry PII or a secret among timestamps,
UUIDs, hashes, versions and losses) and ``dense`` (half the lines carry some, like an access log).
The baseline is slow, so it runs on the first --baseline-mb of each log. Peak memory is that of
``opskit mask`` run as a child process on the typical log. Targets: >= 50 MB/s, peak < 200 MiB.
Usage: python bench/bench_privacy.py [--quick] [--mb N]   (the issue's target size: --mb 1024)
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from common import print_table, run_timed, write_results

from opskit.privacy import MaskingPolicy
from opskit.privacy.detectors import RULES
from opskit.privacy.screen import engine
from opskit.privacy.stream import mask_lines

_TYPICAL = [
    "[rank{r}]:[I1128 10:00:{s:02d}.123456 ProcessGroupNCCL.cpp:616] step {n} loss {l:.4f} lr 3.0e-04 tokens/s 51234",
    "2026-11-28T10:00:{s:02d}.123Z INFO trainer.py:412 epoch 3 step {n}/120000 loss={l:.5f} mem 71.2GiB",
    '{{"ts": 17327808{n:06d}, "level": "info", "step": {n}, "run_id": "550e8400-e29b-41d4-a716-446655440000"}}',
    "W1128 10:00:{s:02d}.000 {n} agent.py:90 restart 0 of 3; sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c",
    "NCCL INFO Channel {r:02d}/32 : 0[3b000] -> 1[5e000] via P2P/IPC CUDA 12.4 torch 2.5.1+cu124 driver 550.54.15",
]
_DENSE = [
    "[rank{r}]:[I1128 10:00:{s:02d}.123 ProcessGroupNCCL.cpp:616] step {n} loss {l:.4f} lr 3.0e-04 tokens/s 51234",
    "2026-11-28T10:00:{s:02d}Z INFO GET /v1/predict?user=u{n} 200 {l:.1f}ms model 2.3.1 GPU-5a3f1c2e-8b4d-4e6f-9a1b",
    "NCCL INFO NET/Socket : Using [0]eth0:10.23.{r}.67<0> pci 0000:3b:00.0 CUDA 12.4",
    "login user{n}@example.com from 13812345678 token=abc{n}xyz",
]


def make_log(path: Path, mb: int, mix: str = "typical") -> int:
    rng = random.Random(17)
    target = mb * 1_000_000
    size = 0
    common, pii = (_TYPICAL, _DENSE) if mix == "typical" else (_DENSE[:2], _DENSE[2:])
    share = 0.02 if mix == "typical" else 0.5
    with path.open("w") as f:
        while size < target:
            chunk = "".join(
                rng.choice(pii if rng.random() < share else common).format(
                    r=rng.randrange(8), s=rng.randrange(60), n=rng.randrange(10**6), l=rng.random()
                )
                + "\n"
                for _ in range(5000)
            )
            f.write(chunk)
            size += len(chunk)
    return size


def baseline(path: Path, limit: int) -> int:
    """Line by line, every pattern, with the same validators: what ``re.sub`` in a loop does."""
    n = 0
    with path.open() as f:
        for line in f:
            for rule in RULES:
                if rule.validate is None:
                    line = rule.pattern.sub("***", line)
                else:
                    line = rule.pattern.sub(lambda m, v=rule.validate: "***" if v(m.group(0)) else m.group(0), line)
            n += len(line)
            if n >= limit:
                break
    return n


def ours(path: Path) -> int:
    n = 0
    with path.open() as f:
        for block in mask_lines(f, policy=MaskingPolicy()):
            n += len(block)
    return n


def _cpu(fn, *args) -> tuple[float, int]:
    t0 = time.process_time()
    n = fn(*args)
    return time.process_time() - t0, n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mb", type=int, default=None, help="log size in MB (default 20, quick 5)")
    parser.add_argument("--baseline-mb", type=float, default=None, help="baseline on this much (default 2, quick 0.5)")
    args = parser.parse_args()
    mb = args.mb or (5 if args.quick else 20)
    limit = int((args.baseline_mb or (0.5 if args.quick else 2)) * 1e6)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mix in ("typical", "dense"):
            path = Path(tmp) / f"{mix}.log"
            size = make_log(path, mb, mix)
            base_s, base_n = _cpu(baseline, path, limit)
            ours_s, _ = _cpu(ours, path)
            base_rate, ours_rate = base_n / 1e6 / base_s, size / 1e6 / ours_s
            rows.append({"log": mix, "method": f"re.sub line loop (first {base_n / 1e6:.1f} MB)", "MB/s": base_rate})
            rows.append(
                {
                    "log": mix,
                    "method": "opskit mask (screen)",
                    "cpu_s": ours_s,
                    "MB/s": ours_rate,
                    "ratio": ours_rate / base_rate,
                }
            )
        path = Path(tmp) / "typical.log"
        cli = [sys.executable, "-m", "opskit.cli", "mask", str(path), "--out", str(Path(tmp) / "out.log")]
        timing = run_timed(cli, repeat=1)
        rows.append(
            {
                "log": "typical",
                "method": "opskit mask CLI (wall)",
                "MB/s": mb / timing["best_s"],
                "peak_mib": timing["peak_mib"],
            }
        )
    print(f"logs: {mb} MB each; engine {engine().name}; targets: >= 50 MB/s, peak < 200 MiB")
    print_table(rows, ["log", "method", "cpu_s", "MB/s", "ratio", "peak_mib"])
    write_results("privacy", {"mb": mb, "engine": engine().name, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
