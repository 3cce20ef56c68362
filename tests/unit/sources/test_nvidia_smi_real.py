"""The nvidia-smi reader on real captures (tests/fixtures/real/nvidia_smi/) and on time-zone mistakes."""

from pathlib import Path

import pytest

from opskit.errors import InputError
from opskit.sources.gpu_samples import detect_format
from opskit.sources.nvidia_smi import read_nvidia_smi_csv

REAL = Path(__file__).parents[2] / "fixtures" / "real" / "nvidia_smi"
HEAD = "timestamp, index, utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n"


def test_a_capture_without_the_index_field_names_it_and_the_command():
    with pytest.raises(InputError) as info:
        read_nvidia_smi_csv(REAL / "a100_omniopt_with_header.csv")
    assert info.value.column == "index" and "--query-gpu=" in info.value.hint


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
