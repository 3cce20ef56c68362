import gzip

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.dcgm import key_from_labels, parse_labels, read_dcgm_scrapes, timestamp_from_name


def test_scrape_files_take_their_time_from_the_file_name(fixtures):
    df = read_dcgm_scrapes(fixtures / "gpu" / "dcgm_scrapes")
    assert len(df) == 4  # 2 scrapes x 2 GPUs; other DCGM fields are skipped
    assert sorted(df["timestamp"].unique()) == [
        pd.Timestamp("2026-11-16 00:00:00", tz="UTC"),
        pd.Timestamp("2026-11-16 00:00:15", tz="UTC"),
    ]
    g0 = df[df["gpu"] == 0].reset_index(drop=True)
    assert g0["util_pct"].tolist() == [97.0, 99.0]
    assert g0["gr_engine_active_pct"].tolist() == pytest.approx([94.1235, 95.2])  # ratio -> percent
    assert g0["mem_total_mib"].iloc[0] == 71234 + 9830 + 495  # used + free + reserved
    assert g0["power_w"].iloc[0] == pytest.approx(652.308)
    assert g0["namespace"].iloc[0] == "llm-train" and g0["pod"].iloc[0] == "pretrain-13b-r1-0"
    assert g0["host"].iloc[0] == "train-h100-01" and g0["model"].iloc[0] == "NVIDIA H100 80GB HBM3"
    g1 = df[df["gpu"] == 1]
    assert g1["namespace"].isna().all()  # no pod holds GPU 1
    assert "sm_active_pct" not in df.columns  # off by default in dcgm-exporter


def test_older_label_names_and_per_sample_timestamps(fixtures):
    df = read_dcgm_scrapes(fixtures / "gpu" / "dcgm_old_labels_timestamps.prom")
    assert df["timestamp"].tolist() == [
        pd.Timestamp("2026-11-16 08:00:00", tz="UTC"),
        pd.Timestamp("2026-11-16 08:00:15", tz="UTC"),
    ]
    row = df.iloc[0]
    assert row["host"] == "a100-node-3"
    assert row["uuid"] == "GPU-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert row["namespace"] == "recsys-serving" and row["pod"] == "ranker-7d9f-abcde"
    assert row["container"] == "serve"
    assert row["sm_active_pct"] == pytest.approx(8.3)
    assert "job" not in df.columns  # Prometheus' job label is a scrape job, not a workload
    assert pd.isna(df["sm_active_pct"].iloc[1])


def test_gzip_files_are_read(tmp_path, fixtures):
    src = fixtures / "gpu" / "dcgm_old_labels_timestamps.prom"
    with gzip.open(tmp_path / "node.prom.gz", "wt") as fh:
        fh.write(src.read_text())
    assert len(read_dcgm_scrapes(tmp_path / "node.prom.gz")) == 2


def test_no_timestamp_anywhere_is_an_input_error(fixtures):
    with pytest.raises(InputError) as err:
        read_dcgm_scrapes(fixtures / "gpu" / "dcgm_no_timestamp.prom")
    assert err.value.line == 1
    assert "timestamps" in err.value.hint


def test_a_given_timestamp_and_host_are_used(fixtures):
    df = read_dcgm_scrapes(fixtures / "gpu" / "dcgm_no_timestamp.prom", timestamps="2026-11-16T10:00:00Z", host="x")
    assert df["timestamp"].iloc[0] == pd.Timestamp("2026-11-16 10:00", tz="UTC")
    assert df["host"].iloc[0] == "x"
    assert df["util_pct"].iloc[0] == 3.0


def test_not_an_exposition_file(fixtures):
    with pytest.raises(InputError) as err:
        read_dcgm_scrapes(fixtures / "gpu" / "dcgm_not_exposition.prom")
    assert "DCGM_FI_DEV_GPU_UTIL" in err.value.reason


def test_empty_file(tmp_path):
    (tmp_path / "dcgm-20261116T000000Z.prom").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_dcgm_scrapes(tmp_path / "dcgm-20261116T000000Z.prom")


def test_malformed_sample_line_names_the_line(tmp_path):
    path = tmp_path / "dcgm-20261116T000000Z.prom"
    path.write_text(
        '# TYPE DCGM_FI_DEV_GPU_UTIL gauge\nDCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="h"} 5\nDCGM_FI_DEV_GPU_UTIL{gpu=\n'
    )
    with pytest.raises(InputError) as err:
        read_dcgm_scrapes(path)
    assert err.value.line == 3


def test_mig_instances_are_kept_apart(tmp_path):
    path = tmp_path / "dcgm-20261116T000000Z.prom"
    path.write_text(
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",Hostname="h",GPU_I_ID="1",GPU_I_PROFILE="1g.10gb"} 100\n'
        'DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",Hostname="h",GPU_I_ID="2",GPU_I_PROFILE="1g.10gb"} 200\n'
    )
    df = read_dcgm_scrapes(path)
    assert sorted(df["mig_instance"]) == ["1", "2"]
    assert df["util_pct"].isna().all()  # DCGM reports no utilization for MIG slices


def test_labels_with_escapes():
    labels = parse_labels(r'pod="a\"b",container="c,d",x="e\\f"')
    assert labels == {"pod": 'a"b', "container": "c,d", "x": "e\\f"}


def test_key_prefers_hostname_then_instance():
    assert key_from_labels({"Hostname": "h1", "instance": "10.0.0.1:9400"})[0] == "h1"
    assert key_from_labels({"instance": "10.0.0.1:9400"})[0] == "10.0.0.1"


def test_timestamp_from_name():
    assert timestamp_from_name("dcgm-20261116T000500Z.prom") == pd.Timestamp("2026-11-16 00:05", tz="UTC")
    assert timestamp_from_name("scrape-2026-11-16T00:05:00+01:00.txt") == pd.Timestamp("2026-11-15 23:05", tz="UTC")
    assert timestamp_from_name("metrics.prom") is None


def test_openmetrics_timestamps_are_seconds(tmp_path):
    path = tmp_path / "fleet.om.txt"
    path.write_text(
        "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
        'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",Hostname="h"} 7 1795392000\n'
        'DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",Hostname="h"} 9 1795392300.5\n'
        "# EOF\n"
    )
    df = read_dcgm_scrapes(path)
    assert df["timestamp"].tolist() == [
        pd.Timestamp("2026-11-23 00:00:00", tz="UTC"),
        pd.Timestamp("2026-11-23 00:05:00.500", tz="UTC"),
    ]
