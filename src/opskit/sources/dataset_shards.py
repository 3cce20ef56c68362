"""Shard writers: Arrow batches in, Parquet (or TFRecord) files of bounded rows and bytes out.

A :class:`ShardWriter` buffers incoming batches until it has a row group (``chunk_rows`` rows, or
fewer where the shard's row limit falls), writes it, and starts a new shard ``<stem>-00001...`` when the
current one reached ``max_rows_per_file`` rows or would pass ``max_bytes_per_file`` with one more row
group of the last group's size. TFRecord output writes each row as a ``tf.train.Example`` through the
``tfrecord`` package (no TensorFlow needed; extra ``tfrecord``): integers and booleans as int64 lists,
floats as float lists, everything else as bytes (text as UTF-8, nested values as JSON); a null leaves
the feature out of that example.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from opskit.errors import MissingDependencyError, OpskitError

OUTPUT_FORMATS = ("parquet", "tfrecord")
SUFFIXES = {"parquet": ".parquet", "tfrecord": ".tfrecord"}


@dataclass(frozen=True)
class WrittenShard:
    """A closed shard: ``path`` relative to the output folder."""

    path: str
    rows: int
    size: int
    row_groups: int


class ShardWriter:
    """Writes the batches of one source into numbered shards under ``folder``; see the module doc."""

    def __init__(self, folder: Path, stem: str, options: Any):
        self.folder, self.stem, self.options = folder, stem, options
        self.max_rows_held = 0
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._written: list[WrittenShard] = []
        self._file: _ParquetFile | _TFRecordFile | None = None
        if options.output_format == "tfrecord":
            _tfrecord()  # fail before reading anything when the writer is not installed

    def add(self, batch: pa.RecordBatch) -> None:
        """Buffer ``batch`` and write every full row group it completes."""
        if batch.num_rows == 0:
            return
        self._buffer.append(batch)
        self._buffered += batch.num_rows
        self.max_rows_held = max(self.max_rows_held, self._buffered)
        while self._buffered >= self._group_target():
            self._write_group(self._group_target())

    def finish(self) -> list[WrittenShard]:
        """Write what is buffered, close the last shard and return all shards of this source."""
        while self._buffered:
            self._write_group(min(self._buffered, self._group_target()))
        self._close_shard()
        return list(self._written)

    def abort(self) -> None:
        """Close an open shard without recording it (the caller discards the output folder)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _group_target(self) -> int:
        target = self.options.chunk_rows
        if self.options.max_rows_per_file and self._file is not None:
            target = min(target, self.options.max_rows_per_file - self._file.rows)
        elif self.options.max_rows_per_file:
            target = min(target, self.options.max_rows_per_file)
        return target

    def _write_group(self, rows: int) -> None:
        table = pa.Table.from_batches(self._buffer)
        group, rest = table.slice(0, rows), table.slice(rows)
        self._buffer = rest.to_batches()
        self._buffered -= rows
        if self._file is None:
            index = len(self._written)
            relative = f"{self.stem}-{index:05d}{SUFFIXES[self.options.output_format]}"
            opener = _TFRecordFile if self.options.output_format == "tfrecord" else _ParquetFile
            self._file = opener(self.folder, relative, group.schema, self.options)
        before = self._file.tell()
        self._file.write(group)
        after = self._file.tell()
        full_rows = self.options.max_rows_per_file and self._file.rows >= self.options.max_rows_per_file
        full_bytes = self.options.max_bytes_per_file and after + (after - before) > self.options.max_bytes_per_file
        if full_rows or full_bytes:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._file is None:
            return
        shard = self._file
        shard.close()
        self._file = None
        size = (self.folder / shard.relative).stat().st_size
        self._written.append(WrittenShard(shard.relative, shard.rows, size, shard.groups))


class _ParquetFile:
    def __init__(self, folder: Path, relative: str, schema: pa.Schema, options: Any):
        import pyarrow.parquet as pq

        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self.relative, self.rows, self.groups = relative, 0, 0
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pq.ParquetWriter(self._sink, schema, compression=options.compression)

    def tell(self) -> int:
        return self._sink.tell()

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table, row_group_size=table.num_rows)
        self.rows += table.num_rows
        self.groups += 1

    def close(self) -> None:
        self._writer.close()
        self._sink.close()


def _tfrecord():
    try:
        from tfrecord.writer import TFRecordWriter
    except ImportError as exc:
        raise MissingDependencyError("tfrecord", extra="tfrecord", feature="TFRecord output") from exc
    return TFRecordWriter


def _feature_kinds(schema: pa.Schema) -> dict[str, str]:
    kinds = {}
    for field in schema:
        if pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            kinds[field.name] = "int"
        elif pa.types.is_floating(field.type):
            kinds[field.name] = "float"
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            kinds[field.name] = "text"
        elif pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            kinds[field.name] = "byte"
        else:
            kinds[field.name] = "json"
    return kinds


def _feature(value: Any, kind: str) -> tuple[Any, str]:
    if kind == "int":
        return int(value), "int"
    if kind == "float":
        return float(value), "float"
    if kind == "text":
        return value.encode("utf-8", "surrogateescape"), "byte"
    if kind == "byte":
        return bytes(value), "byte"
    return json.dumps(value, default=str, ensure_ascii=False).encode("utf-8"), "byte"


class _TFRecordFile:
    def __init__(self, folder: Path, relative: str, schema: pa.Schema, options: Any):
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self.relative, self.rows, self.groups = relative, 0, 0
        self._kinds = _feature_kinds(schema)
        self._writer = _tfrecord()
        self._handle = path.open("wb")

    def tell(self) -> int:
        return self._handle.tell()

    def write(self, table: pa.Table) -> None:
        serialize, crc = self._writer.serialize_tf_example, self._writer.masked_crc
        for row in table.to_pylist():
            datum = {k: _feature(v, self._kinds[k]) for k, v in row.items() if v is not None}
            record = serialize(datum)
            length = struct.pack("<Q", len(record))
            self._handle.write(length + crc(length) + record + crc(record))
        self.rows += table.num_rows
        self.groups += 1

    def close(self) -> None:
        self._handle.close()


def count_records(path: Path) -> int:
    """Rows of a written shard, read back from the file: the Parquet footer, or the TFRecord framing."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    count = 0
    with path.open("rb") as handle:
        while header := handle.read(12):
            if len(header) < 12:
                raise OpskitError(f"{path}: TFRecord ends inside a record header", hint="nothing was kept")
            (length,) = struct.unpack("<Q", header[:8])
            body = handle.read(length + 4)
            if len(body) < length + 4:
                raise OpskitError(f"{path}: TFRecord ends inside record {count + 1}", hint="nothing was kept")
            count += 1
    return count
