import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.gpu_tables import read_gpu_table


def _export(n=3):
    return pd.DataFrame(
        {
            "ts": pd.date_range("2026-11-16", periods=n, freq="15s").astype(str),
            "node": "n1",
            "idx": 0,
            "gpu_uuid": "GPU-a",
            "product": "NVIDIA L4",
            "gpu_util": [10.0, 20.0, 30.0][:n],
            "fb_used": 100.0,
            "fb_total": 23034.0,
            "watts": 30.0,
            "irrelevant": "x",
        }
    )


MAPPING = {
    "ts": "timestamp",
    "node": "host",
    "idx": "gpu",
    "gpu_uuid": "uuid",
    "product": "model",
    "gpu_util": "util_pct",
    "fb_used": "mem_used_mib",
    "fb_total": "mem_total_mib",
    "watts": "power_w",
}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_mapping_renames_and_reads_only_frame_columns(tmp_path, suffix):
    path = tmp_path / f"export{suffix}"
    df = _export()
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path, index=False)
    out = read_gpu_table(path, columns=MAPPING)
    assert "irrelevant" not in out.columns
    assert out["util_pct"].tolist() == [10.0, 20.0, 30.0]
    assert str(out["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert out["gpu"].dtype == "int64"


def test_missing_columns_name_expected_and_found(tmp_path):
    path = tmp_path / "export.parquet"
    _export().to_parquet(path, index=False)
    with pytest.raises(InputError) as err:
        read_gpu_table(path)
    assert err.value.column == "timestamp"
    assert "gpu_util" in err.value.reason  # the found columns are listed


def test_mapping_of_absent_column(tmp_path):
    path = tmp_path / "export.parquet"
    _export().to_parquet(path, index=False)
    with pytest.raises(InputError) as err:
        read_gpu_table(path, columns={**MAPPING, "nope": "team"})
    assert err.value.column == "nope"


def test_epoch_seconds_and_a_host_for_single_node_tables(tmp_path):
    df = _export().drop(columns=["node"])
    df["ts"] = [1794816000, 1794816015, 1794816030]
    path = tmp_path / "export.parquet"
    df.to_parquet(path, index=False)
    out = read_gpu_table(path, columns={k: v for k, v in MAPPING.items() if k != "node"}, host="solo")
    assert out["timestamp"].iloc[0] == pd.Timestamp("2026-11-16 08:00", tz="UTC")
    assert set(out["host"]) == {"solo"}


def test_two_columns_onto_one(tmp_path):
    df = _export()
    df["host"] = "other"
    path = tmp_path / "export.parquet"
    df.to_parquet(path, index=False)
    with pytest.raises(InputError) as err:
        read_gpu_table(path, columns=MAPPING)
    assert err.value.column == "host"


def test_empty_table(tmp_path):
    path = tmp_path / "export.parquet"
    _export().iloc[:0].to_parquet(path, index=False)
    with pytest.raises(InputError, match="no GPU samples"):
        read_gpu_table(path, columns=MAPPING)


def test_infinite_utilization_is_refused_naming_the_column(tmp_path):
    import pytest

    from opskit.errors import InputError
    from opskit.sources.gpu_tables import read_gpu_table

    table = tmp_path / "long.csv"
    table.write_text(
        "timestamp,host,gpu,uuid,model,util_pct,mem_used_mib,mem_total_mib,power_w\n"
        "2026-11-23T00:00:00Z,n1,0,GPU-a,NVIDIA L4,50,1,2,30\n"
        "2026-11-23T00:05:00Z,n1,0,GPU-a,NVIDIA L4,-inf,1,2,30\n"
    )
    with pytest.raises(InputError) as info:
        read_gpu_table(table)
    assert info.value.column == "util_pct" and "-inf in data row 2" in info.value.message
