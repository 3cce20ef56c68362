"""The sample fleet: seeded, in the GPU-samples frame, with its planted faults where the docs say."""

from __future__ import annotations

import pandas as pd
import pytest

from opskit.samples import fleet


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return fleet.generate_fleet()


def test_same_seed_same_frame(frame):
    pd.testing.assert_frame_equal(frame, fleet.generate_fleet())


def test_frame_shape_and_weeks(frame):
    for column in ["timestamp", "host", "gpu", "uuid", "model", "util_pct", "mem_used_mib", "power_w", "team"]:
        assert column in frame.columns
    assert str(frame["timestamp"].dt.tz) == "UTC"
    weeks = set(frame["timestamp"].dt.isocalendar()["week"].unique())
    assert weeks == {47, 48}
    assert frame.groupby(["host", "gpu"])["uuid"].nunique().eq(1).all()
    assert frame["uuid"].nunique() == 44


def test_planted_faults(frame):
    host, start, end = fleet.STALL
    stalled = frame[(frame["host"] == host) & (frame["timestamp"] >= start) & (frame["timestamp"] < end)]
    assert stalled["util_pct"].min() >= 98 and stalled["sm_active_pct"].max() < 5 and stalled["power_w"].max() < 150
    assert set(stalled["job"]) == {fleet.STALLED_JOB}
    host, start, end = fleet.GAP
    gap = frame[(frame["host"] == host) & (frame["timestamp"] >= start) & (frame["timestamp"] < end)]
    assert gap.empty
    idle = frame[(frame["host"] == fleet.IDLE_HOST) & (frame["timestamp"] >= fleet.IDLE_FROM)]
    assert idle["util_pct"].max() == 0 and idle["job"].isna().all()
    assert frame[frame["team"] == fleet.UNDERUSED_TEAM]["util_pct"].mean() < 30


def test_scenario_writes_samples_without_teams_and_mapping(tmp_path):
    main = fleet.write_fleet_week(tmp_path)
    samples = pd.read_parquet(main)
    assert "team" not in samples.columns and "project" not in samples.columns
    mapping = pd.read_csv(tmp_path / "attribution.csv", dtype=str)
    assert list(mapping.columns) == ["host", "gpu", "namespace", "team", "project"]
    assert set(mapping["team"]) == set(fleet.generate_fleet(days=1)["team"])
