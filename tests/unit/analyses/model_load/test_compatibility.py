"""Framework build vs driver vs GPU architecture, from the bundled dated table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opskit.analyses.model_load import compatibility as cp
from opskit.checks import Status
from opskit.sources import environment as ev

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "models"


@pytest.fixture(scope="module")
def table():
    return ev.load_compat_table()


def env(torch: str | None = None, driver: str | None = None, cc: str | None = None, **kw) -> ev.Environment:
    base = ev.environment_from_pip({"torch": torch}) if torch else ev.Environment()
    return base.override(driver_version=driver, compute_capability=cc, **kw)


# ------------------------------------------------------------------------------------------- table
def test_every_row_has_a_source_and_an_iso_date(table):
    assert list(table.columns) == ["kind", "key", "value", "note", "source", "date"]
    assert table["source"].str.len().gt(10).all()
    assert table["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_table_covers_torch_2_0_to_2_9_and_the_architectures(table):
    torch = table[table["kind"] == "torch_cuda"]["key"].tolist()
    assert {f"2.{i}" for i in range(10)} <= set(torch)
    arch = dict(table[table["kind"] == "cc_arch"][["key", "value"]].values)
    assert {arch[k] for k in ("7.0", "8.0", "8.6", "8.9", "9.0", "10.0", "12.0")} == {
        "sm_70", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120"
    }  # fmt: skip


def test_published_driver_minimums(table):
    mins = dict(table[table["kind"] == "cuda_min_driver"][["key", "value"]].values)
    minor = dict(table[table["kind"] == "cuda_minor_compat_driver"][["key", "value"]].values)
    assert mins["12.4"] == "550.54.14" and mins["11.8"] == "520.61.05"
    assert minor["12"] == "525.60.13" and minor["11"] == "450.80.02"


# ----------------------------------------------------------------------------------------- driver
def test_cuda_12_build_on_a_driver_too_old_for_cuda_12(table):
    v = cp.check_driver(env("2.4.1", "470.182.03"), table)
    assert v.status is Status.FAIL and v.threshold == ">= 525.60.13"
    assert "upgrade the NVIDIA driver" in v.next_step and "whl/cu118" in v.next_step


def test_minor_version_compatibility_warns(table):
    v = cp.check_driver(env("2.5.1+cu124", "535.129.03"), table)
    assert v.status is Status.WARN and "minor version compatibility" in v.message


def test_driver_new_enough_passes(table):
    assert cp.check_driver(env("2.5.1+cu124", "550.54.14"), table).status is Status.PASS
    assert cp.check_driver(env("2.9.0+cu130", "580.95.05"), table).status is Status.PASS


def test_unlisted_minor_uses_the_nearest_lower_row(table):
    v = cp.check_driver(env("2.7.0", driver="565.57.01", cuda_version="12.7"), table)
    assert v.status is Status.PASS and "CUDA 12.6 needs" in v.evidence


def test_cpu_build_on_gpu_machine_warns_and_no_driver_skips(table):
    assert cp.check_driver(env("2.6.0+cpu", "550.54.14", "9.0"), table).status is Status.WARN
    assert cp.check_driver(env("2.6.0+cu124"), table).status is Status.SKIP
    assert cp.check_driver(ev.Environment(), table).status is Status.SKIP


# ----------------------------------------------------------------------------------- architectures
def test_hopper_on_cuda_11_7_has_no_kernels(table):
    (v,) = cp.check_gpu_arch(env("2.0.1+cu117", "535.129.03", "9.0"), table)
    assert v.status is Status.FAIL and v.threshold == ">= 11.8" and "no kernel image" in v.message
    (ok,) = cp.check_gpu_arch(env("2.0.1+cu118", "535.129.03", "9.0"), table)
    assert ok.status is Status.PASS


def test_volta_dropped_by_cuda_13():
    smi = ev.parse_nvidia_smi((FIXTURES / "nvidia_smi_query_gpu_v100.csv").read_text())
    e = ev.environment_from_pip({"torch": "2.9.0+cu130"}).override(driver_version=smi.driver_version)
    e = ev.Environment(e.torch_version, e.cuda_version, e.driver_version, gpus=smi.gpus)
    result = cp.check_compatibility(e)
    (arch,) = [v for v in result.verdicts if v.name == "GPU architecture in build"]
    assert arch.status is Status.FAIL and "dropped sm_70" in arch.message


def test_gpu_name_maps_to_compute_capability(table):
    e = ev.environment_from_pip({"torch": "2.0.1+cu117"})
    e = ev.Environment(
        e.torch_version, e.cuda_version, "535.1", gpus=(ev.GpuInfo("NVIDIA L40S"), ev.GpuInfo("NVIDIA L4"))
    )
    statuses = {v.subject: (v.status, v.observed) for v in cp.check_gpu_arch(e, table)}
    assert statuses["NVIDIA L40S"][0] is Status.FAIL and statuses["NVIDIA L4"][0] is Status.FAIL
    a10 = ev.Environment("2.4.1", "12.1", "550.1", gpus=(ev.GpuInfo("NVIDIA A10G"), ev.GpuInfo("Mystery GPU")))
    out = {v.subject: v for v in cp.check_gpu_arch(a10, table)}
    assert out["NVIDIA A10G"].observed == "sm_86" and out["Mystery GPU"].status is Status.SKIP


def test_arch_list_from_torch_decides_when_known(table):
    base = ev.Environment("2.4.1+cu121", "12.1", "550.1", gpus=(ev.GpuInfo("NVIDIA H100", "9.0"),))
    with_sm90 = cp.check_gpu_arch(ev.Environment(**{**base.__dict__, "arch_list": ("sm_80", "sm_90")}), table)
    ptx_only = cp.check_gpu_arch(ev.Environment(**{**base.__dict__, "arch_list": ("sm_80", "compute_80")}), table)
    none = cp.check_gpu_arch(ev.Environment(**{**base.__dict__, "arch_list": ("sm_70", "sm_75")}), table)
    assert [v.status for v in with_sm90 + ptx_only + none] == [Status.PASS, Status.WARN, Status.FAIL]


def test_framework_build_official_or_not(table):
    assert cp.check_build(env("2.4.1+cu124"), table).status is Status.PASS
    assert cp.check_build(env("2.4.1+cu126"), table).status is Status.WARN
    newer = cp.check_build(env("2.13.0+cu130"), table)
    assert newer.status is Status.SKIP and re.search(r"\d{4}-\d{2}-\d{2}", newer.message)


def test_check_compatibility_frame_names_sources():
    result = cp.check_compatibility(env("2.4.1", "470.182.03", "8.0"))
    frame = result.frame().set_index("field")
    assert frame.loc["NVIDIA driver", "source"] == "parameter"
    assert frame.loc["torch CUDA build", "value"] == "12.1"
    assert result.verdicts[0].status is Status.FAIL
