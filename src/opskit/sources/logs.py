"""Read logs as streams: files, directories of per-rank logs, gzip, stdin; bounded memory.

Logs are read in large binary blocks split on line ends (:func:`iter_regions`), so a scanner can
search them without decoding every line; :func:`iter_lines` gives decoded lines with their file,
line number and rank for readers that need every line. Bytes that are not UTF-8 are decoded with a
fallback (GBK, then latin-1), never a crash. A line longer than ``max_line_bytes`` is cut into
pieces that keep its line number, so a log without line ends cannot exhaust memory.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from opskit.errors import InputError
from opskit.sources.log_encoding import TranscodedStream, gzip_head, read_until_damage, wide_encoding

BLOCK_BYTES = 4 << 20
MAX_LINE_BYTES = 1 << 20
SNIFF_BYTES = 8192
GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"

_FILE_RANK = [
    re.compile(r"(?:^|[^a-z0-9])rank[-_. ]?(\d+)(?:$|[^0-9])", re.IGNORECASE),
    re.compile(r"(?:^|[^a-z0-9])(?:worker|proc|process)[-_](\d+)(?:$|[^0-9])", re.IGNORECASE),
]
# torchrun's [rank3]: and [default3]:, srun's "3: ", NCCL's [Rank 3], a torchelastic JSON event's "global_rank": 3
_LINE_RANK = re.compile(
    r"^\[(?:rank|default|worker)(\d+)\]:|^(\d{1,5}): |\[(?:PG [^\]]*?)?Rank (\d+)\]"
    r"|^\{\"name\": \"torchelastic\.[^\n]*?\"global_rank\": (\d+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LogSource:
    """One log to read: a file (plain or gzip) or standard input (``path`` None)."""

    name: str
    path: Path | None
    rank: int | None = None
    compressed: bool = False
    size_bytes: int | None = None
    encoding: str | None = None  # UTF-16/32: read transcoded to UTF-8 (opskit.sources.log_encoding)

    def open(self) -> BinaryIO:
        """A binary stream of the (decompressed, UTF-8) log."""
        if self.path is None:
            return sys.stdin.buffer
        raw = gzip.open(self.path, "rb") if self.compressed else open(self.path, "rb", buffering=0)  # noqa: SIM115
        return TranscodedStream(raw, self.encoding) if self.encoding else raw  # type: ignore[return-value]


@dataclass(frozen=True)
class Skipped:
    """A path that was not read as a log, and why (binary, unreadable, not a regular file)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Region:
    """Complete lines ``data[start:end]``; ``offset`` is the stream offset of ``data[0]``.

    ``continued`` marks a piece of a line longer than the line limit: it has no line end and the
    next region continues the same line.
    """

    data: bytes
    start: int
    end: int
    offset: int
    continued: bool = False


@dataclass(frozen=True)
class LogLine:
    """A decoded line with where it came from. ``line`` counts from 1."""

    file: str
    line: int
    text: str
    rank: int | None


def decode_line(raw: bytes) -> str:
    """Decode one line: UTF-8, then GBK, then latin-1 (which never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def rank_from_name(path: str | os.PathLike[str]) -> int | None:
    """The rank a log file's name or torchrun log folder names (``rank3.log``, ``job-rank-3.out``).

    torchrun's ``--log-dir`` layout ``.../attempt_0/<local rank>/stderr.log`` gives the local rank.
    """
    p = Path(path)
    for pattern in _FILE_RANK:
        m = pattern.search(p.name)
        if m:
            return int(m.group(1))
    if p.parent.name.isdigit() and p.parent.parent.name.startswith("attempt_"):
        return int(p.parent.name)
    return None


def rank_from_line(text: str) -> int | None:
    """The rank a line's prefix names: torchrun ``[rank3]:`` / ``[default3]:``, srun ``3: ``, ``[Rank 3]``."""
    m = _LINE_RANK.search(text, 0, 200)
    if not m:
        return None
    return int(next(g for g in m.groups() if g is not None))


def looks_binary(sample: bytes) -> bool:
    """True when the start of a file is mostly not text (NUL bytes or control characters)."""
    if not sample:
        return False
    if sample.count(b"\x00") > len(sample) // 100:
        return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    return control > len(sample) // 10


def _source_for(path: Path, name: str) -> LogSource | Skipped:
    try:
        if not path.is_file():
            return Skipped(name, "not a regular file")
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        compressed = head.startswith(GZIP_MAGIC)
        if compressed:
            head = gzip_head(path, SNIFF_BYTES)
    except OSError as exc:
        return Skipped(name, f"unreadable: {exc.strerror or exc}")
    if compressed and not head:
        return Skipped(name, "bad gzip: nothing could be decompressed")
    wide = wide_encoding(head)
    if wide is None and looks_binary(head):
        return Skipped(name, "binary file, not a text log")
    return LogSource(name, path, rank_from_name(path), compressed, size, wide)


def discover(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, max_files: int = 100_000
) -> tuple[list[LogSource], list[Skipped]]:
    """Expand paths into log sources: files, directories (recursively, sorted), ``-`` for stdin.

    A path that does not exist raises :class:`InputError`; binary and unreadable files are
    returned as :class:`Skipped` so one bad file does not stop the others.
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise InputError("no log path given", hint="pass a log file, a directory of logs or - for stdin")
    sources: list[LogSource] = []
    skipped: list[Skipped] = []
    for item in items:
        text = os.fspath(item)
        if text == STDIN:
            sources.append(LogSource("<stdin>", None))
            continue
        path = Path(text).expanduser()
        if not path.exists():
            raise InputError("no such file or directory", path=text, hint="check the path of the job's logs")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for fname in sorted(files):
                    if fname.startswith("."):
                        continue
                    if len(sources) >= max_files:
                        raise InputError(
                            f"more than {max_files} files under the directory",
                            path=text,
                            hint="point at the job's own log folder, or pass the files you need",
                        )
                    full = Path(root) / fname
                    found = _source_for(full, str(full))
                    (sources if isinstance(found, LogSource) else skipped).append(found)  # type: ignore[arg-type]
        else:
            found = _source_for(path, text)
            (sources if isinstance(found, LogSource) else skipped).append(found)  # type: ignore[arg-type]
    return sources, skipped


def iter_regions(
    stream: BinaryIO, *, block_bytes: int = BLOCK_BYTES, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Region]:
    """Split a binary stream into regions of complete lines without copying large blocks.

    Each block read is yielded as it is with ``start``/``end`` around its complete lines; the
    line that straddles two blocks is yielded as a small region of its own. Memory is about two
    blocks plus ``max_line_bytes`` whatever the stream's size.
    """
    carry = b""
    carry_offset = 0
    offset = 0
    while True:
        data = stream.read(block_bytes)
        if not data:
            break
        first = data.find(b"\n")
        if first < 0:
            if not carry:
                carry_offset = offset
            carry += data
            offset += len(data)
            if len(carry) > max_line_bytes:
                yield Region(carry, 0, len(carry), carry_offset, continued=True)
                carry, carry_offset = b"", offset
            continue
        head = carry + data[: first + 1]
        yield Region(head, 0, len(head), carry_offset)
        last = data.rfind(b"\n")
        if last > first:
            yield Region(data, first + 1, last + 1, offset)
        carry = data[last + 1 :]
        carry_offset = offset + last + 1
        offset += len(data)
    if carry:
        yield Region(carry, 0, len(carry), carry_offset)


def iter_lines(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[LogLine]:
    """Decoded lines of every log under ``paths`` with file, line number and rank (prefix, else file)."""
    sources, _ = discover(paths)
    for source in sources:
        yield from iter_source_lines(source, max_line_bytes=max_line_bytes)


def iter_source_lines(source: LogSource, *, max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[LogLine]:
    """Decoded lines of one source; pieces of an over-long line keep that line's number."""
    stream = source.open()
    try:
        number = 1
        for region in iter_regions(stream, max_line_bytes=max_line_bytes):
            chunk = region.data[region.start : region.end]
            if region.continued:
                text = decode_line(chunk)
                yield LogLine(source.name, number, text, _rank(text, source.rank))
                continue
            pieces = chunk.split(b"\n")
            if chunk.endswith(b"\n"):
                pieces.pop()
            for raw in pieces:
                text = decode_line(raw.rstrip(b"\r"))
                yield LogLine(source.name, number, text, _rank(text, source.rank))
                number += 1
    finally:
        if source.path is not None:
            stream.close()


def _rank(text: str, default: int | None) -> int | None:
    found = rank_from_line(text)
    return found if found is not None else default


def read_excerpt(
    source: LogSource, offset: int, *, before: int = 2, after: int = 2, window_bytes: int = 16384
) -> list[tuple[int, str]]:
    """Lines around the line that starts at byte ``offset``: ``(relative index, text)``, 0 is that line.

    Reads a small window of the file (gzip is decompressed up to it); standard input cannot be
    re-read, so it gives an empty list.
    """
    if source.path is None:
        return []
    start = max(0, offset - window_bytes)
    with source.open() as fh:
        if source.compressed:
            fh.seek(start)
        else:
            fh.seek(start, io.SEEK_SET)
        window = read_until_damage(fh, offset - start + window_bytes)
    pre = window[: offset - start].split(b"\n")
    pre_lines = pre[:-1] if pre[-1] == b"" else pre
    if start > 0 and pre_lines:
        pre_lines = pre_lines[1:]  # the first piece may start mid-line
    post = window[offset - start :].split(b"\n")
    out = [(i - len(pre_lines[-before:]), decode_line(t.rstrip(b"\r"))) for i, t in enumerate(pre_lines[-before:])]
    if before == 0:
        out = []
    out += [(i, decode_line(t.rstrip(b"\r"))) for i, t in enumerate(post[: after + 1])]
    return out


# ---------------------------------------------------------------- evidence preservation

MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"


def _copy_with_sha256(src: Path, dst: Path) -> tuple[int, str]:
    import hashlib

    digest = hashlib.sha256()
    size = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(1 << 20):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def preserve_evidence(
    sources: Iterable[LogSource], folder: str | os.PathLike[str], *, extra: dict | None = None
) -> Path:
    """Copy the logs into an incident folder with SHA-256 checksums and a manifest; return the manifest.

    Layout: ``logs/`` (the copies, relative to the logs' common folder), ``SHA256SUMS`` (the
    ``sha256sum -c`` format) and ``manifest.json`` (original path, copy, size, SHA-256, modification
    time and rank of each file, plus ``extra``: the findings). A folder that already holds a manifest
    is refused, so earlier evidence is never overwritten.
    """
    import json
    import shutil
    import socket
    from datetime import UTC, datetime

    from opskit import __version__

    target = Path(folder).expanduser()
    if (target / MANIFEST).exists():
        raise InputError(
            "this incident folder already holds evidence",
            path=target,
            hint="choose a new folder for --keep; evidence is never overwritten",
        )
    files = [s for s in sources if s.path is not None]
    if not files:
        raise InputError("no log file to keep", hint="pass log files or folders (standard input is saved by the CLI)")
    parents = [str(s.path.resolve().parent) for s in files]  # type: ignore[union-attr]
    common = Path(os.path.commonpath(parents)) if len(set(parents)) > 1 else Path(parents[0])
    entries = []
    for s in files:
        src = s.path.resolve()  # type: ignore[union-attr]
        rel = Path("logs") / src.relative_to(common)
        dst = target / rel
        if dst.exists():
            rel = rel.with_name(f"{len(entries)}-{rel.name}")
            dst = target / rel
        size, sha = _copy_with_sha256(src, dst)
        shutil.copystat(src, dst)
        entries.append(
            {
                "original": str(src),
                "copy": rel.as_posix(),
                "bytes": size,
                "sha256": sha,
                "modified_at": datetime.fromtimestamp(src.stat().st_mtime, UTC).isoformat(),
                "rank": s.rank,
                "compressed": s.compressed,
            }
        )
    manifest = {
        "kind": "opskit incident evidence",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "opskit_version": __version__,
        "host": socket.gethostname(),
        "files": entries,
        **(extra or {}),
    }
    sums = "".join(f"{e['sha256']}  {e['copy']}\n" for e in entries)
    for name, text in ((CHECKSUMS, sums), (MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")):
        tmp = target / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target / name)
    return target / MANIFEST
