import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.nvidia_smi import host_from_path, read_nvidia_smi_csv


def test_header_units_repeated_header_and_not_available(fixtures):
    df = read_nvidia_smi_csv(fixtures / "gpu" / "gpu-node-01.nvidia-smi.csv")
    assert len(df) == 6  # the repeated header is not a reading
    assert set(df["host"]) == {"gpu-node-01"}
    gpu1 = df[df["gpu"] == 1]
    assert gpu1["power_w"].isna().sum() == 1  # [N/A]
    assert gpu1["util_pct"].isna().sum() == 1  # [Not Supported]
    gpu0 = df[df["gpu"] == 0].reset_index(drop=True)
    assert gpu0["util_pct"].tolist() == [97.0, 95.0, 99.0]
    assert gpu0["mem_total_mib"].iloc[0] == 81559.0
    assert gpu0["timestamp"].iloc[0] == pd.Timestamp("2026-11-16 00:00:05.123", tz="UTC")
    assert gpu0["pci_bus_id"].iloc[0] == "00000000:18:00.0"
    assert gpu0["model"].iloc[0] == "NVIDIA H100 80GB HBM3"


def test_noheader_nounits_with_host_and_local_time(fixtures):
    df = read_nvidia_smi_csv(
        fixtures / "gpu" / "nvidia_smi_noheader_nounits.csv", host="a100-3", timezone="Europe/Berlin"
    )
    assert set(df["host"]) == {"a100-3"}
    assert df["timestamp"].iloc[0] == pd.Timestamp("2026-11-16 08:00:00.010", tz="UTC")
    assert df["util_pct"].tolist()[:2] == [42.0, 44.0] and pd.isna(df["util_pct"].iloc[2])
    assert df["power_w"].iloc[1] == pytest.approx(182.10)


def test_missing_query_field_names_expected_and_found(fixtures):
    with pytest.raises(InputError) as err:
        read_nvidia_smi_csv(fixtures / "gpu" / "nvidia_smi_missing_column.csv")
    assert err.value.column == "memory.total"
    assert "memory.total" in err.value.reason and "found" in err.value.reason
    assert err.value.hint and "--query-gpu" in err.value.hint


def test_bad_value_names_line_and_column(fixtures):
    with pytest.raises(InputError) as err:
        read_nvidia_smi_csv(fixtures / "gpu" / "nvidia_smi_bad_value.csv")
    assert err.value.line == 3
    assert err.value.column == "util_pct"


def test_empty_file(fixtures):
    with pytest.raises(InputError) as err:
        read_nvidia_smi_csv(fixtures / "gpu" / "nvidia_smi_empty.csv")
    assert err.value.path.endswith("nvidia_smi_empty.csv")


def test_line_cut_short_at_the_end_is_skipped_and_counted(fixtures):
    df = read_nvidia_smi_csv(fixtures / "gpu" / "nvidia_smi_truncated_tail.csv")
    assert len(df) == 1
    assert df.attrs["skipped_lines"] == 1


def test_short_line_in_the_middle_is_an_error(tmp_path, fixtures):
    text = (fixtures / "gpu" / "nvidia_smi_bad_value.csv").read_text().splitlines()
    bad = tmp_path / "n.csv"
    bad.write_text("\n".join([text[0], "2026/11/16 00:00:05.123, NVIDIA L4, 0", text[1]]) + "\n")
    with pytest.raises(InputError) as err:
        read_nvidia_smi_csv(bad)
    assert err.value.line == 2


def test_folder_reads_every_host(tmp_path, fixtures):
    for host in ("node-a", "node-b"):
        (tmp_path / f"{host}.csv").write_text((fixtures / "gpu" / "gpu-node-01.nvidia-smi.csv").read_text())
    df = read_nvidia_smi_csv(tmp_path)
    assert sorted(df["host"].unique()) == ["node-a", "node-b"]
    assert len(df) == 12


@pytest.mark.parametrize(
    ("name", "host"),
    [("gpu-node-07.csv", "gpu-node-07"), ("gpu-node-07.nvidia-smi.csv", "gpu-node-07"), ("nvidia-smi-n7.csv", "n7")],
)
def test_host_from_file_name(name, host):
    assert host_from_path(name) == host
