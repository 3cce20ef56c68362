"""Read-only inspection of model files: what a file really is, and what is wrong with its structure.

:func:`inspect_model_file` sniffs the first bytes (not the suffix) and hands the file to the header
reader of its format (:mod:`opskit.sources.model_headers`), which validates what it can cheaply without
reading tensor data or executing anything; :func:`list_model_files` picks the files of a folder.
:func:`static_listing` lists a checkpoint's tensors (key, dtype, shape) from its safetensors header or
its pickle's rebuild calls; :func:`read_expected_keys` reads the keys a model expects.
What a file is and the result of inspecting it live in :mod:`opskit.sources.model_formats`; pickles are
interpreted symbolically by :mod:`opskit.sources.pickle_program`. torch, onnx and safetensors are never
imported here. The equivalent by hand: ``head -c 64 FILE | xxd``, ``unzip -l FILE``.
"""

from __future__ import annotations

import dataclasses
import json
import mmap
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.errors import InputError
from opskit.sources.model_formats import REFETCH, ModelFileInfo, ModelFormat
from opskit.sources.model_headers import (
    inspect_gguf,
    inspect_lfs_pointer,
    inspect_onnx,
    inspect_pickle_file,
    inspect_safetensors,
    inspect_text,
    inspect_zip,
    looks_like_onnx,
    looks_like_text,
)
from opskit.sources.pickle_containers import LIMITS, MAX_DECOMPRESSED_BYTES, find_pickles, sniff_pickle_bearing
from opskit.sources.pickle_program import PersistentId, PickleCall, PickleGlobal, interpret_pickle

MODEL_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".gguf", ".pkl", ".pickle", ".h5", ".keras", ".npy"}
)
HEAD_BYTES = 4096
TENSOR_COLUMNS = ["key", "dtype", "shape"]
_STORAGE_DTYPES = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
                   "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                   "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
                   "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128"}  # fmt: skip
_SAFETENSORS_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64", "I64": "int64",
                       "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}  # fmt: skip
_REBUILD = {"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3"}
_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


# --------------------------------------------------------------------------------------------- sniffing
def inspect_model_file(path: str | Path) -> ModelFileInfo:
    """Identify ``path`` from its bytes and validate its structure, without executing anything.

    Every pickle a loader could unpickle from it (plain, in a zip, an ``.npy`` object array, joblib,
    compressed) is collected in ``pickles``; what could not be read is in ``details["pickle_problems"]``.
    """
    info = _inspect_format(Path(path))
    if info.size_bytes == 0 or info.format in (ModelFormat.SAFETENSORS, ModelFormat.GGUF, ModelFormat.ONNX):
        return info
    with info.path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not sniff_pickle_bearing(head, info.size_bytes > len(head)):
        return info
    return _with_pickles(info)


def _with_pickles(info: ModelFileInfo) -> ModelFileInfo:
    name = info.path.name
    with info.path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            pickles, problems = find_pickles(mm, name)
        else:
            data = mm[: MAX_DECOMPRESSED_BYTES + 1]
            pickles, problems = find_pickles(data[:MAX_DECOMPRESSED_BYTES], name)
            if len(data) > MAX_DECOMPRESSED_BYTES and not pickles:
                problems = (*problems, f"{name}: larger than {MAX_DECOMPRESSED_BYTES:,} bytes (limit); not read")
    details = {**info.details, "pickle_streams": len(pickles), "pickle_limits": LIMITS}
    if problems:
        details["pickle_problems"] = list(problems)
    fmt = info.format
    if pickles and fmt in (ModelFormat.TEXT, ModelFormat.UNKNOWN, ModelFormat.JSON):
        fmt = ModelFormat.PICKLE
    problem = info.problem if fmt is info.format else None
    fix = info.fix if fmt is info.format else None
    return dataclasses.replace(info, format=fmt, problem=problem, fix=fix, details=details, pickles=pickles)


def _inspect_format(path: Path) -> ModelFileInfo:
    """The format of ``path`` from its first bytes, handed to that format's header reader."""
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
        return inspect_lfs_pointer(path, size, head)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return inspect_zip(path, size)
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return inspect_pickle_file(path, size)
    if head.startswith(b"GGUF"):
        return inspect_gguf(path, size, head)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return ModelFileInfo(path, size, ModelFormat.HDF5, details={"note": "HDF5 (Keras .h5); not inspected further"})
    if head.startswith(b"\x93NUMPY"):
        return ModelFileInfo(path, size, ModelFormat.NUMPY)
    if (len(head) >= 9 and head[8:9] == b"{") or (path.suffix == ".safetensors" and not looks_like_text(head)):
        return inspect_safetensors(path)
    if head[:1] == b"\x08" and looks_like_onnx(head):
        return inspect_onnx(path, size)
    if looks_like_text(head):
        return inspect_text(path, size, head)
    return ModelFileInfo(
        path,
        size,
        ModelFormat.UNKNOWN,
        f"not a model format opskit recognises (first bytes {head[:8].hex(' ')})",
        "check what produced this file (file(1) may know); " + REFETCH,
    )


# ---------------------------------------------------------------------------------- directory listing
def list_model_files(path: str | Path) -> list[Path]:
    """The files to inspect: ``path`` itself, or the model files in a folder, sorted: by suffix, and any
    other file whose first bytes say a loader could unpickle it (``extra_state.dat``, ``*.bin.bak``).

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
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and (p.suffix.lower() in MODEL_SUFFIXES or _loadable_by_content(p))
    )
    if not files:
        raise InputError(
            "no model files in this folder",
            path=path,
            hint="expected files ending in " + ", ".join(sorted(MODEL_SUFFIXES)),
        )
    return files


def _loadable_by_content(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
        size = path.stat().st_size
    except OSError:
        return False
    return bool(head) and (head.startswith((b"GGUF", b"\x89HDF")) or sniff_pickle_bearing(head, size > len(head)))


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


# -------------------------------------------------------------------------------------- tensor listings
def _tensor_from_call(value: Any) -> tuple[str, tuple[int, ...]] | None:
    if not isinstance(value, PickleCall) or not isinstance(value.func, PickleGlobal):
        return None
    qualname = value.func.qualname
    if qualname == "torch._utils._rebuild_parameter" and value.args:
        return _tensor_from_call(value.args[0])
    if qualname not in _REBUILD or len(value.args) < 3:
        return None
    storage, size = value.args[0], value.args[2]
    dtype = "?"
    if isinstance(storage, PersistentId) and isinstance(storage.pid, tuple) and len(storage.pid) > 1:
        kind = storage.pid[1]
        if isinstance(kind, PickleGlobal):
            dtype = _STORAGE_DTYPES.get(kind.name, kind.name)
    if (
        qualname == "torch._utils._rebuild_tensor_v3"
        and len(value.args) > 6
        and isinstance(value.args[6], PickleGlobal)
    ):
        dtype = value.args[6].name
    shape = tuple(int(d) for d in size) if isinstance(size, tuple | list) else ()
    return dtype, shape


def _walk(value: Any, prefix: str, out: list, depth: int = 0) -> None:
    if depth > 8:
        return
    tensor = _tensor_from_call(value)
    if tensor is not None:
        out.append((prefix, *tensor))
        return
    items = value.items if isinstance(value, PickleCall) else value
    if isinstance(items, dict):
        for key, item in items.items():
            if isinstance(key, str):
                _walk(item, f"{prefix}.{key}" if prefix else key, out, depth + 1)


def unwrap_state_dict(frame: pd.DataFrame) -> pd.DataFrame:
    """A checkpoint that nests the state dict (``{"state_dict": ..., "epoch": ...}``) lists its inner keys."""
    if frame.empty:
        return frame
    for key in _STATE_KEYS:
        inner = frame["key"].str.startswith(f"{key}.")
        if inner.sum() >= max(1, len(frame) // 2):
            return frame[inner].assign(key=frame.loc[inner, "key"].str.slice(len(key) + 1)).reset_index(drop=True)
    return frame


def static_listing(info: ModelFileInfo) -> pd.DataFrame:
    """Keys, dtypes and shapes read without torch and without executing anything (columns ``key``,
    ``dtype``, ``shape``). Safetensors: the header. PyTorch/pickle: the pickle's rebuild calls."""
    if info.format is ModelFormat.SAFETENSORS and info.tensors is not None:
        frame = info.tensors.rename(columns={"name": "key"})[["key", "dtype", "shape"]].copy()
        frame["dtype"] = frame["dtype"].map(lambda d: _SAFETENSORS_DTYPES.get(d, d.lower()))
        return frame.reset_index(drop=True)
    rows: list = []
    streams = info.pickles
    if info.format is ModelFormat.PICKLE and info.details.get("torch_legacy") and len(streams) >= 4:
        streams = streams[3:4]  # legacy torch.save: magic, protocol, sys info, then the object
    for name, data in streams:
        program = interpret_pickle(data, name)
        _walk(program.value, "", rows)
        if rows:
            break
    return unwrap_state_dict(pd.DataFrame(rows, columns=TENSOR_COLUMNS))


def read_expected_keys(path: str | Path) -> pd.DataFrame:
    """The expected keys (columns ``key``, ``dtype``, ``shape``; dtype/shape may be missing).

    Accepts a checkpoint (listed statically), a JSON list of keys, a JSON object ``{key: shape}``
    or ``{"keys": [...]}``, or a text file with one key per line (``key`` or ``key<TAB>d0,d1``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("expected keys file not found", path=path, hint="pass a checkpoint, a JSON or a text list")
    if path.suffix != ".json" and path.suffix != ".txt":
        info = inspect_model_file(path)
        if info.format.is_model:
            if not info.ok:
                raise InputError(f"reference checkpoint is damaged: {info.problem}", path=path, hint=info.fix)
            return static_listing(info)
    text = path.read_text(encoding="utf-8", errors="replace")
    rows: list[tuple] = []
    if path.suffix == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
        if isinstance(data, dict) and isinstance(data.get("keys"), list):
            data = data["keys"]
        if isinstance(data, dict):
            rows = [(k, None, tuple(v) if isinstance(v, list) else None) for k, v in data.items()]
        elif isinstance(data, list):
            rows = [(str(k), None, None) for k in data]
        else:
            raise InputError("expected a JSON list of keys or an object of key -> shape", path=path)
    else:
        for number, line in enumerate(text.splitlines(), 1):
            parts = line.strip().split(None, 1)
            if not parts or parts[0].startswith("#"):
                continue
            shape = None
            if len(parts) > 1:
                try:
                    shape = tuple(int(d) for d in parts[1].strip("()[] ").replace("x", ",").split(",") if d.strip())
                except ValueError as exc:
                    raise InputError(f"shape {parts[1]!r} is not a list of integers", path=path, line=number) from exc
            rows.append((parts[0], None, shape))
    if not rows:
        raise InputError("no keys in this file", path=path)
    return pd.DataFrame(rows, columns=TENSOR_COLUMNS)
