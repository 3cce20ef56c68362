"""Read-only inspection of model files: what a file really is, and what is wrong with its structure.

Nothing here executes anything from a file. Pickles (``data.pkl`` inside a PyTorch zip checkpoint,
legacy ``torch.save`` files, plain pickles) are read opcode by opcode with :func:`pickletools.genops`
and interpreted symbolically by :func:`interpret_pickle` (imports become :class:`PickleGlobal` stubs,
calls become :class:`PickleCall` records; nothing is imported or called). torch, onnx and safetensors
are never imported here.

:func:`inspect_model_file` sniffs the first bytes (not the suffix) and validates what it can cheaply,
without reading tensor data: the safetensors header (length, JSON, dtypes, shapes, offsets within the
file), the zip central directory and entries of a PyTorch checkpoint, the top-level fields of an ONNX
protobuf, the GGUF header, and text that is not a model at all (an HTML page, a Git LFS pointer,
an empty file). The equivalent by hand: ``head -c 64 FILE | xxd``, ``unzip -l FILE``,
``python -m pickletools FILE``.
"""

from __future__ import annotations

import io
import json
import pickletools
import re
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.errors import InputError

MODEL_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".gguf", ".pkl", ".pickle", ".h5", ".keras", ".npy"}
)
HEAD_BYTES = 4096
SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors reference implementation enforces
MAX_PICKLE_BYTES = 512 * 1024 * 1024  # data.pkl of a very large model is a few MB; refuse absurd ones
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of a legacy (pre-1.6) torch.save file

# Bits per element; sub-byte float formats are packed.
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64,
    "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip

REFETCH = "fetch the file again from its source and compare its size and SHA-256 with the source's"


class ModelFormat(StrEnum):
    """What a file is, judged from its bytes."""

    SAFETENSORS = "safetensors"
    TORCH_ZIP = "pytorch-zip"
    PICKLE = "pickle"
    ONNX = "onnx"
    GGUF = "gguf"
    HDF5 = "hdf5"
    NUMPY = "numpy"
    ZIP = "zip"
    HTML = "html"
    LFS_POINTER = "git-lfs-pointer"
    JSON = "json"
    TEXT = "text"
    EMPTY = "empty"
    UNKNOWN = "unknown"

    @property
    def is_model(self) -> bool:
        return self not in _NOT_MODELS


_NOT_MODELS = {ModelFormat.HTML, ModelFormat.LFS_POINTER, ModelFormat.JSON, ModelFormat.TEXT, ModelFormat.EMPTY}
PICKLE_FORMATS = {ModelFormat.TORCH_ZIP, ModelFormat.PICKLE}


@dataclass(frozen=True)
class ModelFileInfo:
    """The result of inspecting one file.

    ``problem`` says what is wrong with the structure (None when it is sound), ``fix`` how to get a
    good copy. ``details`` holds what was read (header length, entries, ir_version, LFS oid...).
    ``tensors`` (safetensors) has columns ``name``, ``dtype``, ``shape``, ``numel``, ``nbytes``,
    ``begin``, ``end`` (byte offsets into the data section). ``pickles`` lists the pickle streams
    as ``(stream name, bytes)`` for :mod:`opskit.analyses.pickle_safety`; never unpickle them.
    """

    path: Path
    size_bytes: int
    format: ModelFormat
    problem: str | None = None
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    tensors: pd.DataFrame | None = field(default=None, compare=False)
    pickles: tuple[tuple[str, bytes], ...] = field(default=(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.problem is None and self.format.is_model


# --------------------------------------------------------------------------------------------- sniffing
def inspect_model_file(path: str | Path) -> ModelFileInfo:
    """Identify ``path`` from its bytes and validate its structure, without executing anything."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such model file", path=path, hint="check model_path: it must name a file or a folder")
    size = path.stat().st_size
    if size == 0:
        return ModelFileInfo(
            path,
            0,
            ModelFormat.EMPTY,
            "empty file (0 bytes): the copy or download never wrote data",
            "the transfer failed or was interrupted: " + REFETCH,
        )
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith(b"version https://git-lfs"):
        return _inspect_lfs_pointer(path, size, head)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _inspect_zip(path, size)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return _inspect_pickle_file(path, size)
    if head.startswith(b"GGUF"):
        return _inspect_gguf(path, size, head)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return ModelFileInfo(path, size, ModelFormat.HDF5, details={"note": "HDF5 (Keras .h5); not inspected further"})
    if head.startswith(b"\x93NUMPY"):
        return ModelFileInfo(path, size, ModelFormat.NUMPY)
    if (len(head) >= 9 and head[8:9] == b"{") or (path.suffix == ".safetensors" and not _looks_like_text(head)):
        return inspect_safetensors(path)
    if head[:1] == b"\x08" and _looks_like_onnx(head):
        return _inspect_onnx(path, size)
    if _looks_like_text(head):
        return _inspect_text(path, size, head)
    return ModelFileInfo(
        path,
        size,
        ModelFormat.UNKNOWN,
        f"not a model format opskit recognises (first bytes {head[:8].hex(' ')})",
        "check what produced this file (file(1) may know); " + REFETCH,
    )


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of the head is still text
        return exc.start >= len(head) - 3
    return True


_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<title[\s>]", re.IGNORECASE)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def _inspect_text(path: Path, size: int, head: bytes) -> ModelFileInfo:
    if _HTML.search(head[:2048]):
        title = _TITLE.search(head)
        text = title.group(1).decode("utf-8", "replace").strip() if title else ""
        what = f"an HTML page{f' titled {text!r}' if text else ''}, not model weights ({size:,} bytes)"
        return ModelFileInfo(
            path,
            size,
            ModelFormat.HTML,
            what,
            "the URL returned a web page (sign-in, error or redirect) and it was saved as the model: download "
            "with an authenticated client (huggingface-cli download, aws s3 cp, curl -fL with a token), "
            "then " + REFETCH,
            {"title": text},
        )
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        return ModelFileInfo(path, size, ModelFormat.JSON, details={"note": "JSON text (a config, index or manifest)"})
    return ModelFileInfo(
        path,
        size,
        ModelFormat.TEXT,
        f"plain text, not model weights ({size:,} bytes)",
        "open it to see what it says (often an error message saved in place of the file); then " + REFETCH,
        {"first_line": head.decode("utf-8", "replace").splitlines()[0][:200] if head.strip() else ""},
    )


def _inspect_lfs_pointer(path: Path, size: int, head: bytes) -> ModelFileInfo:
    fields = dict(line.split(" ", 1) for line in head.decode("utf-8", "replace").splitlines() if " " in line)
    oid = fields.get("oid", "")
    expected = int(fields["size"]) if fields.get("size", "").strip().isdigit() else None
    sha256 = oid.split(":", 1)[1].strip() if oid.startswith("sha256:") else None
    what = "a Git LFS pointer file, not the weights"
    if expected is not None:
        what += f" (the real file is {expected:,} bytes, sha256 {sha256 or '?'})"
    return ModelFileInfo(
        path,
        size,
        ModelFormat.LFS_POINTER,
        what,
        f"the repository was cloned without Git LFS: run `git lfs install && git lfs pull --include {path.name!r}` "
        "in the clone (or download the file itself), then check its SHA-256 against the pointer's oid",
        {"lfs_sha256": sha256, "lfs_size_bytes": expected},
    )


# ------------------------------------------------------------------------------------------ safetensors
def inspect_safetensors(path: str | Path) -> ModelFileInfo:
    """Validate a safetensors file: header length, JSON header, dtypes, shapes and data offsets.

    Reads only the 8-byte length and the header. Layout: ``u64 little-endian N``, ``N`` bytes of
    JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``,
    then the data section, which the tensors must cover exactly.
    """
    path = Path(path)
    size = path.stat().st_size

    def bad(problem: str, fix: str = REFETCH, **details: Any) -> ModelFileInfo:
        return ModelFileInfo(path, size, ModelFormat.SAFETENSORS, problem, fix, details)

    if size < 8:
        return bad(f"only {size} bytes: too short for the 8-byte safetensors header length")
    with path.open("rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > SAFETENSORS_MAX_HEADER:
            return bad(
                f"header length field is {n:,} bytes (limit {SAFETENSORS_MAX_HEADER:,}): the first 8 bytes are corrupt",
                header_length=n,
            )
        if n > size - 8:
            return bad(
                f"header length field says {n:,} bytes but only {size - 8:,} follow: the header is corrupt or "
                "the file is truncated",
                header_length=n,
            )
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return bad(f"header is not UTF-8 (byte {8 + exc.start}): the header is corrupt", header_length=n)
    except json.JSONDecodeError as exc:
        return bad(
            f"header is not valid JSON ({exc.msg.removesuffix(' at')}, byte {8 + exc.pos}): the header is corrupt",
            header_length=n,
        )
    if not isinstance(header, dict):
        return bad("header JSON is not an object: the header is corrupt", header_length=n)
    metadata = header.pop("__metadata__", None)
    data_size = size - 8 - n
    rows = []
    for name, entry in header.items():
        problem = _tensor_entry_problem(name, entry)
        if problem:
            return bad(problem, header_length=n)
        bits = SAFETENSORS_DTYPE_BITS[entry["dtype"]]
        numel = 1
        for dim in entry["shape"]:
            numel *= dim
        begin, end = entry["data_offsets"]
        nbytes = (numel * bits + 7) // 8
        if end - begin != nbytes:
            return bad(
                f"tensor {name!r}: data_offsets span {end - begin:,} bytes but {entry['dtype']} "
                f"{entry['shape']} needs {nbytes:,}: the header is corrupt",
                header_length=n,
            )
        rows.append((name, entry["dtype"], tuple(entry["shape"]), numel, nbytes, begin, end))
    tensors = pd.DataFrame(rows, columns=["name", "dtype", "shape", "numel", "nbytes", "begin", "end"])
    details: dict[str, Any] = {"header_length": n, "tensor_count": len(rows), "data_bytes": data_size,
                               "metadata": metadata if isinstance(metadata, dict) else None}  # fmt: skip
    needed = int(tensors["end"].max()) if rows else 0
    problem = None
    if needed > data_size:
        problem = (
            f"truncated: the header places tensor data up to byte {needed:,} of the data section but the file "
            f"holds {data_size:,} ({needed - data_size:,} bytes missing)"
        )
    else:
        ordered = tensors.sort_values("begin")
        overlap = ordered["begin"].to_numpy()[1:] < ordered["end"].to_numpy()[:-1]
        if overlap.any():
            problem = "tensors overlap in the data section: the header is corrupt"
        elif needed < data_size:
            details["trailing_bytes"] = data_size - needed
    details["expected_size_bytes"] = 8 + n + needed
    return ModelFileInfo(path, size, ModelFormat.SAFETENSORS, problem, REFETCH if problem else None, details, tensors)


def _tensor_entry_problem(name: str, entry: Any) -> str | None:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        return f"tensor {name!r}: entry lacks dtype, shape or data_offsets: the header is corrupt"
    if entry["dtype"] not in SAFETENSORS_DTYPE_BITS:
        return f"tensor {name!r}: unknown dtype {entry['dtype']!r}: the header is corrupt (or a newer format)"
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers: the header is corrupt"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        return f"tensor {name!r}: data_offsets {offsets!r} are not [begin, end]: the header is corrupt"
    return None


# ----------------------------------------------------------------------------------------- zip / pickle
def _inspect_zip(path: Path, size: int) -> ModelFileInfo:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return ModelFileInfo(
            path,
            size,
            ModelFormat.TORCH_ZIP if path.suffix in {".pt", ".pth", ".bin", ".ckpt"} else ModelFormat.ZIP,
            f"truncated or damaged: the zip central directory at the end of the file is missing ({exc}); "
            f"the file stops after {size:,} bytes",
            REFETCH,
            {"zip_error": str(exc)},
        )
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        details: dict[str, Any] = {"entries": len(names), "entry_names": names[:20]}
        pkl = [i for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") == 1]
        if not pkl:
            return ModelFileInfo(path, size, ModelFormat.ZIP, details=details)
        prefix = pkl[0].filename.rsplit("/", 1)[0]
        details["archive"] = prefix
        beyond = [i.filename for i in infos if i.header_offset + i.compress_size > size]
        if beyond:
            return ModelFileInfo(
                path,
                size,
                ModelFormat.TORCH_ZIP,
                f"entries extend past the end of the file: {', '.join(beyond[:3])}",
                REFETCH,
                details,
            )
        if pkl[0].file_size > MAX_PICKLE_BYTES:
            return ModelFileInfo(
                path,
                size,
                ModelFormat.TORCH_ZIP,
                f"{pkl[0].filename} is {pkl[0].file_size:,} bytes: too large to be a checkpoint's pickle",
                REFETCH,
                details,
            )
        try:
            data = zf.read(pkl[0])
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return ModelFileInfo(
                path, size, ModelFormat.TORCH_ZIP, f"{pkl[0].filename} cannot be read: {exc}", REFETCH, details
            )
        details["version"] = _read_small(zf, f"{prefix}/version")
        details["byteorder"] = _read_small(zf, f"{prefix}/byteorder")
        details["storages"] = sum(1 for n in names if n.startswith(f"{prefix}/data/"))
    stream = f"{prefix}/data.pkl"
    problem = pickle_stream_problem(data, stream)
    return ModelFileInfo(
        path, size, ModelFormat.TORCH_ZIP, problem, REFETCH if problem else None, details, pickles=((stream, data),)
    )


def _read_small(zf: zipfile.ZipFile, name: str) -> str | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    return zf.read(info).decode("utf-8", "replace").strip() if info.file_size < 64 else None


def _inspect_pickle_file(path: Path, size: int) -> ModelFileInfo:
    """A legacy ``torch.save`` file (several pickles, then raw storages) or a plain pickle."""
    if size > MAX_PICKLE_BYTES:
        with path.open("rb") as fh:
            data = fh.read(MAX_PICKLE_BYTES)
    else:
        data = path.read_bytes()
    streams: list[tuple[str, bytes]] = []
    pos, problem = 0, None
    for index in range(1, 6):  # legacy torch: magic, protocol, sys info, the object, storage keys
        try:
            end = _pickle_end(data, pos)
        except ValueError as exc:
            if index == 1:
                problem = f"pickle stream 1 is damaged or truncated: {exc}"
            break
        streams.append((f"pickle {index}", data[pos:end]))
        pos = end
        if pos >= len(data) or data[pos] != 0x80:
            break
    details: dict[str, Any] = {"pickle_streams": len(streams)}
    if streams:
        first = [arg for op, arg, _ in pickletools.genops(streams[0][1]) if op.name.startswith("LONG")]
        details["torch_legacy"] = bool(first) and first[0] == TORCH_LEGACY_MAGIC
    return ModelFileInfo(
        path, size, ModelFormat.PICKLE, problem, REFETCH if problem else None, details, pickles=tuple(streams)
    )


def _pickle_end(data: bytes, start: int) -> int:
    """Byte offset just past the STOP opcode of the pickle starting at ``start``."""
    stream = io.BytesIO(data)
    stream.seek(start)
    for op, _, pos in pickletools.genops(stream):
        if op.name == "STOP":
            return pos + 1
    raise ValueError("no STOP opcode")  # pragma: no cover - genops raises first


def pickle_stream_problem(data: bytes, stream: str) -> str | None:
    """Why a pickle stream cannot be read opcode by opcode (truncated, garbled), or None."""
    try:
        _pickle_end(data, 0)
    except ValueError as exc:
        return f"{stream} is damaged or truncated: {exc}"
    return None


# ------------------------------------------------------------------------------------- onnx and gguf
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("varint runs past the end")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


_ONNX_FIELDS = {1: "ir_version", 2: "producer_name", 3: "producer_version", 4: "domain", 5: "model_version",
                6: "doc_string", 7: "graph", 8: "opset_import", 14: "metadata_props", 20: "training_info",
                25: "functions", 26: "configuration"}  # fmt: skip


def _looks_like_onnx(head: bytes) -> bool:
    try:
        ir_version, pos = _varint(head, 1)
        tag, _ = _varint(head, pos)
    except ValueError:
        return False
    return 1 <= ir_version <= 20 and (tag >> 3) in _ONNX_FIELDS and (tag & 7) in (0, 2)


def _inspect_onnx(path: Path, size: int) -> ModelFileInfo:
    """Walk the top-level fields of the ModelProto without onnx installed: skips the graph's bytes."""
    details: dict[str, Any] = {}
    with path.open("rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            buf = fh.read(20)
            try:
                tag, after = _varint(buf, 0)
                number, wire = tag >> 3, tag & 7
                if wire == 0:
                    value, after = _varint(buf, after)
                    length = 0
                elif wire == 2:
                    length, after = _varint(buf, after)
                else:
                    raise ValueError(f"unexpected wire type {wire} for field {number}")
            except ValueError as exc:
                return ModelFileInfo(
                    path, size, ModelFormat.ONNX, f"damaged protobuf at byte {pos}: {exc}", REFETCH, details
                )
            name = _ONNX_FIELDS.get(number, f"field {number}")
            if pos + after + length > size:
                return ModelFileInfo(
                    path,
                    size,
                    ModelFormat.ONNX,
                    f"truncated: {name} needs {length:,} bytes from byte {pos + after:,} but the file ends at {size:,}",
                    REFETCH,
                    details,
                )
            if wire == 0:
                details[name] = value
            elif number in (2, 3) and length < 256:
                fh.seek(pos + after)
                details[name] = fh.read(length).decode("utf-8", "replace")
            pos += after + length
    return ModelFileInfo(path, size, ModelFormat.ONNX, details=details)


def _inspect_gguf(path: Path, size: int, head: bytes) -> ModelFileInfo:
    if len(head) < 24:
        return ModelFileInfo(path, size, ModelFormat.GGUF, "truncated: shorter than the 24-byte GGUF header", REFETCH)
    version, tensors, kvs = struct.unpack("<IQQ", head[4:24])
    return ModelFileInfo(
        path,
        size,
        ModelFormat.GGUF,
        details={"gguf_version": version, "tensor_count": tensors, "metadata_kv_count": kvs},
    )


# ---------------------------------------------------------------------------------- directory listing
def list_model_files(path: str | Path) -> list[Path]:
    """The files to inspect: ``path`` itself, or the model files (by suffix) in a folder, sorted.

    Hidden files and ``.git``/``.cache`` folders are left out; a folder with no model file is an error.
    """
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError("no such file or folder", path=path, hint="check model_path")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in MODEL_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise InputError(
            "no model files in this folder",
            path=path,
            hint="expected files ending in " + ", ".join(sorted(MODEL_SUFFIXES)),
        )
    return files


def inspect_model_dir(path: str | Path) -> list[ModelFileInfo]:
    """:func:`inspect_model_file` for each file of :func:`list_model_files`."""
    return [inspect_model_file(p) for p in list_model_files(path)]


def inspections_frame(infos: list[ModelFileInfo], root: str | Path | None = None) -> pd.DataFrame:
    """One row per file: ``file``, ``size_bytes``, ``format``, ``ok``, ``problem``, ``fix``."""
    base = Path(root) if root is not None and Path(root).is_dir() else None
    rows = [
        {
            "file": str(i.path.relative_to(base)) if base else i.path.name,
            "size_bytes": i.size_bytes,
            "format": i.format.value,
            "ok": i.ok,
            "problem": i.problem,
            "fix": i.fix,
        }
        for i in infos
    ]
    return pd.DataFrame(rows, columns=["file", "size_bytes", "format", "ok", "problem", "fix"])


# ------------------------------------------------------------------------- symbolic pickle interpreter
@dataclass(frozen=True, eq=False)
class PickleGlobal:
    """An import the pickle asks for (``GLOBAL``, ``STACK_GLOBAL``, ``INST``), never performed."""

    module: str
    name: str
    opcode: str
    position: int
    stream: str = ""

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class PickleCall:
    """A call the pickle asks for (``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ``), never performed."""

    func: Any
    args: tuple
    opcode: str
    position: int
    state: Any = None
    items: dict = field(default_factory=dict)
    appended: list = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class PersistentId:
    """A ``PERSID``/``BINPERSID`` reference (in torch checkpoints: a tensor storage)."""

    pid: Any


@dataclass(frozen=True)
class PickleProgram:
    """What a pickle stream would do: its imports, its calls, its opcode counts and its value."""

    stream: str
    globals: tuple[PickleGlobal, ...]
    calls: tuple[PickleCall, ...]
    opcode_counts: dict[str, int]
    value: Any = None
    error: str | None = None


class _Mark:
    pass


_MARK = _Mark()
_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING",
             "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "UNICODE", "BINUNICODE",
             "SHORT_BINUNICODE", "BINUNICODE8", "BYTEARRAY8"}  # fmt: skip
_CONST = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}


def _key(obj: Any) -> Any:
    try:
        hash(obj)
    except TypeError:
        return ("<unhashable>", id(obj))
    return obj


def interpret_pickle(data: bytes, stream: str = "pickle") -> PickleProgram:
    """Run a pickle on a symbolic stack: imports and calls are recorded, never performed.

    Returns the imports (with their opcode and byte position), the calls and the resulting value
    (dicts, lists and tuples are real; everything built by a call is a :class:`PickleCall`).
    A malformed or truncated stream stops the interpretation; ``error`` says where.
    """
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    imports: list[PickleGlobal] = []
    calls: list[PickleCall] = []
    counts: Counter[str] = Counter()

    def pop_mark() -> list[Any]:
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def call(func: Any, args: Any, opcode: str, pos: int) -> PickleCall:
        c = PickleCall(func, tuple(args) if isinstance(args, list | tuple) else (args,), opcode, pos)
        calls.append(c)
        return c

    try:
        for op, arg, pos in pickletools.genops(data):
            name = op.name
            counts[name] += 1
            if name in _PUSH_ARG:
                stack.append(arg)
            elif name in _CONST:
                stack.append(_CONST[name])
            elif name in ("PROTO", "FRAME"):
                pass
            elif name == "STOP":
                break
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "POP":
                stack.pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_SET"):
                stack.append({"EMPTY_LIST": [], "EMPTY_DICT": {}, "EMPTY_TUPLE": (), "EMPTY_SET": []}[name])
            elif name in ("LIST", "TUPLE", "FROZENSET"):
                items = pop_mark()
                stack.append(tuple(items) if name == "TUPLE" else items)
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = stack[-n:]
                del stack[-n:]
                stack.append(tuple(items))
            elif name == "DICT":
                items = pop_mark()
                stack.append({_key(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)})
            elif name in ("APPEND", "APPENDS", "ADDITEMS"):
                items = [stack.pop()] if name == "APPEND" else pop_mark()
                target = stack[-1]
                (target.appended if isinstance(target, PickleCall) else target).extend(items)
            elif name in ("SETITEM", "SETITEMS"):
                items = stack[-2:] if name == "SETITEM" else pop_mark()
                if name == "SETITEM":
                    del stack[-2:]
                target = stack[-1]
                store = target.items if isinstance(target, PickleCall) else target
                for i in range(0, len(items) - 1, 2):
                    store[_key(items[i])] = items[i + 1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                g = PickleGlobal(module, attr, name, pos, stream)
                imports.append(g)
                if name == "GLOBAL":
                    stack.append(g)
                else:
                    stack.append(call(g, pop_mark(), name, pos))
            elif name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                g = PickleGlobal(
                    module if isinstance(module, str) else "<unresolved>",
                    attr if isinstance(attr, str) else "<unresolved>",
                    name,
                    pos,
                    stream,
                )
                imports.append(g)
                stack.append(g)
            elif name in ("EXT1", "EXT2", "EXT4"):
                g = PickleGlobal("<copyreg extension>", str(arg), name, pos, stream)
                imports.append(g)
                stack.append(g)
            elif name == "REDUCE":
                args, func = stack.pop(), stack.pop()
                stack.append(call(func, args, name, pos))
            elif name == "NEWOBJ":
                args, cls = stack.pop(), stack.pop()
                stack.append(call(cls, args, name, pos))
            elif name == "NEWOBJ_EX":
                kwargs, args, cls = stack.pop(), stack.pop(), stack.pop()
                stack.append(call(cls, (*args, kwargs), name, pos))
            elif name == "OBJ":
                items = pop_mark()
                stack.append(call(items[0], items[1:], name, pos))
            elif name == "BUILD":
                state = stack.pop()
                target = stack[-1]
                if isinstance(target, PickleCall):
                    target.state = state
                else:  # BUILD on a plain value calls __setstate__ of its class: record it as a call
                    call(PickleGlobal("<object>", "__setstate__", name, pos, stream), (target, state), name, pos)
            elif name == "PERSID":
                stack.append(PersistentId(arg))
            elif name == "BINPERSID":
                stack.append(PersistentId(stack.pop()))
            elif name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                stack.append(PersistentId(("out-of-band buffer",)))
            else:  # pragma: no cover - every opcode of protocols 0-5 is handled above
                raise ValueError(f"opcode {name} not handled")
    except (ValueError, IndexError, KeyError, TypeError, struct.error) as exc:
        return PickleProgram(
            stream,
            tuple(imports),
            tuple(calls),
            dict(counts),
            None,
            f"stopped at opcode {sum(counts.values())}: {type(exc).__name__}: {exc}",
        )
    return PickleProgram(stream, tuple(imports), tuple(calls), dict(counts), stack[-1] if stack else None)
