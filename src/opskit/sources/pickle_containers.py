"""Find every pickle a loader would unpickle inside a file: plain streams, archives and compressed wrappers.

:func:`find_pickles` returns the ``(stream name, bytes)`` pairs that ``pickle.load``, ``torch.load``,
``np.load(allow_pickle=True)``, ``joblib.load`` or ``dill.load`` would unpickle, and the problems that
stop a full read (which make the file unproven, never safe):

* pickles of any protocol, with or without ``PROTO``, and the streams that follow (legacy ``torch.save``
  writes five; torch unpickles them all);
* zip archives (torch checkpoints, ``.npz``, plain zips): the central directory is read, and every
  ``*.pkl``/``*.pickle`` member, every member that starts like a pickle outside torch's ``*/data/``
  storage folder, and every ``.npy`` member holding an object array; a member zipfile refuses (local
  header name mismatch, bad CRC, which torch tolerates) is read raw from its local header;
* ``.npy`` object arrays (the pickle after the header), joblib files (raw array bytes inside the stream,
  object arrays as nested pickles: see :func:`joblib_array_hook`), gzip/bz2/xz/lzma/zlib/lz4 wrappers, tar.

Limits against archive bombs: :data:`MAX_DECOMPRESSED_BYTES` per member or wrapper, :data:`MAX_MEMBERS`
archive members, :data:`MAX_DEPTH` nested containers. A limit reached is a problem, stated in the report.
"""

from __future__ import annotations

import ast
import bz2
import io
import lzma
import mmap
import re
import struct
import tarfile
import zipfile
import zlib
from typing import Any

from opskit.sources.pickle_program import PickleCall, PickleGlobal, PickleProgram, interpret_pickle

MAX_DECOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 10_000
MAX_DEPTH = 3
MAX_STREAMS = 16
LIMITS = {
    "decompressed bytes per member": MAX_DECOMPRESSED_BYTES,
    "archive members": MAX_MEMBERS,
    "nested containers": MAX_DEPTH,
    "pickle streams per file": MAX_STREAMS,
}
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_WRAPPERS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00", b"\x04\x22\x4d\x18")
_ARRAY_WRAPPERS = {"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"}
_DTYPE_CODE = re.compile(r"^[<>|=]?[a-zA-Z]\d*$")


class ContainerLimit(Exception):
    """A limit against archive bombs was reached."""


# ------------------------------------------------------------------------------------------- joblib
def _itemsize(dtype: Any) -> tuple[int, bool]:
    """Item size and has-object of a pickled ``numpy.dtype`` call, computed without unpickling it."""
    import numpy as np

    if not (isinstance(dtype, PickleCall) and isinstance(dtype.func, PickleGlobal) and dtype.args):
        raise ValueError("joblib array without a readable dtype")
    code = dtype.args[0]
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = state[7] if len(state) > 7 and isinstance(state[7], int) else 0
    if len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5], bool(flags & 1)
    if not isinstance(code, str) or not _DTYPE_CODE.match(code):
        raise ValueError(f"joblib array dtype {code!r} cannot be sized")
    kind = np.dtype(code)
    return kind.itemsize, kind.hasobject or bool(flags & 1)


def joblib_array_hook(call: PickleCall, data: bytes, offset: int) -> tuple[int, tuple[PickleProgram, ...]] | None:
    """After ``BUILD`` of joblib's ``NumpyArrayWrapper``, joblib reads the array from the file: raw bytes
    (after an alignment pad), or a nested pickle for object arrays. Returns where the stream resumes."""
    if not (isinstance(call.func, PickleGlobal) and call.func.qualname in _ARRAY_WRAPPERS):
        return None
    state = call.state if isinstance(call.state, dict) else {}
    shape = state.get("shape")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError("joblib array without a readable shape")
    itemsize, has_object = _itemsize(state.get("dtype"))
    if has_object:
        inner = interpret_pickle(data, f"joblib object array@{offset}", start=offset, raw_hook=joblib_array_hook)
        if inner.error:
            raise ValueError(f"object array pickle at byte {offset}: {inner.error}")
        return inner.end, (inner,)
    if state.get("numpy_array_alignment_bytes") is not None:
        if offset >= len(data):
            raise ValueError("joblib array padding runs past the end")
        offset += 1 + data[offset]
    count = 1
    for d in shape:
        count *= d
    end = offset + count * itemsize
    if end > len(data):
        raise ValueError(f"joblib array of {count * itemsize:,} bytes runs past the end of the stream")
    return end, ()


# -------------------------------------------------------------------------------------- pickle streams
def looks_like_pickle(head: bytes, truncated: bool) -> bool:
    """True when ``head`` starts a pickle: ``PROTO`` 0-5, or protocol 0/1 opcodes followed without error."""
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    if not head or head[:1] in b" \t\r\n#<{":
        return False
    program = interpret_pickle(head, raw_hook=joblib_array_hook)
    if program.complete:
        return True
    return truncated and sum(program.opcode_counts.values()) >= 3 and "truncated" in (program.error or "")


def split_streams(data: bytes, name: str) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The consecutive pickle streams of ``data``: five for a legacy ``torch.save`` file (then raw storages),
    else every stream that follows while the next bytes start with ``PROTO``."""
    streams: list[tuple[str, bytes]] = []
    problems: list[str] = []
    pos, legacy = 0, False
    while pos < len(data) and len(streams) < MAX_STREAMS:
        index = len(streams) + 1
        label = f"pickle {index}" if not name else (name if index == 1 else f"{name} stream {index}")
        program = interpret_pickle(data, label, start=pos, raw_hook=joblib_array_hook)
        streams.append((program.stream, data[pos : program.end]))
        if program.error:
            break  # the scan reports the error
        if len(streams) == 1:
            legacy = program.value == TORCH_LEGACY_MAGIC
        pos = program.end
        if legacy and len(streams) >= 5:
            break
        if not legacy and not (pos + 1 < len(data) and data[pos] == 0x80 and data[pos + 1] <= 5):
            break
    else:
        if pos < len(data) and len(streams) >= MAX_STREAMS:
            problems.append(f"{name}: more than {MAX_STREAMS} pickle streams; the rest were not read")
    return streams, problems


# ----------------------------------------------------------------------------------------- wrappers
def _decompress(data: bytes, name: str) -> bytes:
    head = data[:6]
    if head.startswith(b"\x1f\x8b"):
        d: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif head.startswith(b"BZh"):
        d = bz2.BZ2Decompressor()
    elif head.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
        d = lzma.LZMADecompressor()
    elif head.startswith(b"\x04\x22\x4d\x18"):
        import lz4.frame

        d = lz4.frame.LZ4FrameDecompressor()
    else:
        d = zlib.decompressobj()
    out = d.decompress(data, MAX_DECOMPRESSED_BYTES + 1)
    if len(out) > MAX_DECOMPRESSED_BYTES:
        raise ContainerLimit(f"{name}: decompresses to more than {MAX_DECOMPRESSED_BYTES:,} bytes (limit); not read")
    return out


def _is_zlib(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0


# -------------------------------------------------------------------------------------------- archives
class _MappedFile:
    """A memory-mapped file as zipfile wants it (seekable), so a large checkpoint is never copied."""

    def __init__(self, mm: mmap.mmap):
        self._mm = mm

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mm, name)

    def seekable(self) -> bool:
        return True


def _raw_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """A zip member read from its local header, as torch does: no name check, no CRC check."""
    at = info.header_offset
    if data[at : at + 4] != b"PK\x03\x04":
        raise ValueError(f"{info.filename}: no local header at byte {at}")
    name_len, extra_len = struct.unpack("<HH", data[at + 26 : at + 30])
    start = at + 30 + name_len + extra_len
    raw = data[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return raw
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise ValueError(f"{info.filename}: compression method {info.compress_type} not supported")
    out = zlib.decompressobj(-15).decompress(raw, MAX_DECOMPRESSED_BYTES + 1)
    if len(out) > MAX_DECOMPRESSED_BYTES:
        raise ContainerLimit(f"{info.filename}: decompresses to more than {MAX_DECOMPRESSED_BYTES:,} bytes (limit)")
    return out


def _zip_members(data: bytes, name: str, depth: int, out: list, problems: list) -> None:
    try:
        zf = zipfile.ZipFile(_MappedFile(data) if isinstance(data, mmap.mmap) else io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        problems.append(f"{name}: zip central directory cannot be read ({exc})")
        return
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        problems.append(f"{name}: {len(infos):,} members exceed the limit of {MAX_MEMBERS:,}; none were read")
        return
    for info in infos:
        member = info.filename
        if info.is_dir() or re.search(r"(^|/)data/[^/.]+$", member):
            continue  # torch storages: raw tensor bytes, never unpickled
        if info.file_size > MAX_DECOMPRESSED_BYTES:
            problems.append(f"{name}/{member}: {info.file_size:,} bytes exceed the limit; not read")
            continue
        try:
            try:
                body = zf.read(info) if info.file_size < 64 * 1024 * 1024 or member.endswith(".pkl") else None
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, KeyError):
                body = _raw_member(data, info)  # what torch reads: tolerates name mismatch and bad CRC
            if body is None:
                with zf.open(info) as fh:
                    body = fh.read(64)
                if not (body.startswith(b"\x93NUMPY") or looks_like_pickle(body, True)):
                    continue
                body = zf.read(info)
        except (ContainerLimit, ValueError, zlib.error, EOFError, OSError, zipfile.BadZipFile) as exc:
            problems.append(f"{name}/{member}: cannot be read ({exc})")
            continue
        _find(
            body,
            f"{name}/{member}" if name else member,
            depth + 1,
            out,
            problems,
            must=member.endswith((".pkl", ".pickle")),
        )


def _tar_members(data: bytes, name: str, depth: int, out: list, problems: list) -> None:
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = tar.getmembers()
            if len(members) > MAX_MEMBERS:
                problems.append(f"{name}: {len(members):,} members exceed the limit of {MAX_MEMBERS:,}")
                return
            for m in members:
                if m.isfile():
                    fh = tar.extractfile(m)
                    if fh is not None:
                        _find(fh.read(), f"{name}/{m.name}" if name else m.name, depth + 1, out, problems, must=False)
    except (tarfile.TarError, OSError, EOFError) as exc:
        problems.append(f"{name}: tar archive cannot be read ({exc})")


def _npy_pickle(data: bytes, name: str, out: list, problems: list) -> None:
    try:
        major = data[6]
        size_len = 2 if major == 1 else 4
        header_len = int.from_bytes(data[8 : 8 + size_len], "little")
        start = 8 + size_len
        header = ast.literal_eval(data[start : start + header_len].decode("latin-1"))
        descr = header["descr"]
    except (IndexError, ValueError, SyntaxError, KeyError, TypeError) as exc:
        problems.append(f"{name}: .npy header cannot be read ({exc})")
        return
    if "O" in repr(descr):  # an object array (or object field): np.load(allow_pickle=True) unpickles the rest
        out.extend(split_streams(data[start + header_len :], name)[0])


def _is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def _sniff_container(data: bytes) -> bool:
    return data[:4] in (b"PK\x03\x04", b"PK\x05\x06") or data.startswith(_WRAPPERS) or _is_tar(data)


def sniff_pickle_bearing(head: bytes, truncated: bool) -> bool:
    """True when a file's first bytes say a loader may unpickle it (pickle, zip, npy, tar, compressed)."""
    return (
        _sniff_container(head)
        or head.startswith((b"\x93NUMPY", b"7z\xbc\xaf\x27\x1c", b"ZF"))
        or _is_zlib(head)
        or looks_like_pickle(head, truncated)
    )


def _find(data: bytes, name: str, depth: int, out: list, problems: list, must: bool = True) -> None:
    if depth > MAX_DEPTH:
        problems.append(f"{name}: containers nested deeper than {MAX_DEPTH} (limit); not read")
        return
    try:
        if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            _zip_members(data, name, depth, out, problems)
        elif data.startswith(b"\x93NUMPY"):
            _npy_pickle(data, name, out, problems)
        elif data.startswith(_WRAPPERS) or _is_zlib(data[:2]):
            _find(_decompress(data, name), name, depth + 1, out, problems)
        elif data.startswith(b"ZF"):  # joblib before 0.9.3: "ZF" + 16 bytes of length, then zlib
            _find(_decompress(data[18:], name), name, depth + 1, out, problems)
        elif _is_tar(data):
            _tar_members(data, name, depth, out, problems)
        elif data.startswith(b"7z\xbc\xaf\x27\x1c"):
            problems.append(f"{name}: 7z archive; opskit does not read 7z, so its members were not checked")
        elif must or looks_like_pickle(data[:4096], len(data) > 4096):
            streams, more = split_streams(data, name)
            out.extend(streams)
            problems.extend(more)
    except (ContainerLimit, lzma.LZMAError, OSError, EOFError, zlib.error, ValueError) as exc:
        problems.append(f"{name}: {exc}")


def find_pickles(data: bytes | mmap.mmap, name: str) -> tuple[tuple[tuple[str, bytes], ...], tuple[str, ...]]:
    """Every pickle stream a loader could unpickle from ``data`` (a whole file), and what was not read."""
    out: list[tuple[str, bytes]] = []
    problems: list[str] = []
    _find(data, "", 0, out, problems, must=False)
    return tuple(out), tuple(p if p[:1] != ":" else f"{name}{p}" for p in problems)
