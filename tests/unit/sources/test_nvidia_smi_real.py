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


@pytest.mark.parametrize(
    ("name", "what", "extra"),
    [
        ("a800_mig_enabled_table.txt", "the nvidia-smi table", "MIG-enabled GPU reports no utilization"),
        ("a100_mig_devices_table.txt", "the nvidia-smi table", "source_format='dcgm'"),
        ("windows_wddm_query_processes.txt", "nvidia-smi -q", "WDDM driver model"),
        ("windows_dmon_mu.txt", "nvidia-smi dmon or pmon", None),
        ("h200_pmon_idle.txt", "nvidia-smi dmon or pmon", None),
    ],
)
def test_human_outputs_of_nvidia_smi_are_refused_by_name_at_line_1(name, what, extra):
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / name)
    assert info.value.line == 1 and Path(info.value.path).name == name
    assert f": this is {what}" in info.value.message and "not --query-gpu CSV" in info.value.message
    assert info.value.hint.startswith("record with: nvidia-smi --query-gpu=timestamp,")
    if extra:
        assert extra in info.value.message
    else:
        assert "MIG" not in info.value.message and "WDDM" not in info.value.message


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("windows_compute_apps_ollama.csv", "pid"),  # "27220, ollama.exe, 12497" on Windows
        ("h200_compute_apps_not_found.csv", "pid"),  # "GPU-28780eb0-..., 1758887, [Not Found], 58060 MiB"
        ("rtx3090_compute_apps_timestamp.csv", "pid"),  # timestamp first, as the GPU query would be
    ],
)
def test_per_process_compute_apps_output_is_refused_naming_the_field(name, column):
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / name)
    assert (info.value.line, info.value.column) == (1, column)
    assert "--query-compute-apps" in info.value.message and "no GPU utilization" in info.value.message
    assert "--query-gpu=timestamp," in info.value.hint


def test_the_h200_snapshot_without_timestamp_names_the_field_at_its_first_reading():
    # "0, GPU-a44622e3-..., 130013 MiB, 143771 MiB, 100 %": index-first with units, no timestamp
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / "h200_index_uuid_memory_util.csv")
    assert (info.value.line, info.value.column) == (2, "timestamp") and "['timestamp']" in info.value.message


def test_the_h200_snapshot_reads_once_a_timestamp_is_put_first(tmp_path):
    lines = (REAL / "h200_index_uuid_memory_util.csv").read_text().splitlines()
    stamped = [f"timestamp, {lines[0]}"] + [f"2026/06/22 00:11:49.000, {line}" for line in lines[1:]]
    (tmp_path / "dsw.csv").write_text("\n".join(stamped) + "\n")
    frame = read_nvidia_smi_csv(tmp_path / "dsw.csv", timezone="Asia/Shanghai")
    last = frame[frame["gpu"] == 7].iloc[0]
    # "7, GPU-28780eb0-24d5-1f13-59b8-ae5c23617a72, 58071 MiB, 143771 MiB, 0 %"
    assert (last["uuid"], last["mem_used_mib"], last["mem_total_mib"], last["util_pct"]) == (
        "GPU-28780eb0-24d5-1f13-59b8-ae5c23617a72",
        58071.0,
        143771.0,
        0.0,
    )
    assert frame["util_pct"].tolist() == [100.0] * 7 + [0.0]
    assert str(last["timestamp"]) == "2026-06-21 16:11:49+00:00"  # 00:11:49 at +08:00


def test_a_mig_mode_only_query_is_read_as_a_header_and_names_the_missing_fields(tmp_path):
    # nvtop pull request #470 on an A100: "mig.mode.current" then "Disabled" per GPU
    (tmp_path / "a100.csv").write_text("mig.mode.current\nDisabled\nDisabled\n")
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(tmp_path / "a100.csv")
    assert (info.value.line, info.value.column) == (2, "timestamp")
    assert "['timestamp', 'index', 'utilization.gpu', 'memory.used', 'memory.total']" in info.value.message


def test_the_headerless_mig_mode_inventory_reads_with_its_fields_but_lacks_utilization():
    # "4, NVIDIA RTX PRO 6000 Blackwell Server Edition, GPU-4c395b7a-..., 610.43.02, 97887 MiB, Disabled"
    name = REAL / "rtx_pro_6000_mig_mode_noheader.csv"
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(name)
    assert info.value.line == 1 and "found 6" in info.value.message and "fields=" in info.value.hint
    query = ("index", "name", "uuid", "driver_version", "memory.total", "mig.mode.current")
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(name, fields=query)
    assert info.value.column == "timestamp" and "['timestamp', 'utilization.gpu', 'memory.used']" in info.value.message


def test_a_mig_enabled_gpu_reads_utilization_as_unknown_and_keeps_its_mode(tmp_path):
    # the A800 of the MIG table above (GPU 0, 00000000:18:00.0, 87W, 36537MiB / 81920MiB, GPU-Util N/A, MIG
    # Enabled) as --query-gpu writes the same reading
    header = (
        "timestamp, index, pci.bus_id, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W], "
        "mig.mode.current"
    )
    row = "2024/07/09 10:00:00.000, 0, 00000000:18:00.0, [N/A], 36537 MiB, 81920 MiB, 87.00 W, Enabled"
    (tmp_path / "a800.csv").write_text(f"{header}\n{row}\n")
    frame = read_nvidia_smi_csv(tmp_path / "a800.csv")
    first = frame.iloc[0]
    assert first["util_pct"] != first["util_pct"]  # NaN: unknown, never 0 %
    assert (first["mem_used_mib"], first["mem_total_mib"], first["power_w"], first["mig_mode"]) == (
        36537.0,
        81920.0,
        87.0,
        "Enabled",
    )
