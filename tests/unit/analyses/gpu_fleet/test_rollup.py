"""Hourly rollup of GPU samples: duplicates, order, missing readings, interval, engines agree."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.rollup import detect_interval, rollup_hourly, rollup_parquet
from opskit.errors import InputError, MissingDependencyError
from opskit.samples.fleet import gpu_samples as samples


def test_interval_from_samples_per_hour():
    assert detect_interval([12, 12, 11, 12]) == 300
    assert detect_interval([240, 241, 239]) == 15
    assert detect_interval([1, 1]) == 3600
    assert np.isnan(detect_interval([]))


def test_hour_sums_and_means():
    frame = samples(hours=2, util=np.r_[np.full(12, 20.0), np.full(12, 80.0)])
    r = rollup_hourly(frame)
    assert r.interval_s == 300
    assert list(r.frame["rows"]) == [12, 12]
    assert list(r.frame["covered_s"]) == [3600, 3600]
    means = r.frame["util_pct_s"] / r.frame["util_pct_known_s"]
    assert list(means) == [20.0, 80.0]


def test_duplicates_count_once_and_out_of_order_is_counted():
    frame = samples(hours=1, util=40.0)
    shuffled = pd.concat([frame.iloc[6:], frame.iloc[:6], frame.iloc[:3]], ignore_index=True)
    r = rollup_hourly(shuffled)
    assert r.duplicates == 3
    assert r.out_of_order >= 1
    assert r.frame["rows"].sum() == 12
    assert r.frame["covered_s"].sum() == 3600


def test_missing_reading_is_not_zero():
    frame = samples(hours=1, util=60.0)
    frame.loc[:5, "util_pct"] = np.nan
    r = rollup_hourly(frame, interval_s=300)
    row = r.frame.iloc[0]
    assert row["covered_s"] == 3600  # present
    assert row["util_pct_known_s"] == 1800
    assert row["util_pct_s"] / row["util_pct_known_s"] == 60.0


def test_rows_split_by_job_within_an_hour():
    frame = samples(hours=1, util=50.0, job="a")
    frame.loc[6:, "job"] = "b"
    r = rollup_hourly(frame)
    assert sorted(r.frame["job"]) == ["a", "b"]
    assert r.frame["covered_s"].sum() == 3600


def test_missing_column_names_expected_and_found():
    with pytest.raises(InputError) as err:
        rollup_hourly(samples(hours=1).drop(columns=["util_pct"]))
    assert err.value.column == "util_pct"
    assert "found" in err.value.message


def test_empty_frame_is_an_input_error():
    with pytest.raises(InputError):
        rollup_hourly(samples(hours=1).head(0))


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_parquet_engines_agree_with_frame(tmp_path, engine):
    pytest.importorskip("duckdb") if engine == "duckdb" else None
    frame = pd.concat(
        [
            samples("n1", 0, hours=30, util=np.linspace(0, 100, 360), sm=30.0, job="j1"),
            samples("n1", 1, hours=30, util=20.0, job=None),
            samples("n2", 0, hours=30, util=90.0, model="NVIDIA L4", job="j2"),
        ],
        ignore_index=True,
    )
    frame.loc[5, "power_w"] = np.nan
    path = tmp_path / "s.parquet"
    with_dups = pd.concat([frame, frame.iloc[:10]], ignore_index=True)
    with_dups.to_parquet(path)
    expected = rollup_hourly(with_dups)
    got = rollup_parquet(path, engine=engine, batch_rows=10_000)
    assert got.engine == engine
    assert got.duplicates == expected.duplicates == 10
    assert got.interval_s == expected.interval_s
    cols = [c for c in expected.frame.columns if c in got.frame.columns]
    pd.testing.assert_frame_equal(got.frame[cols], expected.frame[cols], check_dtype=False)


def test_parquet_missing_file_and_not_parquet(tmp_path):
    with pytest.raises(InputError) as err:
        rollup_parquet(tmp_path / "nope.parquet")
    assert err.value.path.endswith("nope.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_text("timestamp,host\n")
    with pytest.raises(InputError) as err:
        rollup_parquet(bad)
    assert err.value.path == str(bad)


def test_auto_engine_falls_back_to_pandas_without_duckdb(tmp_path, monkeypatch):
    path = tmp_path / "s.parquet"
    samples(hours=3, util=30.0).to_parquet(path)
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb now raises ImportError
    r = rollup_parquet(path)
    assert r.engine == "pandas" and r.frame["covered_s"].sum() == 3 * 3600
    with pytest.raises(MissingDependencyError) as err:
        rollup_parquet(path, engine="duckdb")
    assert err.value.extra == "fast"
