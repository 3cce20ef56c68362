"""The environment read from pip freeze, nvidia-smi output, a folder, or this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources import environment as ev

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "models"


# ---------------------------------------------------------------------------------------- readers
def test_parse_version():
    assert ev.parse_version("535.129.03") == (535, 129, 3)
    assert ev.parse_version("2.4.1+cu121") == (2, 4, 1)
    assert ev.parse_version("") is None and ev.parse_version("n/a") is None


def test_pip_freeze_with_local_cuda_tag():
    packages = ev.parse_pip_freeze((FIXTURES / "pip_freeze_torch_cu118_local.txt").read_text())
    assert packages["torch"] == "2.3.1+cu118" and "safetensors" not in packages and "trainer" not in packages
    e = ev.environment_from_pip(packages)
    assert (e.torch_version, e.cuda_version) == ("2.3.1+cu118", "11.8")


def test_pip_list_with_cpu_build():
    e = ev.environment_from_pip(ev.parse_pip_freeze((FIXTURES / "pip_list_torch_cpu.txt").read_text()))
    assert e.torch_version == "2.6.0+cpu" and e.cuda_version is None


def test_cuda_from_runtime_wheel_else_table_default():
    e = ev.environment_from_pip({"torch": "2.5.1", "nvidia-cuda-runtime-cu12": "12.4.127"})
    assert e.cuda_version == "12.4" and "nvidia-cuda-runtime" in e.sources["cuda_version"]
    d = ev.environment_from_pip({"torch": "2.1.2"})
    assert d.cuda_version == "12.1" and "table" in d.sources["cuda_version"]


def test_nvidia_smi_table():
    e = ev.parse_nvidia_smi((FIXTURES / "nvidia_smi_535_h100.txt").read_text())
    assert (e.driver_version, e.driver_cuda) == ("535.129.03", "12.2")
    assert [g.name for g in e.gpus] == ["NVIDIA H100 80GB HBM3"] * 2


def test_nvidia_smi_query_csv_with_compute_capability():
    e = ev.parse_nvidia_smi((FIXTURES / "nvidia_smi_query_gpu_v100.csv").read_text())
    assert e.driver_version == "580.82.07" and e.gpus[0].compute_capability == "7.0"


def test_nvidia_smi_without_driver_is_an_input_error():
    with pytest.raises(InputError) as err:
        ev.parse_nvidia_smi("name\nfoo\n", "smi.txt")
    assert err.value.path == "smi.txt" and err.value.hint


def test_environment_from_folder_and_missing(tmp_path):
    (tmp_path / "pip-freeze.txt").write_text("torch==2.4.1+cu124\n")
    (tmp_path / "nvidia-smi.txt").write_text((FIXTURES / "nvidia_smi_535_h100.txt").read_text())
    e = ev.environment_from_path(tmp_path)
    assert (e.cuda_version, e.driver_version) == ("12.4", "535.129.03")
    assert e.sources["driver_version"].endswith("nvidia-smi.txt")
    with pytest.raises(InputError):
        ev.environment_from_path(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        ev.environment_from_path(tmp_path / "empty")


def test_local_environment_does_not_fail_without_gpu():
    e = ev.detect_local_environment()
    assert e.sources  # says where each fact came from, or that it is absent


def test_a_gpu_name_cut_by_the_nvidia_smi_table_says_so():
    from opskit.samples.models import NVIDIA_SMI_470
    from opskit.sources.environment import parse_nvidia_smi

    env = parse_nvidia_smi(NVIDIA_SMI_470)
    assert [g.name for g in env.gpus] == ["NVIDIA A100-SXM (name cut by nvidia-smi's table)"] * 2
    assert env.driver_version == "470.182.03"
