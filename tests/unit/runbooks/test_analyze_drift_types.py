"""Dates compared as time, constant-then-varying columns and new categories at any cardinality, from files."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opskit.analyses.drift.columns import ColumnType
from opskit.analyses.drift.features import CHECK_FEATURE
from opskit.checks import Status
from opskit.runbooks.analyze_drift import run

N = 5000
BASE = pd.Timestamp("2025-01-01")


def _dated(rng, n, shift_days=0):
    days = rng.integers(0, 365, n) + shift_days
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "signup": [(BASE + pd.Timedelta(days=int(k))).date() for k in days],  # Arrow date32 in Parquet
            "seen_at": (
                BASE + pd.to_timedelta(days, unit="D") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s")
            ).tz_localize("UTC"),
        }
    )


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dated")
    rng = np.random.default_rng(21)
    ref, same, shifted = _dated(rng, N), _dated(rng, N), _dated(rng, N, shift_days=60)
    ref.to_parquet(folder / "ref.parquet", index=False)
    ref.to_csv(folder / "ref.csv", index=False)  # ISO text: 2025-03-04 and 2025-03-04 10:00:00+00:00
    same.to_parquet(folder / "same.parquet", index=False)
    same.to_csv(folder / "same.csv", index=False)
    shifted.to_csv(folder / "shifted.csv", index=False)
    return folder


def _features(result):
    return {v.subject: v for v in result.verdicts if v.name == CHECK_FEATURE}


def _run(reference, current, **parameters):
    return run(reference=str(reference), current=str(current), target=None, prediction=None, timestamp=None,
               **parameters)  # fmt: skip


@pytest.mark.parametrize(
    ("reference", "current"),
    [
        ("ref.parquet", "same.parquet"),
        ("ref.parquet", "same.csv"),
        ("ref.csv", "same.csv"),
        ("ref.csv", "same.parquet"),
    ],
)
def test_dates_from_parquet_and_csv_are_compared_as_time_and_pass_on_the_same_distribution(dated, reference, current):
    assert pq.read_schema(dated / "ref.parquet").field("signup").type == pa.date32()
    result = _run(dated / reference, dated / current)
    rows = _features(result)
    for name in ("signup", "seen_at"):
        assert result.drift.feature(name).kind == ColumnType.DATETIME
        assert rows[name].status == Status.PASS, rows[name]
        assert rows[name].observed < 0.02  # was PSI 3.1 as categories
        assert "compared as time: days since 1970-01-01 UTC" in rows[name].message
    bins = result.bin_table("signup")["bin"].tolist()
    assert bins[0].startswith("[2025-01-01, 2025-") and bins[-1] == "<missing>"


@pytest.mark.parametrize("reference", ["ref.parquet", "ref.csv"])
def test_a_shifted_date_range_is_flagged(dated, reference):
    result = _run(dated / reference, dated / "shifted.csv")
    rows = _features(result)
    assert rows["signup"].status == Status.FAIL and rows["seen_at"].status == Status.FAIL
    assert rows["x"].status == Status.PASS
    assert result.drift.feature("signup").companions["ks"].drifted


def test_date64_and_zoned_timestamps_and_bad_dates(tmp_path):
    rng = np.random.default_rng(3)
    days = rng.integers(0, 200, N)
    ref = pa.table({"d": pa.array([dt.date(2025, 1, 1) + dt.timedelta(days=int(k)) for k in days], pa.date64())})
    pq.write_table(ref, tmp_path / "ref.parquet")
    moved = pd.DataFrame({"d": pd.to_datetime("2025-01-01") + pd.to_timedelta(rng.integers(0, 200, N) + 100, "D")})
    moved["d"] = moved["d"].dt.tz_localize("Asia/Shanghai")
    moved.to_parquet(tmp_path / "cur.parquet", index=False)
    assert _features(_run(tmp_path / "ref.parquet", tmp_path / "cur.parquet"))["d"].status == Status.FAIL
    bad = pd.DataFrame({"d": ["2025-02-01"] * (N - 1) + ["not a date"]})
    bad.to_csv(tmp_path / "bad.csv", index=False)
    row = _features(_run(tmp_path / "ref.parquet", tmp_path / "bad.csv"))["d"]
    assert row.status == Status.ERROR and "'not a date' at row" in row.message


def test_a_column_constant_in_the_reference_but_varying_now_is_flagged(tmp_path):
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"version": np.full(N, 3.0), "x": rng.normal(size=N)})
    cur = pd.DataFrame({"version": np.where(rng.random(N) < 0.2, 4.0, 3.0), "x": rng.normal(size=N)})
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    result = _run(tmp_path / "ref.parquet", tmp_path / "cur.csv")
    row = _features(result)["version"]
    assert row.status == Status.FAIL
    assert "constant in the reference (3)" in row.message
    share = float((cur["version"] != 3.0).mean() * 100)
    assert f"differ from the reference's constant: {int(share * N / 100):,} of {N:,} current rows" in row.message
    assert result.bin_table("version")["bin"].tolist() == ["< 3", "= 3", "> 3", "<missing>"]
    steady = pd.DataFrame({"version": np.where(rng.random(N) < 0.001, 4.0, 3.0), "x": rng.normal(size=N)})
    steady.to_csv(tmp_path / "steady.csv", index=False)
    assert _features(_run(tmp_path / "ref.parquet", tmp_path / "steady.csv"))["version"].status == Status.PASS


def test_new_levels_beyond_max_categories_are_counted_as_new_whatever_the_cardinality(tmp_path):
    rng = np.random.default_rng(5)
    levels = np.array([f"sku-{i:05d}" for i in range(5000)])
    ref = pd.DataFrame({"sku": rng.choice(levels, 60_000)})
    cur = pd.DataFrame({"sku": rng.choice(levels, 30_000)})
    new = rng.random(len(cur)) < 1 / 3
    cur.loc[new, "sku"] = [f"new-{i:05d}" for i in rng.integers(0, 5000, int(new.sum()))]
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_parquet(tmp_path / "cur.parquet", index=False)
    same = pd.DataFrame({"sku": rng.choice(levels, 30_000)})
    same.to_parquet(tmp_path / "same.parquet", index=False)
    profile = tmp_path / "profile.json"
    result = _run(tmp_path / "ref.parquet", tmp_path / "cur.parquet", save_profile=str(profile))
    row = _features(result)["sku"]
    assert row.status == Status.FAIL and row.observed > 0.2  # was PSI 0.008: new levels hidden in <other>
    table = result.bin_table("sku").set_index("bin")
    assert table.loc["<unseen>", "cur_count"] == int(new.sum())
    assert table.loc["<other>", "ref_count"] > 0  # the reference's own tail stays in <other>
    assert "new categories count as <unseen>" in row.message and "unseen categories: 'new-" in row.evidence
    again = _run(profile, tmp_path / "cur.parquet")  # the saved profile remembers the tail
    assert _features(again)["sku"].observed == row.observed
    assert _features(_run(profile, tmp_path / "same.parquet"))["sku"].status == Status.PASS
