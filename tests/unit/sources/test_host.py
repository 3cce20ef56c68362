"""Host facts read, not judged: /proc/meminfo, disk usage of a path not made yet, NVML readings, no NVML."""

from __future__ import annotations

import sys
from collections import namedtuple
from types import SimpleNamespace

import pytest

from opskit.sources.host import (
    DriverInfo,
    NvmlUnavailable,
    disk_usage,
    installed_versions,
    read_driver,
    read_gpu_health,
    read_meminfo,
)

Usage = namedtuple("Usage", "total used free")


def test_meminfo_in_bytes(tmp_path):
    m = tmp_path / "meminfo"
    m.write_text("MemTotal:       100000 kB\nMemAvailable:    2000 kB\nHugePages_Total:       0\n")
    assert read_meminfo(m) == {"MemTotal": 102_400_000, "MemAvailable": 2_048_000, "HugePages_Total": 0}
    with pytest.raises(FileNotFoundError):
        read_meminfo(tmp_path / "none")


def test_disk_usage_of_a_folder_not_made_yet_is_its_parents(tmp_path):
    asked = []
    disk_usage(tmp_path / "ckpt" / "step-100", usage=lambda p: asked.append(p) or Usage(1, 0, 1))
    assert asked == [str(tmp_path)]


def test_installed_versions_leave_out_the_absent():
    found = installed_versions(["pandas", "no-such-distribution-xyz"])
    assert set(found) == {"pandas"}


class FakeNvml:
    def __init__(self, *, fail_init=False):
        self.fail_init, self.shut = fail_init, False

    def nvmlInit(self):
        if self.fail_init:
            raise RuntimeError("Driver Not Loaded")

    def nvmlShutdown(self):
        self.shut = True

    def nvmlDeviceGetCount(self):
        return 1

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetName(self, h):
        return b"NVIDIA H200"

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(used=2048 * 2**20, total=143771 * 2**20)

    def nvmlDeviceGetTotalEccErrors(self, h, kind, counter):
        raise RuntimeError("Not Supported")

    def nvmlDeviceGetRemappedRows(self, h):
        return (0, 0, 1, 0)

    def nvmlDeviceGetTemperature(self, h, sensor):
        return 40

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return [SimpleNamespace(pid=7, usedGpuMemory=2**30), SimpleNamespace(pid=8, usedGpuMemory=None)]

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12040


def test_gpu_health_degrades_per_metric_and_shuts_nvml_down():
    nvml = FakeNvml()
    (gpu,) = read_gpu_health(nvml)
    assert (gpu.index, gpu.name, gpu.mem_used_mib, gpu.mem_total_mib) == (0, "NVIDIA H200", 2048, 143771)
    assert gpu.uncorrected_ecc is None, "a reading the GPU does not support is missing"
    assert gpu.remap_pending and not gpu.remap_failed
    assert (gpu.processes, gpu.processes_mib) == (2, 1024)
    assert nvml.shut


def test_driver_and_its_cuda():
    assert read_driver(FakeNvml()) == DriverInfo("550.54.15", "12.4")


def test_no_driver_and_no_library_are_nvml_unavailable(monkeypatch):
    with pytest.raises(NvmlUnavailable) as err:
        read_gpu_health(FakeNvml(fail_init=True))
    assert not err.value.library_missing and "Driver Not Loaded" in err.value.detail
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    with pytest.raises(NvmlUnavailable) as err:
        read_driver()
    assert err.value.library_missing
