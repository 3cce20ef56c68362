"""What a model file is: its format judged from its bytes, and the result of inspecting it.

:class:`ModelFormat` names the formats opskit recognises (and the things that are not models at all:
an HTML page, a Git LFS pointer, an empty file); :class:`ModelFileInfo` is what
:func:`opskit.sources.model_files.inspect_model_file` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

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
    as ``(stream name, bytes)`` for :mod:`opskit.analyses.model_load.pickle_safety`; never unpickle them.
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
