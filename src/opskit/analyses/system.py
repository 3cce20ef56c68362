"""System-first checks for triage: disk space, host memory, GPU state, driver/CUDA/framework versions.

"System first, then model": before reading a failed job's tracebacks, check the resources and the
software stack of the node it ran on. Each check judges what :mod:`opskit.sources.host` reads and
returns :class:`~opskit.checks.Verdict` rows; a fact that cannot be read here (no NVIDIA driver, no
``nvidia-ml-py``, no ``/proc/meminfo``) is a clear SKIP. Run the triage on the node where the job
ran for these checks to describe it.

The GPU checks are the equivalent of ``nvidia-smi -q -d MEMORY,ECC,ROW_REMAPPER,TEMPERATURE,PIDS``
and ``nvidia-smi`` 's header (driver version, highest supported CUDA).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opskit.checks import CheckFn, Status, Verdict
from opskit.sources.host import (
    NvmlUnavailable,
    disk_usage,
    installed_versions,
    read_driver,
    read_gpu_health,
    read_meminfo,
    torch_cuda_build,
)

FRAMEWORKS = ("torch", "tensorflow", "jax", "deepspeed", "transformers", "lightning", "accelerate", "vllm")
GIB = 1024**3


@dataclass(frozen=True)
class SystemThresholds:
    """When a node's resources are a problem: used % of disk and host memory, GPU temperature."""

    disk_warn_pct: float = 90.0
    disk_fail_pct: float = 97.0
    memory_warn_pct: float = 90.0
    memory_fail_pct: float = 97.0
    gpu_temp_warn_c: float = 85


DEFAULT_THRESHOLDS = SystemThresholds()


def _used_status(used_pct: float, warn_pct: float, fail_pct: float) -> tuple[Status, float]:
    """The status of a used % and the threshold it is judged against."""
    if used_pct >= fail_pct:
        return Status.FAIL, fail_pct
    return (Status.WARN if used_pct >= warn_pct else Status.PASS), warn_pct


def check_disk_space(
    paths: Iterable[str | os.PathLike[str]] = (".",),
    *,
    thresholds: SystemThresholds = DEFAULT_THRESHOLDS,
    usage: Callable[[str], Any] = shutil.disk_usage,
) -> list[Verdict]:
    """One verdict per file system holding ``paths`` (``df -h PATH``): used % against the thresholds."""
    out = []
    seen: set[tuple[int, int]] = set()
    for raw in paths:
        u = disk_usage(raw, usage=usage)
        missing = not Path(raw).expanduser().exists()
        key = (u.total, u.used)
        if key in seen and not missing:
            continue
        seen.add(key)
        used_pct = 100.0 * u.used / u.total if u.total else 0.0
        status, threshold = _used_status(used_pct, thresholds.disk_warn_pct, thresholds.disk_fail_pct)
        if missing:  # never a PASS for a path that is not there: its parent's file system was measured
            out.append(
                Verdict(
                    "disk space",
                    Status.WARN if status == Status.PASS else status,
                    subject=str(Path(raw).expanduser()),
                    observed=round(used_pct, 1),
                    threshold=threshold,
                    unit="% used",
                    message=f"{Path(raw).expanduser()} does not exist; its nearest existing parent was measured",
                    evidence=f"{u.free / GIB:,.1f} GiB free of {u.total / GIB:,.1f} GiB on the parent's file system",
                    next_step="check the disk_paths parameter: name the checkpoint and cache folders the job writes",
                )
            )
            continue
        out.append(
            Verdict(
                "disk space",
                status,
                subject=str(Path(raw).expanduser()),
                observed=round(used_pct, 1),
                threshold=threshold,
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


def check_host_memory(
    *, meminfo: str | os.PathLike[str] = "/proc/meminfo", thresholds: SystemThresholds = DEFAULT_THRESHOLDS
) -> Verdict:
    """Host memory in use now (``free -g``: total minus available) against the thresholds."""
    try:
        info = read_meminfo(meminfo)
    except FileNotFoundError:
        return Verdict("host memory", Status.SKIP, message=f"{meminfo} is not readable on this system (not Linux)")
    total, available = info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    used_pct = 100.0 * (total - available) / total if total else 0.0
    status, threshold = _used_status(used_pct, thresholds.memory_warn_pct, thresholds.memory_fail_pct)
    return Verdict(
        "host memory",
        status,
        subject="this node",
        observed=round(used_pct, 1),
        threshold=threshold,
        unit="% used",
        evidence=f"{available / GIB:,.1f} GiB available of {total / GIB:,.1f} GiB",
        next_step=(
            "find what holds memory (ps aux --sort=-rss | head) and check the kernel log for the OOM killer "
            "(dmesg -T | grep -i -E 'killed process|oom')"
            if status != Status.PASS
            else None
        ),
    )


def _nvml_skip(name: str, exc: NvmlUnavailable, subject: str | None = None) -> Verdict:
    """The SKIP row of a check that needs NVML where there is none, and where to run it instead."""
    if exc.library_missing:
        message = "nvidia-ml-py is not installed, GPU state was not read"
        next_step = "pip install 'opskit[gpu]' on the GPU node, or run nvidia-smi -q there"
    else:
        message = f"no NVIDIA driver on this machine ({exc.detail})"
        next_step = "run the triage on the GPU node the job used; there, nvidia-smi must work"
    return Verdict(name, Status.SKIP, subject=subject, message=message, next_step=next_step)


_GPU_NEXT_STEP = {
    Status.FAIL: "drain the node and reset the GPU (nvidia-smi -r) or have it replaced",
    Status.WARN: "stop leftover processes (nvidia-smi --query-compute-apps=pid,used_memory "
    "--format=csv) and check cooling before rescheduling",
}


def check_gpus(*, nvml: Any | None = None, thresholds: SystemThresholds = DEFAULT_THRESHOLDS) -> list[Verdict]:
    """One verdict per GPU: uncorrectable ECC errors, row remapping, leftover processes, temperature."""
    try:
        gpus = read_gpu_health(nvml)
    except NvmlUnavailable as exc:
        return [_nvml_skip("GPU state", exc)]
    out = []
    for gpu in gpus:
        problems, status = [], Status.PASS
        if gpu.uncorrected_ecc:
            problems.append(f"{gpu.uncorrected_ecc} uncorrectable ECC errors since the driver loaded")
            status = Status.FAIL
        if gpu.remap_pending or gpu.remap_failed:
            problems.append("row remapping " + ("failed" if gpu.remap_failed else "pending (reset the GPU)"))
            status = Status.FAIL
        if gpu.processes:
            problems.append(f"{gpu.processes} process(es) still hold {gpu.processes_mib:,.0f} MiB")
            status = Status.worst([status, Status.WARN])
        if gpu.temperature_c is not None and gpu.temperature_c >= thresholds.gpu_temp_warn_c:
            problems.append(f"temperature {gpu.temperature_c} C")
            status = Status.worst([status, Status.WARN])
        out.append(
            Verdict(
                "GPU state",
                status,
                subject=f"GPU {gpu.index} ({gpu.name})",
                observed=round(gpu.mem_used_mib) if gpu.mem_used_mib is not None else None,
                threshold=round(gpu.mem_total_mib) if gpu.mem_total_mib is not None else None,
                unit="MiB used",
                evidence="; ".join(problems) or "no ECC errors, no pending remapping, no leftover process",
                next_step=_GPU_NEXT_STEP.get(status),
            )
        )
    return out


def _as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:2])


def check_versions(*, nvml: Any | None = None, torch_cuda: str | None = None) -> list[Verdict]:
    """Driver, the highest CUDA it supports, installed frameworks, and whether PyTorch's CUDA fits the driver."""
    frameworks = installed_versions(FRAMEWORKS)
    listed = ", ".join(f"{k} {v}" for k, v in frameworks.items()) or "no ML framework installed in this environment"
    out = [Verdict("software versions", Status.PASS, subject="frameworks", evidence=listed)]
    try:
        driver = read_driver(nvml)
    except NvmlUnavailable as exc:
        out.append(_nvml_skip("driver and CUDA", exc, subject="driver"))
        return out
    built = torch_cuda if torch_cuda is not None else torch_cuda_build()
    supports = driver.cuda or "unknown"
    evidence = f"driver {driver.version}, supports CUDA up to {supports}; PyTorch built for CUDA {built or '-'}"
    if built and driver.cuda and _as_tuple(built) > _as_tuple(driver.cuda):
        out.append(
            Verdict(
                "driver and CUDA",
                Status.FAIL,
                subject="driver",
                observed=built,
                threshold=driver.cuda,
                unit="CUDA",
                evidence=evidence,
                next_step=f"install a PyTorch build for CUDA <= {driver.cuda}, or upgrade the driver",
            )
        )
    else:
        out.append(Verdict("driver and CUDA", Status.PASS, subject="driver", evidence=evidence))
    return out


def system_checks(
    paths: Iterable[str | os.PathLike[str]] = (".",),
    *,
    thresholds: SystemThresholds = DEFAULT_THRESHOLDS,
    nvml: Any | None = None,
) -> list[tuple[str, CheckFn]]:
    """The system-first checks as ``(name, fn)`` pairs for :func:`opskit.checks.run_checks`."""
    paths = list(paths)
    return [
        ("disk space", lambda: check_disk_space(paths, thresholds=thresholds)),
        ("host memory", lambda: check_host_memory(thresholds=thresholds)),
        ("GPU state", lambda: check_gpus(nvml=nvml, thresholds=thresholds)),
        ("driver and CUDA", lambda: check_versions(nvml=nvml)),
    ]
