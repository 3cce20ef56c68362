import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.gpu_frame import REQUIRED_COLUMNS, empty_gpu_frame, normalize_gpu_frame, validate_gpu_frame


def _frame(**over):
    data = {
        "timestamp": ["2026-11-16 00:05:00", "2026-11-16 00:00:00"],
        "host": ["n1", "n1"],
        "gpu": ["0", "0"],
        "uuid": ["GPU-a", "GPU-a"],
        "model": ["NVIDIA L4", "NVIDIA L4"],
        "util_pct": ["50", None],
        "mem_used_mib": [100, 200],
        "mem_total_mib": [23034, 23034],
        "power_w": [30.5, 31.0],
    }
    data.update(over)
    return pd.DataFrame(data)


def test_validate_normalises_dtypes_and_sorts_by_time():
    df = validate_gpu_frame(_frame())
    assert list(df.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert df["gpu"].dtype == "int64"
    assert df["util_pct"].dtype == "float64"
    assert df["timestamp"].is_monotonic_increasing
    assert pd.isna(df["util_pct"].iloc[0]) and df["util_pct"].iloc[1] == 50.0


def test_naive_timestamps_are_taken_in_the_given_zone():
    df = normalize_gpu_frame(_frame(), timezone="Europe/Berlin")
    assert df["timestamp"].iloc[0] == pd.Timestamp("2026-11-15 23:00:00", tz="UTC")


def test_missing_columns_name_expected_and_found():
    with pytest.raises(InputError) as err:
        validate_gpu_frame(_frame().drop(columns=["power_w", "uuid"]), "x.parquet")
    assert err.value.path == "x.parquet"
    assert err.value.column == "uuid"
    assert "power_w" in err.value.reason and "found" in err.value.reason


def test_empty_frame_is_an_input_error():
    with pytest.raises(InputError, match="no GPU samples"):
        validate_gpu_frame(empty_gpu_frame(), "empty.parquet")


def test_non_numeric_metric_names_the_column():
    with pytest.raises(InputError) as err:
        validate_gpu_frame(_frame(power_w=["31", "lots"]))
    assert err.value.column == "power_w"


def test_extra_columns_are_kept_after_the_documented_ones():
    df = validate_gpu_frame(_frame(pci_bus_id=["a", "a"], team=["t", "t"]))
    assert list(df.columns)[-2:] == ["team", "pci_bus_id"]
