"""Fault scan throughput on a synthetic multi-rank log, beside grep -E and a Python re line loop.

Generates a seeded multi-rank training log (default 1 GiB) in a temporary folder, with a handful of
planted faults among realistic healthy lines, then measures in the same run:

- ``grep -E -i -c -f PATTERNS`` with the catalogue's patterns (the baseline);
- ``opskit.analyses.faults.scan.scan`` with Hyperscan (the default engine) and with the plain ``re``
  fallback, each in a child process that reports its own peak memory;
- a line-by-line Python ``re`` loop over the same patterns (one compiled alternation).

The slow Python baselines run over a prefix of the file (``--slow-mib``) and report throughput.
Targets: scan throughput at least 0.5x grep's, peak memory at most 200 MiB whatever the log size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_results

MIB = 1 << 20
TARGET_RATIO = 0.5
TARGET_PEAK_MIB = 200
RANKS = 8
PLANTED = [
    "[rank{r}]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 8.00 GiB. GPU {r} has a total capacity "
    "of 79.11 GiB of which 5.12 GiB is free. Of the allocated memory 60.35 GiB is allocated by PyTorch, and 12.91 GiB "
    "is reserved by PyTorch but unallocated.",
    "[rank{r}]:[E1128 09:21:40.881022 4100 ProcessGroupNCCL.cpp:616] [Rank {r}] Watchdog caught collective operation "
    "timeout: WorkNCCL(SeqNum=9020, OpType=ALLREDUCE, NumelIn=4194304, NumelOut=4194304, Timeout(ms)=600000) ran for "
    "600112 milliseconds before timing out.",
    "slurmstepd: error: *** JOB 771234 ON gpu-node-22 CANCELLED AT 2026-11-28T03:13:02 DUE TO PREEMPTION ***",
]


def _healthy_lines(rng: np.random.Generator, n: int) -> list[bytes]:
    lines = []
    for i in range(n):
        r = int(rng.integers(0, RANKS))
        step = i * 10
        kind = i % 10
        if kind < 6:
            text = (
                f"[rank{r}]:2026-11-28 09:{(i // 60) % 60:02d}:{i % 60:02d},{i % 1000:03d} INFO step {step} | "
                f"loss {2 + float(rng.random()):.4f} | lr {3e-4 * float(rng.random()):.2e} | "
                f"tokens/s {int(rng.integers(90_000, 99_000))} | grad_norm {float(rng.random()):.3f}"
            )
        elif kind < 8:
            text = (
                f"gpu-node-0{r}:{4100 + r}:{4180 + r} [{r}] NCCL INFO Channel {i % 32:02d}/32 : "
                f"{r}[{r}] -> {(r + 1) % RANKS}[{(r + 1) % RANKS}] via P2P/IPC/read"
            )
        elif kind == 8:
            text = (
                f"[rank{r}]:[W1128 09:00:03.512000 2811 torch/utils/checkpoint.py:92] FutureWarning: "
                "`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)`"
            )
        else:
            text = (
                f"[2026-11-28 09:00:{i % 60:02d},101] [INFO] [logging.py:96:log_dist] [Rank {r}] step={step}, "
                f"skipped=0, lr=[2.9e-05], mom=[(0.9, 0.999)]"
            )
        lines.append(text.encode())
    return lines


def generate(path: Path, size_bytes: int, seed: int = 4) -> int:
    """Write a seeded multi-rank log of about ``size_bytes``; return the number of planted fault lines."""
    rng = np.random.default_rng(seed)
    pool = _healthy_lines(rng, 20_000)
    block = b"\n".join(pool[i] for i in rng.permutation(len(pool))) + b"\n"
    planted = 0
    written = 0
    with open(path, "wb") as out:
        n_blocks = max(1, size_bytes // len(block))
        fault_blocks = {int(n_blocks * f) for f in (0.2, 0.55, 0.9)}
        for b in range(n_blocks):
            out.write(block)
            written += len(block)
            if b in fault_blocks:
                for tmpl in PLANTED:
                    out.write(tmpl.format(r=3).encode() + b"\n")
                    planted += 1
    return planted


def _child(code: str, *args: str) -> dict:
    """Run Python code in a fresh interpreter that prints JSON with its own timing and peak RSS."""
    prog = (
        "import json, resource, sys, time\n"
        + code
        + "\nresult['peak_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        # ru_maxrss survives fork+exec (it starts at the parent's size); VmHWM is this program's own peak
        "try:\n"
        "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "    result['peak_mib'] = int(hwm.split()[1]) / 1024\n"
        "except (OSError, IndexError):\n"
        "    pass\n"
        "print(json.dumps(result))\n"
    )
    out = subprocess.run([sys.executable, "-c", prog, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


SCAN_CODE = """
from opskit.analyses.faults.scan import scan
t0 = time.perf_counter()
r = scan(sys.argv[1], engine=sys.argv[2])
elapsed = time.perf_counter() - t0
result = {'seconds': elapsed, 'findings': sum(r.counts.values()), 'engine': r.engine, 'lines': r.lines_read}
"""

LOOP_CODE = """
import re
from opskit.analyses.faults.catalogue import load_catalogue
rx = re.compile('|'.join(f'(?:{p})' for p in load_catalogue().all_patterns()).encode(), re.IGNORECASE)
limit = int(sys.argv[2])
n = hits = 0
t0 = time.perf_counter()
with open(sys.argv[1], 'rb') as fh:
    for line in fh:
        n += len(line)
        if rx.search(line):
            hits += 1
        if n >= limit:
            break
elapsed = time.perf_counter() - t0
result = {'seconds': elapsed, 'findings': hits, 'bytes': n}
"""


def _prefix(path: Path, size: int, out: Path) -> Path:
    with open(path, "rb") as fin, open(out, "wb") as fout:
        data = fin.read(size)
        fout.write(data[: data.rfind(b"\n") + 1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 32 MiB log instead of 1 GiB, small prefixes")
    parser.add_argument("--size-mib", type=int, default=None, help="log size in MiB (default 1024, quick 32)")
    parser.add_argument("--slow-mib", type=int, default=None, help="prefix for the re fallback (default 64)")
    parser.add_argument("--loop-mib", type=float, default=None, help="prefix for the Python re line loop (default 8)")
    args = parser.parse_args(argv)
    size_mib = args.size_mib or (32 if args.quick else 1024)
    slow_mib = min(size_mib, args.slow_mib or (4 if args.quick else 64))
    loop_mib = min(slow_mib, args.loop_mib or (0.5 if args.quick else 8))
    grep = shutil.which("grep")
    from opskit.analyses.faults.catalogue import load_catalogue
    from opskit.analyses.faults.engines import hyperscan_available

    with tempfile.TemporaryDirectory(prefix="opskit-bench-faults-") as tmp:
        tmpdir = Path(tmp)
        log = tmpdir / "multirank.log"
        t0 = time.perf_counter()
        planted = generate(log, size_mib * MIB)
        gen_s = time.perf_counter() - t0
        size = log.stat().st_size
        patterns = tmpdir / "patterns.txt"
        patterns.write_text("\n".join(load_catalogue().all_patterns()) + "\n")
        prefix = _prefix(log, slow_mib * MIB, tmpdir / "prefix.log")
        psize = prefix.stat().st_size
        rows = []

        def row(what: str, seconds: float, nbytes: int, found, peak=None) -> dict:
            return {
                "what": what,
                "seconds": seconds,
                "mib": nbytes / MIB,
                "mib_per_s": nbytes / MIB / seconds,
                "matches": found,
                "peak_mib": peak,
            }

        subprocess.run(["cat", str(log)], check=True, stdout=subprocess.DEVNULL)  # warm the page cache
        if grep:
            env = {**os.environ, "LC_ALL": "C"}
            t0 = time.perf_counter()
            out = subprocess.run(
                [grep, "-E", "-i", "-c", "-f", str(patterns), str(log)], capture_output=True, text=True, env=env
            )
            grep_s = time.perf_counter() - t0
            rows.append(row("grep -E -i -c -f patterns (baseline)", grep_s, size, out.stdout.strip()))
            t0 = time.perf_counter()
            out = subprocess.run(
                [grep, "-E", "-c", "-f", str(patterns), str(log)], capture_output=True, text=True, env=env
            )
            case_s = time.perf_counter() - t0
            case_row = row("grep -E -c -f patterns, case-sensitive (info)", case_s, size, out.stdout.strip())
        engines = ["hyperscan", "re"] if hyperscan_available() else ["re"]
        if "hyperscan" in engines:
            r = _child(SCAN_CODE, str(log), "hyperscan")
            rows.append(row("opskit scan, hyperscan (whole log)", r["seconds"], size, r["findings"], r["peak_mib"]))
        r = _child(SCAN_CODE, str(prefix), "re")
        rows.append(
            row(f"opskit scan, re fallback ({slow_mib} MiB prefix)", r["seconds"], psize, r["findings"], r["peak_mib"])
        )
        r = _child(LOOP_CODE, str(prefix), str(int(loop_mib * MIB)))
        rows.append(
            row(f"python re line loop ({loop_mib} MiB prefix)", r["seconds"], r["bytes"], r["findings"], r["peak_mib"])
        )

    print(
        f"synthetic {RANKS}-rank log: {size / MIB:,.0f} MiB, {planted} planted fault lines "
        f"(generated in {gen_s:.1f} s); {len(load_catalogue().all_patterns())} patterns"
    )
    if grep:
        rows.append(case_row)
    print_table(rows, ["what", "seconds", "mib", "mib_per_s", "matches", "peak_mib"])
    base = rows[0]["mib_per_s"] if grep else None
    ours = rows[1] if "hyperscan" in engines else rows[0 if not grep else 1]
    results = {"size_mib": size / MIB, "planted": planted, "rows": rows}
    if base:
        ratio = ours["mib_per_s"] / base
        results["ratio_vs_grep"] = ratio
        print(f"target >= {TARGET_RATIO}x grep: {ratio:.2f}x ({'met' if ratio >= TARGET_RATIO else 'MISSED'})")
        case_ratio = ours["mib_per_s"] / case_row["mib_per_s"]
        results["ratio_vs_grep_case_sensitive"] = case_ratio
        print(f"(against case-sensitive grep, which does not match what the scan matches: {case_ratio:.2f}x)")
    peak = ours["peak_mib"]
    print(f"target <= {TARGET_PEAK_MIB} MiB peak: {peak:.0f} MiB ({'met' if peak <= TARGET_PEAK_MIB else 'MISSED'})")
    write_results("faults", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
