"""Checkpoint files verified without loading them; nothing is ever unpickled.

A torch zip checkpoint (``torch.save`` since 1.6, Lightning ``.ckpt``) must have a readable zip central
directory with a ``data.pkl`` record; a safetensors file must have a sane JSON header whose tensor offsets
cover the file exactly; a JSON file must parse.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "U16": 2,
    "U32": 4,
    "U64": 8,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


def verify_safetensors(path: Path) -> str | None:
    """None when the safetensors header is sane, else what is wrong (reads only the header)."""
    size = path.stat().st_size
    if size < 8:
        return f"{path.name}: {size} bytes, too small for a safetensors header"
    with open(path, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length == 0 or length > MAX_SAFETENSORS_HEADER or length > size - 8:
            return f"{path.name}: header length {length} does not fit a {size}-byte file (truncated?)"
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"{path.name}: header is not valid JSON"
    if not isinstance(header, dict):
        return f"{path.name}: header is not a JSON object"
    data_size = size - 8 - length
    end_max = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            width = _DTYPE_BYTES.get(str(info["dtype"]))
        except (KeyError, TypeError, ValueError):
            return f"{path.name}: tensor {name!r} has a malformed entry"
        if not 0 <= begin <= end <= data_size:
            return f"{path.name}: tensor {name!r} lies beyond the end of the file (truncated?)"
        if width is not None and (end - begin) != count * width:
            return f"{path.name}: tensor {name!r} has {end - begin} bytes for {count} x {info['dtype']}"
        end_max = max(end_max, end)
    if end_max != data_size:
        return f"{path.name}: tensors cover {end_max} of {data_size} data bytes"
    return None


def verify_torch_file(path: Path) -> str | None:
    """None when a torch checkpoint file looks whole, else what is wrong. Never unpickles.

    Zip checkpoints (``torch.save`` since 1.6, Lightning ``.ckpt``) must have a readable central directory
    with a ``data.pkl`` record; legacy pickle files must start with a pickle protocol marker.
    """
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic[:2] == b"PK":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            return f"{path.name}: zip central directory unreadable ({exc}); the file is truncated or corrupt"
        if not any(n.endswith("data.pkl") for n in names):
            return f"{path.name}: zip archive without a data.pkl record: not a torch checkpoint"
        return None
    if magic[:1] == b"\x80" and 2 <= magic[1] <= 5:
        return None  # legacy pickle: no container to verify without unpickling
    return f"{path.name}: neither a torch zip archive nor a pickle"


def verify_file(path: Path, problems: list[str], verified: list[str]) -> None:
    """Verify one file by its suffix; append what is wrong to ``problems``, what was checked to ``verified``.

    An empty or unreadable file is a problem; suffixes other than safetensors, torch and JSON are not checked.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        problems.append(f"{path.name}: unreadable ({exc.strerror})")
        return
    if size == 0:
        problems.append(f"{path.name}: empty file")
        return
    if path.suffix == ".safetensors":
        problem = verify_safetensors(path)
        what = "safetensors header"
    elif path.suffix in {".pt", ".pth", ".bin", ".ckpt"}:
        problem = verify_torch_file(path)
        what = "torch zip directory"
    elif path.suffix == ".json":
        try:
            json.loads(path.read_text(encoding="utf-8"))
            problem, what = None, "json"
        except (UnicodeDecodeError, json.JSONDecodeError):
            problem, what = f"{path.name}: not valid JSON (truncated?)", "json"
    else:
        return
    if problem:
        problems.append(problem)
    else:
        verified.append(f"{path.name}: {what}")
