"""``opskit dataset manifest|verify|convert``: a dataset's files checked after a copy, and big files sharded.

- ``manifest DIR [--out FILE] [--no-rows]`` writes ``DIR/MANIFEST.json`` (``DIR/_MANIFEST.json`` beside
  Parquet files): size, SHA-256 and rows per file (what ``sha256sum`` and ``wc -l`` by hand would give).
- ``verify DIR [--manifest FILE]`` compares the files with it: exit 0 when all match, 1 when a file is
  missing or changed (each named), 2 on bad input. Files the manifest does not list are named, not failed.
- ``convert SRC DST`` turns CSV/TSV/JSON lines (a file or a folder) into Parquet (or TFRecord) shards in
  bounded memory, row counts verified, written atomically, with ``DST/_MANIFEST.json``: Parquet readers
  skip it, so ``pandas.read_parquet(DST)`` reads the shards as they are.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

from opskit.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30}
_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmg]i?)?b?", re.IGNORECASE)


def parse_size(text: str, *, parameter: str) -> int:
    """``512MB``, ``1GiB``, ``2g``, ``1000`` -> bytes; an InputError naming the option otherwise."""
    m = _SIZE.fullmatch(text.strip())
    if not m or float(m["number"]) <= 0:
        raise InputError(f"not a size: {text!r}", column=parameter, hint="e.g. 512MB, 1GiB or a number of bytes")
    return int(float(m["number"]) * _UNITS[(m["unit"] or "").lower()])


def _delimiter(text: str) -> str:
    return {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(text.lower(), text)


def register(subparsers) -> None:
    p = subparsers.add_parser("dataset", help="dataset files: write or verify a manifest, convert to Parquet shards")
    sub = p.add_subparsers(dest="dataset_command", required=True)
    m = sub.add_parser("manifest", help="write DIR/MANIFEST.json: size, SHA-256 and rows of every file")
    m.add_argument("dir", help="the dataset folder")
    m.add_argument(
        "--out",
        help="write the manifest here (default: the one already in DIR, else DIR/MANIFEST.json,"
        " or DIR/_MANIFEST.json when DIR holds Parquet files, which Parquet readers then skip)",
    )
    m.add_argument("--no-rows", action="store_true", help="do not count rows (hash only)")
    m.set_defaults(func=_manifest)
    v = sub.add_parser("verify", help="check the files of DIR against its manifest (exit 1 when one differs)")
    v.add_argument("dir", help="the dataset folder")
    v.add_argument(
        "--manifest", help="the manifest to check against (default: DIR/_MANIFEST.json or DIR/MANIFEST.json)"
    )
    v.set_defaults(func=_verify)
    c = sub.add_parser("convert", help="CSV/TSV/JSON lines (file or folder) to Parquet shards, bounded memory")
    c.add_argument("src", help="a .csv/.tsv/.jsonl file (optionally .gz/.bz2) or a folder of them")
    c.add_argument("dst", help="the new output folder (must not exist)")
    c.add_argument("--chunk-rows", type=int, default=500_000, help="rows per row group, held in memory at most")
    c.add_argument("--format", default="parquet", choices=("parquet", "tfrecord"), help="output format")
    c.add_argument("--delimiter", type=_delimiter, help="field separator (default: , for CSV, tab for TSV)")
    c.add_argument("--max-rows-per-file", type=int, help="start a new shard after this many rows")
    c.add_argument("--max-bytes-per-file", default="512MiB", help="start a new shard near this size (0: no limit)")
    c.add_argument("--strings", action="store_true", help="read every column as text (no type can disagree)")
    c.set_defaults(func=_convert)


def _manifest(args: argparse.Namespace) -> int:
    from opskit.sources.dataset_manifest import build_manifest, default_manifest_path, write_manifest

    root = Path(args.dir)
    out = Path(args.out) if args.out else default_manifest_path(root)
    started = time.perf_counter()
    manifest = build_manifest(root, count_rows=not args.no_rows, exclude=(out,))
    write_manifest(manifest, out)
    rows = sum(e.rows or 0 for e in manifest.entries)
    seconds = time.perf_counter() - started
    print(f"{len(manifest.entries)} files, {manifest.total_size:,} bytes, {rows:,} rows in tables ({seconds:.1f} s)")
    print(f"manifest: {out}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from opskit.sources.dataset_manifest import MANIFEST_NAMES, compare_to_manifest, find_manifest, read_manifest

    root = Path(args.dir)
    if not root.is_dir():
        raise InputError("dataset folder not found", path=root, hint="pass the folder the manifest describes")
    path = Path(args.manifest) if args.manifest else find_manifest(root)
    if path is None:
        raise InputError(
            f"manifest not found: the folder has neither {' nor '.join(MANIFEST_NAMES)}",
            path=root,
            hint="write one with: opskit dataset manifest DIR, or pass --manifest FILE",
        )
    comparison = compare_to_manifest(read_manifest(path), root, exclude=(path,))
    for m in comparison.mismatches:
        if m.what == "missing":
            print(f"MISSING  {m.path}")
        elif m.what == "size":
            print(f"CHANGED  {m.path}: {m.found:,} bytes, the manifest says {m.expected:,}")
        elif m.what == "sha256":
            print(
                f"CHANGED  {m.path}: same size, other content (sha256 {m.found[:12]}..., manifest {m.expected[:12]}...)"
            )
        else:
            print(f"CHANGED  {m.path}: {m.what} {m.found}, the manifest says {m.expected}")
    for name in comparison.unlisted:
        print(f"UNLISTED {name} (not in the manifest)")
    bad = len(comparison.mismatches)
    verdict = "all match" if comparison.matches else f"{bad} differ"
    print(f"{comparison.checked} files checked against {path}: {verdict}", file=sys.stderr)
    return 0 if comparison.matches else 1


def _convert(args: argparse.Namespace) -> int:
    from opskit.sources.dataset_convert import ConvertOptions, convert_dataset

    max_bytes = (
        parse_size(args.max_bytes_per_file, parameter="--max-bytes-per-file")
        if args.max_bytes_per_file != "0"
        else None
    )
    options = ConvertOptions(
        chunk_rows=args.chunk_rows,
        max_rows_per_file=args.max_rows_per_file,
        max_bytes_per_file=max_bytes,
        delimiter=args.delimiter,
        all_strings=args.strings,
        output_format=args.format,
    )
    started = time.perf_counter()
    result = convert_dataset(Path(args.src), Path(args.dst), options)
    seconds = time.perf_counter() - started
    for source, rows in result.rows_by_source.items():
        shards = [s for s in result.shards if s.source == source]
        print(f"{source}: {rows:,} rows -> {len(shards)} shard(s), row counts verified")
    size = sum(s.size for s in result.shards)
    print(
        f"{result.rows:,} rows, {len(result.shards)} {args.format} shard(s), {size:,} bytes,"
        f" {result.row_groups} row group(s), {result.blocks_read} block(s) read in {seconds:.1f} s"
    )
    if args.format == "parquet":
        print(f"read it with: pandas.read_parquet({str(result.destination)!r})")
    print(f"manifest: {result.manifest_path}")
    return 0
