"""Readers of model file headers, one per format, reading no tensor data and executing nothing.

The safetensors header (length, JSON, dtypes, shapes, offsets within the file), the zip central
directory and entries of a PyTorch checkpoint, legacy ``torch.save`` pickle streams (split, never
unpickled), the top-level fields of an ONNX protobuf, the GGUF header, and text that is not a model
at all (an HTML page, a Git LFS pointer). :func:`opskit.sources.model_files.inspect_model_file` picks
the reader from the first bytes. The equivalent by hand: ``head -c 64 FILE | xxd``, ``unzip -l FILE``.
"""

from __future__ import annotations

import io
import json
import pickletools
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.sources.model_formats import REFETCH, ModelFileInfo, ModelFormat

SAFETENSORS_MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors reference implementation enforces
MAX_PICKLE_BYTES = 512 * 1024 * 1024  # data.pkl of a very large model is a few MB; refuse absurd ones
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle of a legacy (pre-1.6) torch.save file

# Bits per element; sub-byte float formats are packed.
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64,
    "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file decode as UTF-8 text (no NUL byte)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the end of the head is still text
        return exc.start >= len(head) - 3
    return True


_HTML = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<title[\s>]", re.IGNORECASE)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def inspect_text(path: Path, size: int, head: bytes) -> ModelFileInfo:
    """A text file where a model was expected: an HTML page (an error or login page), JSON or plain text."""
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


def inspect_lfs_pointer(path: Path, size: int, head: bytes) -> ModelFileInfo:
    """A Git LFS pointer file (``git lfs pull`` was never run): its oid and the size of the real file."""
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
def inspect_zip(path: Path, size: int) -> ModelFileInfo:
    """A PyTorch zip checkpoint (``torch.save`` since 1.6): central directory, ``data.pkl``, storages."""
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


def inspect_pickle_file(path: Path, size: int) -> ModelFileInfo:
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


def looks_like_onnx(head: bytes) -> bool:
    """Whether the first bytes parse as an ONNX ModelProto: field 1 (ir_version) then a known field."""
    try:
        ir_version, pos = _varint(head, 1)
        tag, _ = _varint(head, pos)
    except ValueError:
        return False
    return 1 <= ir_version <= 20 and (tag >> 3) in _ONNX_FIELDS and (tag & 7) in (0, 2)


def inspect_onnx(path: Path, size: int) -> ModelFileInfo:
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


def inspect_gguf(path: Path, size: int, head: bytes) -> ModelFileInfo:
    """A GGUF file (llama.cpp): version, tensor count and metadata count from its header."""
    if len(head) < 24:
        return ModelFileInfo(path, size, ModelFormat.GGUF, "truncated: shorter than the 24-byte GGUF header", REFETCH)
    version, tensors, kvs = struct.unpack("<IQQ", head[4:24])
    return ModelFileInfo(
        path,
        size,
        ModelFormat.GGUF,
        details={"gguf_version": version, "tensor_count": tensors, "metadata_kv_count": kvs},
    )
