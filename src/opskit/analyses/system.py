"""System-first checks for triage: disk space, host memory, GPU state, driver/CUDA/framework versions.

"System first, then model": before reading a failed job's tracebacks, check the resources and the
software stack of the node it ran on. Each check returns :class:`~opskit.checks.Verdict` rows and
degrades to a clear SKIP where a fact cannot be read here (no NVIDIA driver, no ``nvidia-ml-py``).
Run the triage on the node where the job ran for these checks to describe it.

The GPU checks are the equivalent of ``nvidia-smi -q -d MEMORY,ECC,ROW_REMAPPER,TEMPERATURE,PIDS``
and ``nvidia-smi`` 's header (driver version, highest supported CUDA).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from opskit.checks import CheckFn, Status, Verdict

DISK_WARN_PCT = 90.0
DISK_FAIL_PCT = 97.0
MEMORY_WARN_PCT = 90.0
MEMORY_FAIL_PCT = 97.0
GPU_TEMP_WARN_C = 85
FRAMEWORKS = ("torch", "tensorflow", "jax", "deepspeed", "transformers", "lightning", "accelerate", "vllm")
GIB = 1024**3


def check_disk_space(
    paths: Iterable[str | os.PathLike[str]] = (".",),
    *,
    warn_pct: float = DISK_WARN_PCT,
    fail_pct: float = DISK_FAIL_PCT,
    usage: Callable[[str], Any] = shutil.disk_usage,
) -> list[Verdict]:
    """One verdict per file system holding ``paths`` (``df -h PATH``): used % against the thresholds."""
    out = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
        u = usage(str(probe))
        key = (u.total, u.used)
        if key in seen:
            continue
        seen.add(key)
        used_pct = 100.0 * u.used / u.total if u.total else 0.0
        status = Status.FAIL if used_pct >= fail_pct else Status.WARN if used_pct >= warn_pct else Status.PASS
        out.append(
            Verdict(
                "disk space",
                status,
                subject=str(path),
                observed=round(used_pct, 1),
                threshold=fail_pct if status == Status.FAIL else warn_pct,
                unit="% used",
                evidence=f"{u.free / GIB:,.1f} GiB free of {u.total / GIB:,.1f} GiB",
                next_step=(
                    "free space or move checkpoints/caches elsewhere (df -h; du -sh * | sort -h), then verify the "
                    "newest checkpoint: a save during a full disk is truncated"
                    if status != Status.PASS
                    else None
                ),
            )
        )
    return out


def read_meminfo(path: str | os.PathLike[str] = "/proc/meminfo") -> dict[str, int]:
    """``/proc/meminfo`` as bytes per key (``MemTotal``, ``MemAvailable``, ...)."""
    values = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r"(\w+):\s+(\d+)(?:\s+kB)?", line)
        if m:
            values[m.group(1)] = int(m.group(2)) * (1024 if "kB" in line else 1)
    return values


def check_host_memory(
    *,
    meminfo: str | os.PathLike[str] = "/proc/meminfo",
    warn_pct: float = MEMORY_WARN_PCT,
    fail_pct: float = MEMORY_FAIL_PCT,
) -> Verdict:
    """Host memory in use now (``free -g``: total minus available) against the thresholds."""
    if not Path(meminfo).exists():
        return Verdict("host memory", Status.SKIP, message=f"{meminfo} is not readable on this system (not Linux)")
    info = read_meminfo(meminfo)
    total, available = info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    used_pct = 100.0 * (total - available) / total if total else 0.0
    status = Status.FAIL if used_pct >= fail_pct else Status.WARN if used_pct >= warn_pct else Status.PASS
    return Verdict(
        "host memory",
        status,
        subject="this node",
        observed=round(used_pct, 1),
        threshold=fail_pct if status == Status.FAIL else warn_pct,
        unit="% used",
        evidence=f"{available / GIB:,.1f} GiB available of {total / GIB:,.1f} GiB",
        next_step=(
            "find what holds memory (ps aux --sort=-rss | head) and check the kernel log for the OOM killer "
            "(dmesg -T | grep -i -E 'killed process|oom')"
            if status != Status.PASS
            else None
        ),
    )


def _load_nvml(nvml: Any | None) -> tuple[Any | None, Verdict | None]:
    """The initialised NVML module, or a SKIP verdict saying why there is none."""
    if nvml is None:
        try:
            import pynvml as nvml  # nvidia-ml-py
        except ImportError:
            return None, Verdict(
                "GPU state",
                Status.SKIP,
                message="nvidia-ml-py is not installed, GPU state was not read",
                next_step="pip install 'opskit[gpu]' on the GPU node, or run nvidia-smi -q there",
            )
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return None, Verdict(
            "GPU state",
            Status.SKIP,
            message=f"no NVIDIA driver on this machine ({exc})",
            next_step="run the triage on the GPU node the job used; there, nvidia-smi must work",
        )
    return nvml, None


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # a reading this GPU does not support becomes missing
        return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def check_gpus(*, nvml: Any | None = None) -> list[Verdict]:
    """One verdict per GPU: uncorrectable ECC errors, row remapping, leftover processes, temperature."""
    lib, skip = _load_nvml(nvml)
    if skip is not None:
        return [skip]
    out = []
    try:
        for i in range(lib.nvmlDeviceGetCount()):
            h = lib.nvmlDeviceGetHandleByIndex(i)
            name = _text(_try(lambda h=h: lib.nvmlDeviceGetName(h)) or "GPU")
            mem = _try(lambda h=h: lib.nvmlDeviceGetMemoryInfo(h))
            ecc = _try(lambda h=h: lib.nvmlDeviceGetTotalEccErrors(h, 1, 0))  # uncorrected, volatile
            remap = _try(lambda h=h: lib.nvmlDeviceGetRemappedRows(h))  # (corr, uncorr, pending, failure)
            temp = _try(lambda h=h: lib.nvmlDeviceGetTemperature(h, 0))
            procs = _try(lambda h=h: lib.nvmlDeviceGetComputeRunningProcesses(h)) or []
            problems, status = [], Status.PASS
            if ecc:
                problems.append(f"{ecc} uncorrectable ECC errors since the driver loaded")
                status = Status.FAIL
            if remap and (remap[2] or remap[3]):
                problems.append("row remapping " + ("failed" if remap[3] else "pending (reset the GPU)"))
                status = Status.FAIL
            if procs:
                held = sum((getattr(p, "usedGpuMemory", 0) or 0) for p in procs) / 2**20
                problems.append(f"{len(procs)} process(es) still hold {held:,.0f} MiB")
                status = Status.worst([status, Status.WARN])
            if temp is not None and temp >= GPU_TEMP_WARN_C:
                problems.append(f"temperature {temp} C")
                status = Status.worst([status, Status.WARN])
            used = mem.used / 2**20 if mem is not None else None
            total = mem.total / 2**20 if mem is not None else None
            out.append(
                Verdict(
                    "GPU state",
                    status,
                    subject=f"GPU {i} ({name})",
                    observed=round(used) if used is not None else None,
                    threshold=round(total) if total is not None else None,
                    unit="MiB used",
                    evidence="; ".join(problems) or "no ECC errors, no pending remapping, no leftover process",
                    next_step={
                        Status.FAIL: "drain the node and reset the GPU (nvidia-smi -r) or have it replaced",
                        Status.WARN: "stop leftover processes (nvidia-smi --query-compute-apps=pid,used_memory "
                        "--format=csv) and check cooling before rescheduling",
                    }.get(status),
                )
            )
    finally:
        _try(lib.nvmlShutdown)
    return out


def _torch_cuda() -> str | None:
    """The CUDA version the installed PyTorch wheel was built for, without importing torch."""
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


def _versions() -> dict[str, str]:
    found = {}
    for name in FRAMEWORKS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def check_versions(*, nvml: Any | None = None, torch_cuda: str | None = None) -> list[Verdict]:
    """Driver, the highest CUDA it supports, installed frameworks, and whether PyTorch's CUDA fits the driver."""
    frameworks = _versions()
    listed = ", ".join(f"{k} {v}" for k, v in frameworks.items()) or "no ML framework installed in this environment"
    out = [Verdict("software versions", Status.PASS, subject="frameworks", evidence=listed)]
    lib, skip = _load_nvml(nvml)
    if skip is not None:
        out.append(
            Verdict("driver and CUDA", Status.SKIP, subject="driver", message=skip.message, next_step=skip.next_step)
        )
        return out
    try:
        driver = _text(_try(lib.nvmlSystemGetDriverVersion) or "unknown")
        cuda_int = _try(lib.nvmlSystemGetCudaDriverVersion)
    finally:
        _try(lib.nvmlShutdown)
    driver_cuda = f"{cuda_int // 1000}.{(cuda_int % 1000) // 10}" if cuda_int else None
    built = torch_cuda if torch_cuda is not None else _torch_cuda()
    evidence = f"driver {driver}, supports CUDA up to {driver_cuda or 'unknown'}; PyTorch built for CUDA {built or '-'}"
    if built and driver_cuda and _as_tuple(built) > _as_tuple(driver_cuda):
        out.append(
            Verdict(
                "driver and CUDA",
                Status.FAIL,
                subject="driver",
                observed=built,
                threshold=driver_cuda,
                unit="CUDA",
                evidence=evidence,
                next_step=f"install a PyTorch build for CUDA <= {driver_cuda}, or upgrade the driver",
            )
        )
    else:
        out.append(Verdict("driver and CUDA", Status.PASS, subject="driver", evidence=evidence))
    return out


def system_checks(
    paths: Iterable[str | os.PathLike[str]] = (".",), *, nvml: Any | None = None
) -> list[tuple[str, CheckFn]]:
    """The system-first checks as ``(name, fn)`` pairs for :func:`opskit.checks.run_checks`."""
    paths = list(paths)
    return [
        ("disk space", lambda: check_disk_space(paths)),
        ("host memory", check_host_memory),
        ("GPU state", lambda: check_gpus(nvml=nvml)),
        ("driver and CUDA", lambda: check_versions(nvml=nvml)),
    ]
