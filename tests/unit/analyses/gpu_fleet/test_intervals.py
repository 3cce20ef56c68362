"""The sampling interval comes from the timestamps when no hour was recorded in full."""

import pandas as pd
import pytest

from opskit.analyses.gpu_fleet.recommendations import RecommendationSettings
from opskit.analyses.gpu_fleet.rollup import interval_from_timestamps, rollup_hourly
from opskit.errors import InputError


def _samples(n, step_s, start="2026-11-23 10:00:00"):
    ts = pd.date_range(start, periods=n, freq=f"{step_s}s", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": ts,
            "host": "n1",
            "gpu": 0,
            "uuid": "GPU-a",
            "model": "NVIDIA L4",
            "util_pct": 50.0,
            "mem_used_mib": 1000.0,
            "mem_total_mib": 23034.0,
            "power_w": 40.0,
        }
    )


def test_seventeen_samples_five_seconds_apart_are_five_seconds_each():
    frame = _samples(17, 5)
    assert interval_from_timestamps(frame) == 5.0
    assert rollup_hourly(frame).interval_s == 5.0


def test_a_full_day_keeps_the_per_hour_count():
    assert rollup_hourly(_samples(24 * 12, 300)).interval_s == 300.0


def test_invalid_serving_pattern_names_the_parameter():
    with pytest.raises(InputError) as info:
        RecommendationSettings(serving_pattern="serv(")
    assert info.value.column == "serving_pattern" and "serving_pattern=" in info.value.hint


def test_mig_instances_keep_their_pods_and_the_gpu_its_hours():
    day = _samples(24 * 12, 300)
    a = day.assign(mig_instance="1", pod="serve-a", namespace="ns")
    b = day.assign(mig_instance="2", pod="train-b", namespace="ns", util_pct=float("nan"))
    rollup = rollup_hourly(pd.concat([a, b], ignore_index=True))
    assert rollup.interval_s == 300.0 and rollup.duplicates == 0
    hours = rollup.frame.groupby("pod")["covered_s"].sum() / 3600.0
    assert hours.to_dict() == {"serve-a": 12.0, "train-b": 12.0}  # 24 GPU-hours split by the two instances
