"""The DCGM reader on real dcgm-exporter output (tests/fixtures/real/dcgm/, values checked by hand)."""

from pathlib import Path

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.dcgm import host_from_scrape_name, read_dcgm_scrapes

REAL = Path(__file__).parents[2] / "fixtures" / "real" / "dcgm"


def test_k80_scrape_three_gpus_idle():
    frame = read_dcgm_scrapes(REAL / "k80_20220408T165647Z.prom")
    assert sorted(frame["gpu"].tolist()) == [0, 1, 2]
    assert frame["util_pct"].tolist() == [0.0, 0.0, 0.0]
    assert set(frame["host"]) == {"dcgm-exporter-cmhft"} and set(frame["model"]) == {"Tesla K80"}
    assert str(frame["timestamp"].iloc[0]) == "2022-04-08 16:56:47+00:00"


def test_scrape_without_hostname_takes_the_host_from_the_file_name():
    frame = read_dcgm_scrapes(REAL / "gpunode_20240101T000000Z.prom")
    assert frame["host"].tolist() == ["gpunode"] and frame["uuid"].tolist() == ["GPU-<uuid>"]
    assert frame["util_pct"].tolist() == [0.0]


def test_scrape_without_any_host_names_what_the_runbook_accepts(tmp_path):
    scrape = tmp_path / "dcgm-20240101T000000Z.prom"
    scrape.write_text((REAL / "gpunode_20240101T000000Z.prom").read_text())
    with pytest.raises(InputError) as info:
        read_dcgm_scrapes(scrape)
    assert info.value.line == 7 and "<host>_<UTC time>.prom" in info.value.hint
    assert "pass host=" not in info.value.hint


def test_host_from_scrape_name():
    assert host_from_scrape_name("node1_20261116T000500Z.prom") == "node1"
    assert host_from_scrape_name("dcgm-node-7-20261116T000500Z.prom.gz") == "node-7"
    assert host_from_scrape_name("dcgm-20261116T000500Z.prom") is None
    assert host_from_scrape_name("metrics.prom") is None


def test_lowercase_metric_names_are_read(tmp_path):
    scrape = tmp_path / "n1_20261116T000500Z.prom"
    scrape.write_text('dcgm_fi_dev_gpu_util{gpu="0",UUID="GPU-a",Hostname="n1"} 37\n')
    assert read_dcgm_scrapes(scrape)["util_pct"].tolist() == [37.0]


def test_fb_total_is_a_per_series_fallback(tmp_path):
    scrape = tmp_path / "n1_20261116T000500Z.prom"
    scrape.write_text(
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",Hostname="n1"} 100\n'
        'DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-a",Hostname="n1"} 900\n'
        'DCGM_FI_DEV_FB_TOTAL{gpu="0",UUID="GPU-a",Hostname="n1"} 1024\n'
        'DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b",Hostname="n1"} 200\n'
        'DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-b",Hostname="n1"} 800\n'
    )
    frame = read_dcgm_scrapes(scrape).sort_values("gpu")
    assert frame["mem_total_mib"].tolist() == [1024.0, 1000.0]


def test_l4_scrape_of_exporter_3x_reads_memory_from_used_free_and_reserved():
    frame = read_dcgm_scrapes(REAL / "l4_20260320T122343Z.prom")
    (row,) = frame.to_dict("records")
    assert (row["host"], row["gpu"], row["model"]) == ("i-030791dc5a37cd257", 0, "NVIDIA L4")
    assert row["uuid"] == "GPU-c2f76b33-7953-256e-8f33-1343419b1a1c"
    # FB_USED 0, FB_FREE 22563, FB_RESERVED 470 (MiB): no FB_TOTAL, so the total is their sum
    assert (row["mem_used_mib"], row["mem_total_mib"], row["power_w"]) == (0.0, 23033.0, 16.365)
    assert str(row["timestamp"]) == "2026-03-20 12:23:43+00:00"


def test_lowercase_hostname_label_and_pod_attribution_are_read():
    frame = read_dcgm_scrapes(REAL / "dcgm-20260101T000000Z.prom")
    (row,) = frame.to_dict("records")
    assert (row["host"], row["model"], row["pod"], row["namespace"]) == (
        "hami-workshop",
        "Tesla T4",
        "gpu-test",
        "default",
    )
    assert row["power_w"] == 15.507 and row["util_pct"] == 0.0
    assert pd.isna(row["mem_total_mib"])  # FB_USED without FB_FREE: the total stays unknown (NaN)


def test_a_scrape_with_only_clock_metrics_names_what_it_looked_for():
    # dcgm-exporter issue #713: an A100 80GB MIG 7g.79gb excerpt holding DCGM_FI_DEV_SM_CLOCK only
    with pytest.raises(InputError) as info:
        read_dcgm_scrapes(REAL / "metal-gpu-08_20240101T000000Z.prom")
    assert "DCGM_FI_DEV_GPU_UTIL" in info.value.message and "metal-gpu-08" in str(info.value.path)


def test_a_pasted_sample_line_without_its_value_is_not_read_as_zero():
    # gpu-monitoring-tools issue #193: GPU_I_PROFILE="<<<NULL>>>" and the value cut off
    with pytest.raises(InputError) as info:
        read_dcgm_scrapes(REAL / "a0321111701_20210604T000000Z.prom")
    assert "no DCGM GPU metrics found" in info.value.message


def test_a_scrape_without_uuid_and_with_other_exporters_lines():
    frame = read_dcgm_scrapes(REAL / "gpu-node-1_20240101T000000Z.prom")
    assert frame[["host", "gpu", "util_pct"]].values.tolist() == [["gpu-node-1", 0, 97.0]]


def test_a_guide_paste_with_elided_labels_reads_the_one_complete_sample():
    # DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-abc123..."} 87; the other two lines are metrics not read
    frame = read_dcgm_scrapes(REAL / "gke-node_20251116T000000Z.prom")
    assert frame[["host", "gpu", "util_pct"]].values.tolist() == [["gke-node", 0, 87.0]]


def test_scrapes_of_two_exporter_versions_read_together():
    frame = read_dcgm_scrapes([REAL / "k80_20220408T165647Z.prom", REAL / "l4_20260320T122343Z.prom"])
    assert frame.groupby("model")["gpu"].count().to_dict() == {"NVIDIA L4": 1, "Tesla K80": 3}
    assert frame["timestamp"].min() == pd.Timestamp("2022-04-08 16:56:47", tz="UTC")


def test_mig_instances_of_one_gpu_stay_apart(tmp_path):
    # the labels of dcgm-exporter issue #713, as two instances (GPU_I_ID 1 and 2) of one A100 with their own pods
    labels = (
        'gpu="0",UUID="GPU-06357e72-c3ee-614b-775f-a89e18e8cc08",device="nvidia0",modelName="NVIDIA A100 80GB PCIe",'
        'GPU_I_PROFILE="3g.40gb",GPU_I_ID="{gi}",Hostname="metal-gpu-08",DCGM_FI_DRIVER_VERSION="535.154.05",'
        'container="c",namespace="ml",pod="{pod}"'
    )
    text = "".join(
        f"DCGM_FI_DEV_FB_USED{{{labels.format(gi=gi, pod=pod)}}} {used}\n"
        f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{labels.format(gi=gi, pod=pod)}}} {active}\n"
        for gi, pod, used, active in (("1", "train-a", 18432, 0.5), ("2", "train-b", 1024, 0.1))
    )
    (tmp_path / "metal-gpu-08_20240101T000000Z.prom").write_text(text)
    frame = read_dcgm_scrapes(tmp_path / "metal-gpu-08_20240101T000000Z.prom").sort_values("mig_instance")
    assert frame[["mig_instance", "pod", "mem_used_mib"]].values.tolist() == [
        ["1", "train-a", 18432.0],
        ["2", "train-b", 1024.0],
    ]


def test_gb200_scrape_four_gpus_by_bus_with_a_dotted_host_in_the_file_name():
    frame = read_dcgm_scrapes(REAL / "ip-100-64-135-20.ec2.internal_20260809T012517Z.prom").sort_values("gpu")
    assert frame["gpu"].tolist() == [0, 1, 2, 3] and set(frame["host"]) == {"ip-100-64-135-20.ec2.internal"}
    assert frame["uuid"].iloc[3] == "GPU-63c10f33-73a6-e0b7-06c8-1454c80ab6fd" and set(frame["model"]) == {
        "NVIDIA GB200"
    }
    # FB_USED 0 and FB_FREE 188729 MiB on each GPU
    assert set(frame["mem_total_mib"]) == {188729.0} and set(frame["util_pct"]) == {0.0}
    assert str(frame["timestamp"].iloc[0]) == "2026-08-09 01:25:17+00:00"


def test_the_same_gpu_with_and_without_pod_labels_is_one_gpu():
    # a dcgm-exporter pod-labels guide shows one sample before and one after enabling pod labels (app, team)
    frame = read_dcgm_scrapes(REAL / "pod-labels-doc_20250101T000000Z.prom")
    assert frame[["gpu", "uuid", "pod", "namespace", "util_pct"]].values.tolist() == [
        [0, "GPU-xxxx", "my-pod", "default", 85.0]
    ]
