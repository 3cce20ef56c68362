"""Facts about this host, read and not judged: disk usage, memory, installed frameworks, GPUs and driver.

The readers behind the system checks of :mod:`opskit.analyses.system`. A reading a GPU does not
support becomes None (degrade per metric); no NVML library or no driver is one
:class:`NvmlUnavailable`, so the caller can say why the GPUs were not read.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from opskit.errors import OpskitError

MIB = 2**20


# ---------------------------------------------------------------- disk and memory
def disk_usage(path: str | os.PathLike[str], *, usage: Callable[[str], Any] = shutil.disk_usage) -> Any:
    """``df PATH``: ``(total, used, free)`` in bytes of the file system holding ``path``, or its nearest
    existing parent (a checkpoint folder not made yet still has a file system)."""
    p = Path(path).expanduser()
    probe = p if p.exists() else next((q for q in p.parents if q.exists()), Path("/"))
    return usage(str(probe))


def read_meminfo(path: str | os.PathLike[str] = "/proc/meminfo") -> dict[str, int]:
    """``/proc/meminfo`` as bytes per key (``MemTotal``, ``MemAvailable``, ...)."""
    values = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r"(\w+):\s+(\d+)(?:\s+kB)?", line)
        if m:
            values[m.group(1)] = int(m.group(2)) * (1024 if "kB" in line else 1)
    return values


# ---------------------------------------------------------------- installed software
def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """``pip show``: the installed version of each distribution in ``names``, the absent ones left out."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def torch_cuda_build() -> str | None:
    """The CUDA version the installed PyTorch wheel was built for (``12.4``), without importing torch."""
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None
    m = re.search(r"\+cu(\d+)(\d)$", version)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    for dist in ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11"):
        try:
            return ".".join(metadata.version(dist).split(".")[:2])
        except metadata.PackageNotFoundError:
            continue
    return None


# ---------------------------------------------------------------- GPUs through NVML
class NvmlUnavailable(OpskitError):
    """NVML cannot be used here: ``library_missing`` (no ``nvidia-ml-py``) or no driver (``detail`` says why)."""

    def __init__(self, detail: str, *, library_missing: bool):
        super().__init__(detail)
        self.detail = detail
        self.library_missing = library_missing


@dataclass(frozen=True)
class GpuHealth:
    """One GPU as ``nvidia-smi -q -d MEMORY,ECC,ROW_REMAPPER,TEMPERATURE,PIDS`` shows it; None: not supported."""

    index: int
    name: str
    mem_used_mib: float | None
    mem_total_mib: float | None
    uncorrected_ecc: int | None  # volatile: since the driver loaded
    remap_pending: bool
    remap_failed: bool
    temperature_c: int | None
    processes: int
    processes_mib: float


@dataclass(frozen=True)
class DriverInfo:
    """``nvidia-smi`` 's header: the driver version and the highest CUDA version it supports."""

    version: str
    cuda: str | None


@contextmanager
def _nvml(nvml: Any | None) -> Iterator[Any]:
    """The initialised NVML module (``pynvml`` unless one is given), shut down afterwards."""
    if nvml is None:
        try:
            import pynvml as nvml  # nvidia-ml-py
        except ImportError:
            raise NvmlUnavailable("nvidia-ml-py is not installed", library_missing=True) from None
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        raise NvmlUnavailable(str(exc), library_missing=False) from None
    try:
        yield nvml
    finally:
        _try(nvml.nvmlShutdown)


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # a reading this GPU does not support becomes missing
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_gpu_health(nvml: Any | None = None) -> list[GpuHealth]:
    """Every GPU's memory, uncorrectable ECC errors, row remapping, temperature and compute processes."""
    out = []
    with _nvml(nvml) as lib:
        for i in range(lib.nvmlDeviceGetCount()):
            h = lib.nvmlDeviceGetHandleByIndex(i)
            mem = _try(lambda h=h: lib.nvmlDeviceGetMemoryInfo(h))
            remap = _try(lambda h=h: lib.nvmlDeviceGetRemappedRows(h))  # (corr, uncorr, pending, failure)
            procs = _try(lambda h=h: lib.nvmlDeviceGetComputeRunningProcesses(h)) or []
            out.append(
                GpuHealth(
                    index=i,
                    name=_text(_try(lambda h=h: lib.nvmlDeviceGetName(h)) or "GPU"),
                    mem_used_mib=mem.used / MIB if mem is not None else None,
                    mem_total_mib=mem.total / MIB if mem is not None else None,
                    uncorrected_ecc=_try(lambda h=h: lib.nvmlDeviceGetTotalEccErrors(h, 1, 0)),
                    remap_pending=bool(remap and remap[2]),
                    remap_failed=bool(remap and remap[3]),
                    temperature_c=_try(lambda h=h: lib.nvmlDeviceGetTemperature(h, 0)),
                    processes=len(procs),
                    processes_mib=sum((getattr(p, "usedGpuMemory", 0) or 0) for p in procs) / MIB,
                )
            )
    return out


def read_driver(nvml: Any | None = None) -> DriverInfo:
    """The driver version and the highest CUDA it supports (``nvidia-smi`` 's header)."""
    with _nvml(nvml) as lib:
        version = _text(_try(lib.nvmlSystemGetDriverVersion) or "unknown")
        cuda_int = _try(lib.nvmlSystemGetCudaDriverVersion)
    cuda = f"{cuda_int // 1000}.{(cuda_int % 1000) // 10}" if cuda_int else None
    return DriverInfo(version, cuda)
