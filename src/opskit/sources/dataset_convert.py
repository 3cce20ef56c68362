"""Convert CSV/TSV/JSON lines (a file or a folder) to sharded Parquet (or TFRecord) in bounded memory.

The point is to turn one file nobody can load into shards that load in pieces. Each source is read one
block at a time (:mod:`dataset_readers`) and written in row groups of ``chunk_rows``; a shard is closed
when it reaches ``max_rows_per_file`` rows or about ``max_bytes_per_file`` bytes. Memory holds one
block and at most one row group, whatever the file's size.

The output is written into a temporary folder beside ``dst`` and renamed to ``dst`` only when every
shard's row count, read back from its footer, equals the rows read from its source: a failure leaves no
``dst`` at all, and an existing ``dst`` is never overwritten. ``dst/_MANIFEST.json`` lists the shards with
sizes, SHA-256 and rows (:mod:`dataset_manifest`); its leading ``_`` makes pandas and pyarrow skip it, so
``pandas.read_parquet(dst)`` and ``pyarrow.dataset.dataset(dst)`` read the shards with no extra argument.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from opskit.errors import InputError, OpskitError
from opskit.sources.dataset_manifest import (
    PARQUET_MANIFEST_NAME,
    Manifest,
    build_manifest,
    list_dataset_files,
    write_manifest,
)
from opskit.sources.dataset_readers import COMPRESSED_SUFFIXES, ReadStats, read_batches, table_kind
from opskit.sources.dataset_shards import OUTPUT_FORMATS, ShardWriter, count_records

DEFAULT_CHUNK_ROWS = 500_000
DEFAULT_MAX_BYTES = 512 << 20
DEFAULT_BLOCK_BYTES = 1 << 20  # pyarrow reads ahead several blocks: larger ones cost memory, not speed


@dataclass(frozen=True)
class ConvertOptions:
    """How to convert: row group size, shard limits, delimiter, text-only columns, output format.

    ``chunk_rows`` is the number of rows in each row group and the most rows held in memory besides the
    block being parsed; ``block_bytes`` is the size of that block. ``delimiter`` None means ``,`` for CSV
    and a tab for TSV. ``all_strings`` reads every value as text, so no later row can disagree with the
    types found in the first block.
    """

    chunk_rows: int = DEFAULT_CHUNK_ROWS
    max_rows_per_file: int | None = None
    max_bytes_per_file: int | None = DEFAULT_MAX_BYTES
    delimiter: str | None = None
    all_strings: bool = False
    output_format: str = "parquet"
    block_bytes: int = DEFAULT_BLOCK_BYTES
    compression: str = "snappy"

    def __post_init__(self) -> None:
        for name in ("chunk_rows", "block_bytes", "max_rows_per_file", "max_bytes_per_file"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise InputError(f"{name} must be a whole number >= 1, got {value!r}", column=name)
        if self.output_format not in OUTPUT_FORMATS:
            raise InputError(
                f"unknown output format {self.output_format!r}", column="format", hint=f"one of {OUTPUT_FORMATS}"
            )
        if self.delimiter is not None and (len(self.delimiter) != 1 or self.delimiter in '\r\n"'):
            raise InputError(
                f"delimiter must be one character (not a quote or newline), got {self.delimiter!r}",
                column="delimiter",
                hint="for a tab pass --delimiter tab",
            )


@dataclass(frozen=True)
class ConvertedShard:
    """One output file: ``path`` relative to the destination, its ``source`` relative to the input root."""

    path: str
    source: str
    rows: int
    size: int
    row_groups: int


@dataclass(frozen=True)
class ConversionResult:
    """What was converted: shards, rows per source (read and verified), blocks read, memory bound.

    ``max_rows_held`` is the largest number of rows buffered at any moment (one row group plus what is
    left of the last block): the evidence that memory stayed bounded, whatever the size of the input.
    """

    source: Path
    destination: Path
    output_format: str
    shards: tuple[ConvertedShard, ...]
    rows_by_source: dict[str, int]
    blocks_read: int
    max_rows_held: int
    manifest: Manifest

    @property
    def rows(self) -> int:
        return sum(self.rows_by_source.values())

    @property
    def row_groups(self) -> int:
        return sum(s.row_groups for s in self.shards)

    @property
    def manifest_path(self) -> Path:
        """``dst/_MANIFEST.json``: beside the shards, skipped by Parquet readers."""
        return self.destination / PARQUET_MANIFEST_NAME


def list_sources(src: Path) -> tuple[Path, list[Path]]:
    """The root and the CSV/TSV/JSON-lines files to convert: ``src`` itself, or those under the folder."""
    src = Path(src)
    if src.is_file():
        if table_kind(src) is None:
            raise InputError(
                "not a CSV, TSV or JSON-lines file", path=src, hint="name it .csv, .tsv, .jsonl or .ndjson"
            )
        return src.parent, [src]
    if not src.is_dir():
        raise InputError("source not found", path=src, hint="pass a CSV/TSV/JSON-lines file or a folder of them")
    files = [p for p in list_dataset_files(src) if table_kind(p) is not None]
    if not files:
        raise InputError("no CSV, TSV or JSON-lines files in the folder", path=src)
    return src, files


def _shard_stem(root: Path, source: Path) -> str:
    """``train/part.csv.gz`` -> ``train/part``: where the shards of a source go, relative to the output."""
    name = source.name
    if Path(name).suffix.lower() in COMPRESSED_SUFFIXES:
        name = Path(name).stem
    relative = source.relative_to(root).parent / Path(name).stem
    return relative.as_posix()


def convert_dataset(src: Path, dst: Path, options: ConvertOptions | None = None) -> ConversionResult:
    """Convert ``src`` (a file or folder) into shards under the new folder ``dst``, verified and atomic."""
    options = options or ConvertOptions()
    src, dst = Path(src), Path(dst)
    if dst.exists():
        raise InputError("destination already exists; nothing is overwritten", path=dst, hint="pass a new folder")
    if not dst.parent.is_dir():
        raise InputError("folder for the destination does not exist", path=dst.parent, hint="create it first")
    root, sources = list_sources(src)
    stems: dict[str, Path] = {}
    for source in sources:
        stem = _shard_stem(root, source)
        if stem in stems:
            raise InputError(f"two sources would write the same shards: {stems[stem].name}", path=source)
        stems[stem] = source
    staging = Path(tempfile.mkdtemp(prefix=f".opskit-tmp-{dst.name}-", dir=dst.parent))
    try:
        shards, rows_by_source, blocks, held = [], {}, 0, 0
        for stem, source in stems.items():
            stats = ReadStats()
            writer = ShardWriter(staging, stem, options)
            try:
                for batch in read_batches(
                    source,
                    delimiter=options.delimiter,
                    block_bytes=options.block_bytes,
                    all_strings=options.all_strings,
                    stats=stats,
                ):
                    writer.add(batch)
                written = writer.finish()
            finally:
                writer.abort()
            name = source.relative_to(root).as_posix()
            _verify_rows(staging, name, written, stats.rows)
            shards += [ConvertedShard(w.path, name, w.rows, w.size, w.row_groups) for w in written]
            rows_by_source[name] = stats.rows
            blocks += stats.blocks
            held = max(held, writer.max_rows_held)
        manifest = build_manifest(staging)
        write_manifest(manifest, staging / PARQUET_MANIFEST_NAME)
        os.rename(staging, dst)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = dataclasses.replace(manifest, root=dst)
    sizes = {e.path: e.size for e in manifest.entries}
    shards = [dataclasses.replace(s, size=sizes[s.path]) for s in shards]
    return ConversionResult(src, dst, options.output_format, tuple(shards), rows_by_source, blocks, held, manifest)


def _verify_rows(staging: Path, source: str, written: list, rows_read: int) -> None:
    """Read each shard's row count back from the file and compare with what was read and written."""
    total = 0
    for shard in written:
        found = count_records(staging / shard.path)
        if found != shard.rows:
            raise OpskitError(
                f"{shard.path}: {found} rows read back, {shard.rows} written from {source}",
                hint="the output may be on a failing disk; nothing was kept",
            )
        total += found
    if total != rows_read:
        raise OpskitError(f"{source}: {rows_read} rows read but {total} written", hint="nothing was kept; report this")


def schema_of(result: ConversionResult) -> dict[str, str]:
    """Column name -> Arrow type of the first Parquet shard (empty for TFRecord or no shard)."""
    if result.output_format != "parquet" or not result.shards:
        return {}
    import pyarrow.parquet as pq

    schema = pq.read_schema(result.destination / result.shards[0].path)
    return {field.name: str(field.type) for field in schema}
