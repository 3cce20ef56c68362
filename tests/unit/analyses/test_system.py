"""System-first triage checks: disk, host memory, GPU state and versions, with NVML faked."""

from __future__ import annotations

import sys
from collections import namedtuple
from types import SimpleNamespace

from opskit.analyses.system import (
    SystemThresholds,
    check_disk_space,
    check_gpus,
    check_host_memory,
    check_versions,
    system_checks,
)
from opskit.checks import Status, run_checks

Usage = namedtuple("Usage", "total used free")
GIB = 1024**3


def test_disk_space_thresholds(tmp_path):
    data = [str(tmp_path)]
    full = check_disk_space(data, usage=lambda p: Usage(100 * GIB, 99 * GIB, 1 * GIB))[0]
    assert full.status == Status.FAIL and full.observed == 99.0 and full.next_step
    warn = check_disk_space(data, usage=lambda p: Usage(100 * GIB, 92 * GIB, 8 * GIB))[0]
    assert warn.status == Status.WARN
    ok = check_disk_space(data, usage=lambda p: Usage(100 * GIB, 40 * GIB, 60 * GIB))[0]
    assert ok.status == Status.PASS and ok.next_step is None


def test_a_missing_disk_path_is_never_a_pass_against_its_parent(tmp_path):
    missing = tmp_path / "checkpoints" / "run-7"
    (row,) = check_disk_space([missing], usage=lambda p: Usage(100 * GIB, 40 * GIB, 60 * GIB))
    assert row.status == Status.WARN and row.subject == str(missing)
    assert "does not exist" in row.message and "disk_paths" in row.next_step
    (full,) = check_disk_space([missing], usage=lambda p: Usage(100 * GIB, 99 * GIB, 1 * GIB))
    assert full.status == Status.FAIL


def test_host_memory_from_meminfo(tmp_path):
    m = tmp_path / "meminfo"
    m.write_text("MemTotal:       100000 kB\nMemFree:         1000 kB\nMemAvailable:    2000 kB\n")
    v = check_host_memory(meminfo=m)
    assert v.status == Status.FAIL and v.observed == 98.0
    assert check_host_memory(meminfo=tmp_path / "none").status == Status.SKIP


class FakeNvml:
    def __init__(self, *, fail_init=False, ecc=0, pending=0, procs=(), cuda=12040):
        self.fail_init, self.ecc, self.pending, self.procs, self.cuda = fail_init, ecc, pending, procs, cuda

    def nvmlInit(self):
        if self.fail_init:
            raise RuntimeError("Driver Not Loaded")

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return 2

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H100 80GB HBM3"

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=1024 * 2**20, total=81559 * 2**20)

    def nvmlDeviceGetTotalEccErrors(self, h, kind, counter):
        return self.ecc if h == 1 else 0

    def nvmlDeviceGetRemappedRows(self, h):
        return (0, 0, self.pending if h == 1 else 0, 0)

    def nvmlDeviceGetTemperature(self, h, sensor):
        return 41

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return list(self.procs) if h == 0 else []

    def nvmlSystemGetDriverVersion(self):
        return "550.54.15"

    def nvmlSystemGetCudaDriverVersion(self):
        return self.cuda


def test_gpu_state_per_gpu():
    rows = check_gpus(nvml=FakeNvml(ecc=3, procs=[SimpleNamespace(pid=1, usedGpuMemory=4 * 2**30)]))
    by = {v.subject: v for v in rows}
    assert by["GPU 1 (NVIDIA H100 80GB HBM3)"].status == Status.FAIL
    assert "uncorrectable ECC" in by["GPU 1 (NVIDIA H100 80GB HBM3)"].evidence
    assert by["GPU 0 (NVIDIA H100 80GB HBM3)"].status == Status.WARN
    assert "4,096 MiB" in by["GPU 0 (NVIDIA H100 80GB HBM3)"].evidence


def test_no_driver_is_a_clear_skip():
    rows = check_gpus(nvml=FakeNvml(fail_init=True))
    assert [v.status for v in rows] == [Status.SKIP] and "no NVIDIA driver" in rows[0].message


def test_versions_torch_newer_than_driver_fails():
    rows = check_versions(nvml=FakeNvml(cuda=11040), torch_cuda="12.4")
    drv = next(v for v in rows if v.name == "driver and CUDA")
    assert drv.status == Status.FAIL and drv.threshold == "11.4"
    ok = next(v for v in check_versions(nvml=FakeNvml(cuda=12040), torch_cuda="12.1") if v.name == "driver and CUDA")
    assert ok.status == Status.PASS and "550.54.15" in ok.evidence


def test_system_checks_run_without_a_gpu_here():
    table = run_checks(system_checks(["."], nvml=FakeNvml(fail_init=True)))
    names = {v.name for v in table}
    assert {"disk space", "host memory", "GPU state", "driver and CUDA"} <= names
    assert not table.by_status(Status.ERROR)


def test_thresholds_are_one_value_overridable():
    strict = SystemThresholds(disk_warn_pct=30.0, disk_fail_pct=50.0, gpu_temp_warn_c=40)
    (disk,) = check_disk_space(["/data"], thresholds=strict, usage=lambda p: Usage(100 * GIB, 40 * GIB, 60 * GIB))
    assert (disk.status, disk.threshold) == (Status.WARN, 30.0)
    rows = check_gpus(nvml=FakeNvml(), thresholds=strict)
    assert all(v.status == Status.WARN and "temperature 41 C" in v.evidence for v in rows)


def test_pending_row_remapping_fails_the_gpu():
    by = {v.subject: v for v in check_gpus(nvml=FakeNvml(pending=1))}
    assert by["GPU 1 (NVIDIA H100 80GB HBM3)"].status == Status.FAIL
    assert "row remapping pending" in by["GPU 1 (NVIDIA H100 80GB HBM3)"].evidence


def test_no_nvml_library_is_a_skip_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    (gpu,) = check_gpus()
    assert (
        gpu.status == Status.SKIP and "nvidia-ml-py is not installed" in gpu.message and "opskit[gpu]" in gpu.next_step
    )
    driver = next(v for v in check_versions() if v.name == "driver and CUDA")
    assert driver.status == Status.SKIP and driver.subject == "driver"
