"""One entry for GPU samples: the format detected from the source, and the reader it names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.samples import fleet
from opskit.sources.gpu_samples import FORMATS, detect_format, read_gpu_samples

SMI_HEADER = "timestamp, name, index, utilization.gpu [%], memory.used [MiB]\n"
SMI_FULL = (
    "timestamp, name, pci.bus_id, index, uuid, utilization.gpu [%], memory.used [MiB], memory.total [MiB], "
    "power.draw [W]\n"
    "2026/11/23 00:00:05.000, NVIDIA H100 80GB HBM3, 00000000:18:00.0, 0, GPU-1, 42 %, 1000 MiB, 81559 MiB, "
    "300.00 W\n"
)


def test_detect_format(tmp_path):
    assert detect_format("http://prom:9090") == "prometheus"
    assert detect_format(str(tmp_path / "x.parquet")) == "parquet"
    assert detect_format(str(tmp_path / "node.prom.gz")) == "dcgm"
    smi = tmp_path / "node-1.csv"
    smi.write_text(SMI_HEADER)
    table = tmp_path / "table.csv"
    table.write_text("time,node,gpu,util\n")
    assert detect_format(str(smi)) == "nvidia-smi"
    assert detect_format(str(table)) == "table"
    folder = tmp_path / "smi"
    folder.mkdir()
    (folder / "a.csv").write_text(smi.read_text())
    assert detect_format(str(folder)) == "nvidia-smi"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as err:
        detect_format(str(empty))
    assert err.value.path == str(empty)


def test_detect_format_takes_paths_too(tmp_path):
    assert detect_format(tmp_path / "fleet.pq") == "parquet"
    assert detect_format(tmp_path / "scrape.metrics") == "dcgm"
    assert detect_format(tmp_path / "missing.csv") == "table"


def test_an_nvidia_smi_file_is_read_by_its_reader(tmp_path):
    smi = tmp_path / "node-1.csv"
    smi.write_text(SMI_FULL)
    frame = read_gpu_samples(smi)
    assert list(frame["host"]) == ["node-1"] and list(frame["util_pct"]) == [42.0]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-11-23 00:00:05", tz="UTC")
    assert read_gpu_samples(smi, "nvidia-smi").equals(frame)


def test_a_long_table_is_read_with_its_column_mapping(tmp_path):
    samples = fleet.gpu_samples("a", 0, start="2026-11-23", hours=1, util=50.0)
    table = tmp_path / "export.csv"
    samples.rename(columns={"host": "node", "util_pct": "gpu_util"}).to_csv(table, index=False)
    frame = read_gpu_samples(table, columns={"node": "host", "gpu_util": "util_pct"})
    assert len(frame) == len(samples) and set(frame["util_pct"]) == {50.0} and set(frame["host"]) == {"a"}
    samples.to_parquet(tmp_path / "export.parquet")
    again = read_gpu_samples(tmp_path / "export.parquet")
    assert len(again) == len(samples) and set(again["util_pct"]) == {50.0}


def test_unknown_format_names_the_known_ones(tmp_path):
    with pytest.raises(InputError) as err:
        read_gpu_samples(tmp_path / "x.csv", "excel")
    assert err.value.column == "format" and all(f in err.value.hint for f in FORMATS)


def test_prometheus_needs_a_range():
    with pytest.raises(InputError) as err:
        read_gpu_samples("http://prom:9090", end="2026-11-30")
    assert err.value.column == "start"


def test_headerless_nvidia_smi_csv_is_told_by_its_cells(tmp_path):
    from opskit.sources.gpu_samples import detect_format as detect

    csv = tmp_path / "node1.csv"
    csv.write_text(
        "2026/11/23 10:00:00.123, NVIDIA L4, 00000000:01:00.0, 0, GPU-a, 37 %, 1000 MiB, 23034 MiB, 40.1 W\n"
    )
    assert detect(csv) == "nvidia-smi"


def test_unknown_timezone_names_the_parameter(tmp_path):
    import pytest

    from opskit.errors import InputError
    from opskit.sources.gpu_samples import read_gpu_samples as read

    with pytest.raises(InputError) as info:
        read(tmp_path / "x.csv", "nvidia-smi", timezone="Mars/Olympus")
    assert info.value.column == "timezone"


REAL_SMI = Path(__file__).resolve().parents[2] / "fixtures" / "real" / "nvidia_smi"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("a800_mig_enabled_table.txt", "the nvidia-smi table"),
        ("windows_wddm_query_processes.txt", "nvidia-smi -q"),
        ("h200_pmon_idle.txt", "dmon or pmon"),
        ("gtx1080_column_aligned.txt", "comma-separated"),
    ],
)
def test_a_txt_capture_of_nvidia_smi_is_judged_by_its_content_not_read_as_a_scrape(name, says):
    assert detect_format(REAL_SMI / name) == "nvidia-smi"
    with pytest.raises(InputError, match=says):
        read_gpu_samples(REAL_SMI / name)


def test_a_txt_scrape_is_still_a_dcgm_scrape(tmp_path):
    scrape = tmp_path / "node1_20261116T000500Z.txt"
    scrape.write_text(
        '# TYPE DCGM_FI_DEV_GPU_UTIL gauge\nDCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",Hostname="n1"} 40\n'
    )
    assert detect_format(scrape) == "dcgm"
