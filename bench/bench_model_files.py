"""Hashing and format checks of a model folder, beside ``sha256sum`` on the same files in the same run.

Generates a seeded folder of safetensors shards (default 1 GB; ``--size-gb 5`` for the issue's
target) with their index, then measures:

- ``sha256sum`` over all shards, one process (the baseline); its output becomes the manifest;
- opskit's integrity check against that manifest (8 MiB chunks; with 1 and with 2 worker threads),
  plus the format check of every file (safetensors headers: lengths, JSON, dtypes, offsets);
- the whole ``diagnose_model_load`` (integrity + shards + formats + compatibility + keys).

The files were just written, so all read from the page cache: the figure compares hashing cost
at equal I/O; ``cat > /dev/null`` on the same files gives the read speed itself. Target: opskit's
MB/s at least 0.9x ``sha256sum``'s ("close to disk read speed"). Peak memory: the commands' RSS
(GNU time), and the Python heap peak of opskit's check (tracemalloc).
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, run_timed, write_results

MB = 1_000_000
TARGET_RATIO = 0.9
TENSOR_BYTES = 32 * 1024 * 1024  # one F16 tensor of [16384, 1024]


def write_model_folder(folder: Path, size_bytes: int, seed: int = 5) -> list[Path]:
    """Shards of ~512 MB (fewer for small sizes), each a valid safetensors file of 32 MiB tensors."""
    rng = np.random.default_rng(seed)
    block = rng.bytes(TENSOR_BYTES)
    tensors_total = max(2, size_bytes // TENSOR_BYTES)
    per_shard = max(1, min(16, tensors_total // 2))
    shards = (tensors_total + per_shard - 1) // per_shard
    paths, weight_map, index = [], {}, 0
    for s in range(1, shards + 1):
        name = f"model-{s:05d}-of-{shards:05d}.safetensors"
        count = min(per_shard, tensors_total - index)
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for t in range(count):
            key = f"layers.{index + t}.weight"
            header[key] = {
                "dtype": "F16",
                "shape": [TENSOR_BYTES // 2048, 1024],
                "data_offsets": [offset, offset + TENSOR_BYTES],
            }
            weight_map[key] = name
            offset += TENSOR_BYTES
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        path = folder / name
        with path.open("wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            for t in range(count):  # distinct content per tensor without generating new random data
                fh.write(struct.pack("<Q", index + t))
                fh.write(memoryview(block)[8:])
        index += count
        paths.append(path)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return paths


def child_peak_mib(cmd: list[str], cwd: Path) -> float | None:
    """Peak RSS of a command by GNU time (the fork's own RSS would count Python's pages)."""
    if not Path("/usr/bin/time").exists():
        return None
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    return int(out.stderr.strip().splitlines()[-1]) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0, help="size of the model folder (default 1)")
    parser.add_argument("--quick", action="store_true", help="a 128 MB folder, one repeat (smoke test)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best is kept)")
    parser.add_argument("--dir", help="where to write the folder (default: a temporary one, removed after)")
    args = parser.parse_args(argv)

    from opskit.analyses.model_load import integrity as mi
    from opskit.runbooks.diagnose_model_load import run as diagnose_model_load
    from opskit.sources.checksum_manifests import read_checksum_manifest
    from opskit.sources.model_files import inspect_model_file

    size = int((0.128 if args.quick else args.size_gb) * 1e9)
    repeat = 1 if args.quick else max(1, args.repeat)
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="opskit-bench-models-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        files = write_model_folder(root, size)
        total = sum(p.stat().st_size for p in files)
        print(f"model folder: {len(files)} shards, {total / MB:,.0f} MB, written in {time.perf_counter() - t0:.1f} s")

        names = [p.name for p in files]
        with (root / "SHA256SUMS").open("w") as out:  # the manifest, and sha256sum's peak memory, in one pass
            run = subprocess.run(
                ["/usr/bin/time", "-f", "%M", "sha256sum", *names],
                cwd=root,
                check=True,
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
            )
        sha_peak = int(run.stderr.strip().splitlines()[-1]) / 1024
        read = run_timed(["cat", *names], repeat=repeat, cwd=root)
        base = run_timed(["sha256sum", *names], repeat=repeat, cwd=root)
        rows = [
            {
                "method": "cat > /dev/null (read speed)",
                "seconds": read["best_s"],
                "MB/s": total / MB / read["best_s"],
                "peak MiB": child_peak_mib(["cat", *names], root),
                "ratio": base["best_s"] / read["best_s"],
            },
            {
                "method": "sha256sum (baseline)",
                "seconds": base["best_s"],
                "MB/s": total / MB / base["best_s"],
                "peak MiB": sha_peak,
                "ratio": 1.0,
            },
        ]

        expected = read_checksum_manifest(root / "SHA256SUMS")
        results = {}
        for workers in (1, 2):
            best, peak = float("inf"), 0
            for _ in range(repeat):
                tracemalloc.start()
                t0 = time.perf_counter()
                result = mi.check_integrity(root, files, expected, workers=workers)
                infos = [inspect_model_file(p) for p in files]
                elapsed = time.perf_counter() - t0
                peak = max(peak, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
                best = min(best, elapsed)
            assert (result.files["status"] == "match").all(), "hashes disagree with sha256sum"
            assert all(i.ok for i in infos), "generated shards failed the format check"
            results[workers] = best
            rows.append(
                {
                    "method": f"opskit hash+format, {workers} worker{'s' if workers > 1 else ''}",
                    "seconds": best,
                    "MB/s": total / MB / best,
                    "peak MiB": peak / 2**20,
                    "ratio": base["best_s"] / best,
                }
            )

        t0 = time.perf_counter()
        diagnosis = diagnose_model_load(model_path=str(root), environment="local", load_with_torch=False)
        whole = time.perf_counter() - t0
        rows.append(
            {
                "method": "diagnose_model_load (all layers)",
                "seconds": whole,
                "MB/s": total / MB / whole,
                "peak MiB": None,
                "ratio": base["best_s"] / whole,
            }
        )
        print_table(rows, ["method", "seconds", "MB/s", "peak MiB", "ratio"])
        best_ratio = base["best_s"] / min(results.values())
        verdict = "met" if best_ratio >= TARGET_RATIO else "NOT met"
        print(
            f"target: opskit MB/s >= {TARGET_RATIO}x sha256sum's -> {best_ratio:.2f}x ({verdict}); "
            f"worst verdict on the generated folder: {diagnosis.verdicts.worst.value}"
        )
        path = write_results(
            "model_files",
            {
                "size_bytes": total,
                "files": len(files),
                "rows": rows,
                "target_ratio": TARGET_RATIO,
                "best_ratio": best_ratio,
                "read_MBps": total / MB / read["best_s"],
                "target_met": best_ratio >= TARGET_RATIO,
                "quick": args.quick,
            },
        )
        print(f"results: {path}")
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
