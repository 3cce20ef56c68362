"""Read-only inspection of model files: what a file really is, and what is wrong with its structure.

:func:`inspect_model_file` sniffs the first bytes (not the suffix) and hands the file to the header
reader of its format (:mod:`opskit.sources.model_headers`), which validates what it can cheaply without
reading tensor data or executing anything; :func:`list_model_files` picks the files of a folder.
What a file is and the result of inspecting it live in :mod:`opskit.sources.model_formats`; pickles are
interpreted symbolically by :mod:`opskit.sources.pickle_program`. torch, onnx and safetensors are never
imported here. The equivalent by hand: ``head -c 64 FILE | xxd``, ``unzip -l FILE``.
"""

from __future__ import annotations

from pathlib import Path

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

MODEL_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".gguf", ".pkl", ".pickle", ".h5", ".keras", ".npy"}
)
HEAD_BYTES = 4096


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
