"""Masking throughput: ``opskit mask`` (batched, prefiltered) beside a line-by-line ``re.sub`` loop.

The baseline applies the same patterns (validators included) to every line, the way a hand-written
script would; both run in this process on one core. Peak memory is that of ``opskit mask`` run as a
child process on the file. Targets: >= 50 MB/s, peak < 200 MiB.
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
from opskit.privacy.stream import mask_lines

_LINES = [
    "[rank{r}]:[I1128 10:00:{s:02d}.123 ProcessGroupNCCL.cpp:616] step {n} loss {l:.4f} lr 3.0e-04 tokens/s 51234",
    "2026-11-28T10:00:{s:02d}Z INFO GET /v1/predict?user=u{n} 200 {l:.1f}ms model 2.3.1 GPU-5a3f1c2e-8b4d-4e6f-9a1b",
    "NCCL INFO NET/Socket : Using [0]eth0:10.23.{r}.67<0> pci 0000:3b:00.0 CUDA 12.4",
    "login user{n}@example.com from 13812345678 token=abc{n}xyz",
]


def make_log(path: Path, mb: int) -> int:
    rng = random.Random(17)
    target = mb * 1_000_000
    size = 0
    with path.open("w") as f:
        while size < target:
            chunk = "".join(
                rng.choice(_LINES).format(
                    r=rng.randrange(8), s=rng.randrange(60), n=rng.randrange(10**6), l=rng.random()
                )
                + "\n"
                for _ in range(5000)
            )
            f.write(chunk)
            size += len(chunk)
    return size


def baseline(path: Path) -> int:
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
    return n


def ours(path: Path) -> int:
    n = 0
    with path.open() as f:
        for block in mask_lines(f, policy=MaskingPolicy()):
            n += len(block)
    return n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--mb", type=int, default=None, help="log size in MB (default 20, quick 5)")
    args = parser.parse_args()
    mb = args.mb or (5 if args.quick else 20)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.log"
        size = make_log(path, mb)
        rows = []
        for name, fn in (("re.sub line loop", baseline), ("opskit mask (batched)", ours)):
            t0 = time.perf_counter()
            fn(path)
            seconds = time.perf_counter() - t0
            rows.append({"method": name, "seconds": seconds, "MB/s": size / 1e6 / seconds})
        cli = [sys.executable, "-m", "opskit.cli", "mask", str(path), "--out", str(Path(tmp) / "out.log")]
        timing = run_timed(cli, repeat=1)
        rows.append(
            {
                "method": "opskit mask CLI",
                "seconds": timing["best_s"],
                "MB/s": size / 1e6 / timing["best_s"],
                "peak_mib": timing["peak_mib"],
            }
        )
    rows[1]["ratio"] = rows[0]["seconds"] / rows[1]["seconds"]
    print(f"log: {size / 1e6:.0f} MB; targets: >= 50 MB/s, peak < 200 MiB")
    print_table(rows, ["method", "seconds", "MB/s", "ratio", "peak_mib"])
    write_results("privacy", {"mb": size / 1e6, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
