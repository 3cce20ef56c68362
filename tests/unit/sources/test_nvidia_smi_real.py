"""The nvidia-smi reader on real captures (tests/fixtures/real/nvidia_smi/) and on time-zone mistakes."""

from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources.gpu_samples import detect_format
from opskit.sources.nvidia_smi import read_nvidia_smi_csv

REAL = Path(__file__).parents[2] / "fixtures" / "real" / "nvidia_smi"
HEAD = "timestamp, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n"


def test_a_capture_without_the_index_field_numbers_gpus_by_bus_id_and_says_so():
    frame = read_nvidia_smi_csv(REAL / "a100_omniopt_with_header.csv")
    by_bus = frame.groupby("pci_bus_id")["gpu"].first().to_dict()
    assert by_bus == {"00000000:0B:00.0": 0, "00000000:3B:00.0": 1, "00000000:8B:00.0": 2}
    assert frame.attrs["gpu_index_from"].startswith("pci.bus_id order")
    # "2024/06/01 11:27:05.177, NVIDIA A100-SXM4-40GB, 00000000:3B:00.0, 545.23.08, P0, 4, 4, 44, 0 %, 0 %, 40960 MiB,
    #  40333 MiB, 4 MiB": the first line is GPU 1 at 11:27:05.177 UTC with 4 MiB used of 40960
    first = frame.sort_values("timestamp").iloc[0]
    assert (first["gpu"], first["mem_used_mib"], first["mem_total_mib"]) == (1, 4.0, 40960.0)
    assert str(first["timestamp"]) == "2024-06-01 11:27:05.177000+00:00"


def test_a_capture_with_index_does_not_say_it_was_inferred(tmp_path):
    (tmp_path / "n1.csv").write_text(HEAD + "2026/11/23 10:00:00.000, 3, 50 %, 1000 MiB, 20000 MiB\n")
    frame = read_nvidia_smi_csv(tmp_path / "n1.csv")
    assert frame["gpu"].tolist() == [3] and "gpu_index_from" not in frame.attrs


def test_the_headerless_capture_is_recognised_and_refused_with_the_order_it_expects():
    assert detect_format(REAL / "a100_omniopt_noheader.csv") == "nvidia-smi"
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / "a100_omniopt_noheader.csv")
    assert info.value.line == 1 and "found 13" in info.value.message
    assert "header line first" in info.value.hint


def test_the_capture_reads_once_index_is_added(tmp_path):
    lines = (REAL / "a100_omniopt_with_header.csv").read_text().splitlines()
    buses = {"00000000:0B:00.0": 0, "00000000:3B:00.0": 1, "00000000:8B:00.0": 2}
    out = [lines[0] + ", index"] + [line + f", {buses[line.split(', ')[2]]}" for line in lines[1:]]
    (tmp_path / "node.csv").write_text("\n".join(out) + "\n")
    frame = read_nvidia_smi_csv(tmp_path / "node.csv")
    last = frame[frame["timestamp"] == frame["timestamp"].max()].iloc[0]
    # "2024/06/01 11:27:25.376, ... 00000000:3B:00.0, ... 1 %, 0 %, 40960 MiB, 910 MiB, 39427 MiB"
    assert (last["gpu"], last["util_pct"], last["mem_used_mib"], last["mem_total_mib"]) == (1, 1.0, 39427.0, 40960.0)
    assert frame["model"].unique().tolist() == ["NVIDIA A100-SXM4-40GB"] and len(frame) == 8


def test_mixed_zoned_and_naive_timestamps_name_both_lines(tmp_path):
    csv = tmp_path / "n1.csv"
    csv.write_text(
        HEAD + "2026-11-23T10:00:00+01:00, 0, 50 %, 1000 MiB, 20000 MiB\n"
        "2026-11-23 10:00:10, 0, 50 %, 1000 MiB, 20000 MiB\n"
    )
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(csv)
    assert info.value.line == 3 and info.value.column == "timestamp"
    assert "line 2" in info.value.message and "timezone" in info.value.hint


def test_offsets_that_change_at_a_dst_switch_are_each_converted(tmp_path):
    csv = tmp_path / "n1.csv"
    csv.write_text(
        HEAD + "2026-10-25T02:59:50+02:00, 0, 50 %, 1000 MiB, 20000 MiB\n"
        "2026-10-25T02:00:05+01:00, 0, 50 %, 1000 MiB, 20000 MiB\n"
    )
    stamps = read_nvidia_smi_csv(csv)["timestamp"].astype(str).tolist()
    assert stamps == ["2026-10-25 00:59:50+00:00", "2026-10-25 01:00:05+00:00"]


def test_local_time_captures_are_moved_by_timezone(tmp_path):
    csv = tmp_path / "n1.csv"
    csv.write_text(HEAD + "2026/11/23 10:00:00.000, 0, 50 %, 1000 MiB, 20000 MiB\n")
    assert (
        str(read_nvidia_smi_csv(csv, timezone="America/New_York")["timestamp"].iloc[0]) == "2026-11-23 15:00:00+00:00"
    )


@pytest.mark.parametrize("name", ["t4_index_first_snapshot.csv", "rtx3090_index_first_snapshot.csv"])
def test_a_one_off_snapshot_without_timestamps_names_the_missing_field(name):
    assert detect_format(REAL / name) == "nvidia-smi"
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / name)
    assert info.value.column == "timestamp" and "timestamp" in info.value.hint and info.value.line == 2


def test_a_name_first_query_without_timestamp_and_index_names_both_and_the_command():
    # bpytop issue #26: name, fan.speed [%], memory.total [MiB], ... for a GTX 1080 Ti and a GTX 1060 6GB
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / "gtx1080ti_1060_name_first_no_timestamp.csv")
    assert info.value.line == 2 and info.value.column == "timestamp"
    assert "['timestamp', 'index']" in info.value.message and "--query-gpu=timestamp," in info.value.hint


def test_a_column_aligned_table_is_refused_at_line_1_not_misread():
    # `nvidia-smi --format=csv ... | column -s, -t`: spaces instead of commas
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / "gtx1080_column_aligned.txt")
    assert info.value.line == 1 and "found 1" in info.value.message and "header line first" in info.value.hint


def test_an_index_first_headerless_capture_with_not_supported_names_the_field_count():
    # "2, GPU-50205d95-..., GeForce GTX TITAN X, 71, [Not Supported], 8520, 12287": 7 fields, no header
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / "titanx_noheader_not_supported.csv")
    assert info.value.line == 1 and "found 7" in info.value.message


def test_a_windows_crlf_capture_with_not_supported_power_reads(tmp_path):
    # the A100 capture's first reading, saved with CRLF line ends and power.draw [Not Supported]
    header = (
        "timestamp, name, pci.bus_id, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W]"
    )
    row = "2024/06/01 11:27:05.177, NVIDIA A100-SXM4-40GB, 00000000:3B:00.0, 1, 0 %, 4 MiB, 40960 MiB, [Not Supported]"
    (tmp_path / "node.csv").write_bytes((header + "\r\n" + row + "\r\n").encode())
    frame = read_nvidia_smi_csv(tmp_path / "node.csv")
    assert (frame["gpu"].iloc[0], frame["mem_total_mib"].iloc[0]) == (1, 40960.0)
    assert frame["power_w"].isna().all() and str(frame["timestamp"].iloc[0]) == "2024-06-01 11:27:05.177000+00:00"


@pytest.mark.parametrize(
    ("name", "lacks"),
    [
        ("a10g_name_bus_snapshot.csv", "['timestamp', 'utilization.gpu']"),
        ("gb10_unified_memory_na.csv", "['timestamp', 'index']"),
        ("two_gpus_index_memory.csv", "['timestamp', 'utilization.gpu']"),
    ],
)
def test_one_off_queries_name_every_missing_field_at_the_first_reading(name, lacks):
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / name)
    assert info.value.line == 2 and info.value.column == "timestamp" and lacks in info.value.message


def test_unified_memory_na_reads_as_unknown_not_zero(tmp_path):
    # the GB10 reading ("NVIDIA GB10, 51, 12.98 W, [N/A], [N/A], 5 %, 0 %") with a timestamp and an index put first
    lines = (REAL / "gb10_unified_memory_na.csv").read_text().splitlines()
    (tmp_path / "spark.csv").write_text(f"timestamp, index, {lines[0]}\n2026/11/23 10:00:00.000, 0, {lines[1]}\n")
    frame = read_nvidia_smi_csv(tmp_path / "spark.csv")
    assert frame["mem_used_mib"].isna().all() and frame["mem_total_mib"].isna().all()
    assert (frame["util_pct"].iloc[0], frame["power_w"].iloc[0], frame["gpu"].iloc[0]) == (5.0, 12.98, 0)
