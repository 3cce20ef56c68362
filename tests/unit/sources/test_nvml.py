import subprocess
import sys
import types

import pandas as pd
import pytest

from opskit.errors import OpskitError
from opskit.sources.gpu_tables import read_gpu_table
from opskit.sources.nvml import nvml_session, processes_path, record


def _driver_present() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        return True
    except Exception:
        return False


NO_DRIVER = not _driver_present()


class _NVMLError(Exception):
    pass


def fake_nvml(gpus=2, *, fail_init=None, unsupported_power=False):
    """A stand-in for pynvml with the calls the sampler makes."""
    mod = types.SimpleNamespace()
    mod.NVMLError = _NVMLError
    mod.NVMLError_LibraryNotFound = type("LibraryNotFound", (_NVMLError,), {})
    mod.NVMLError_DriverNotLoaded = type("DriverNotLoaded", (_NVMLError,), {})
    mod.NVML_TEMPERATURE_GPU = 0
    mod.calls = {"init": 0, "shutdown": 0, "reads": 0}

    def init():
        mod.calls["init"] += 1
        if fail_init:
            raise getattr(mod, fail_init)()

    def power(h):
        if unsupported_power and h == 1:
            raise _NVMLError("Not Supported")
        return 250_500

    def util(h):
        mod.calls["reads"] += 1
        return types.SimpleNamespace(gpu=90 + h, memory=40)

    mod.nvmlInit = init
    mod.nvmlShutdown = lambda: mod.calls.__setitem__("shutdown", mod.calls["shutdown"] + 1)
    mod.nvmlDeviceGetCount = lambda: gpus
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetUUID = lambda h: f"GPU-{h:04d}"
    mod.nvmlDeviceGetName = lambda h: b"NVIDIA H200"
    mod.nvmlDeviceGetPciInfo = lambda h: types.SimpleNamespace(busId=f"00000000:{h:02X}:00.0")
    mod.nvmlDeviceGetUtilizationRates = util
    mod.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=1024 * 1024 * 1024, total=141 * 1024**3)
    mod.nvmlDeviceGetPowerUsage = power
    mod.nvmlDeviceGetTemperature = lambda h, sensor: 41
    mod.nvmlDeviceGetComputeRunningProcesses = lambda h: (
        [types.SimpleNamespace(pid=4242, usedGpuMemory=512 * 1024 * 1024)] if h == 0 else []
    )
    mod.nvmlDeviceGetGraphicsRunningProcesses = lambda h: []
    mod.nvmlSystemGetProcessName = lambda pid: b"python"
    return mod


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_record_writes_samples_and_processes(tmp_path, suffix):
    nvml = fake_nvml(unsupported_power=True)
    out = tmp_path / f"gpus{suffix}"
    result = record(out, interval_s=15, count=3, host="h200-1", nvml=nvml, sleep=lambda s: None, flush_every=2)
    assert (result.rounds, result.gpus, result.readings, result.process_rows) == (3, 2, 6, 3)
    assert nvml.calls["init"] == 1 and nvml.calls["shutdown"] == 1
    frame = read_gpu_table(out)  # the samples file is a GPU-samples frame
    assert len(frame) == 6 and set(frame["host"]) == {"h200-1"}
    assert frame.loc[frame["gpu"] == 0, "power_w"].iloc[0] == pytest.approx(250.5)
    assert frame.loc[frame["gpu"] == 1, "power_w"].isna().all()  # unsupported -> missing, not an error
    assert frame["mem_used_mib"].iloc[0] == 1024.0
    assert frame["mem_total_mib"].iloc[0] == 141 * 1024.0
    procs = pd.read_parquet(processes_path(out)) if suffix == ".parquet" else pd.read_csv(processes_path(out))
    assert procs["pid"].tolist() == [4242] * 3
    assert procs["used_mem_mib"].iloc[0] == 512.0 and procs["process_name"].iloc[0] == "python"


def test_duration_stops_the_recorder(tmp_path):
    now = [0.0]

    def clock():
        return now[0]

    def sleep(s):
        now[0] += s

    nvml = fake_nvml(gpus=1)
    out = tmp_path / "nvml-duration.parquet"
    result = record(out, interval_s=15, duration_s=60, nvml=nvml, clock=clock, sleep=sleep)
    assert result.rounds == 4  # t = 0, 15, 30, 45


def test_ctrl_c_keeps_what_was_recorded(tmp_path):
    nvml = fake_nvml(gpus=1)
    calls = {"n": 0}

    def sleep(_):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    result = record(tmp_path / "g.parquet", interval_s=1, nvml=nvml, sleep=sleep)
    assert result.interrupted and result.rounds == 2
    assert len(pd.read_parquet(tmp_path / "g.parquet")) == 2


@pytest.mark.parametrize("error", ["NVMLError_LibraryNotFound", "NVMLError_DriverNotLoaded"])
def test_no_driver_is_one_message_with_a_hint(error):
    with pytest.raises(OpskitError) as err, nvml_session(fake_nvml(fail_init=error)):
        pass
    assert err.value.hint


def test_bad_arguments(tmp_path):
    with pytest.raises(OpskitError, match=r"parquet or \.csv"):
        record(tmp_path / "g.json", nvml=fake_nvml())
    with pytest.raises(OpskitError, match="positive"):
        record(tmp_path / "g.csv", interval_s=0, nvml=fake_nvml())


@pytest.mark.skipif(not NO_DRIVER, reason="this machine has an NVIDIA driver")
def test_real_pynvml_without_driver_raises_opskit_error(tmp_path):
    with pytest.raises(OpskitError) as err:
        record(tmp_path / "g.parquet", count=1)
    assert "driver" in err.value.message.lower()
    assert not (tmp_path / "g.parquet").exists()


@pytest.mark.skipif(not NO_DRIVER, reason="this machine has an NVIDIA driver")
def test_cli_without_driver_prints_error_and_hint_and_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "opskit", "sample-gpus", "--interval", "15", "--out", str(tmp_path / "g.parquet")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
