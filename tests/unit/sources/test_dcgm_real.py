"""The DCGM reader on real dcgm-exporter output (tests/fixtures/real/dcgm/, values checked by hand)."""

from pathlib import Path

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
