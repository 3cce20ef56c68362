"""Slow requests: latency breakdown, cold starts, pathological inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.latency.slow_requests import latency_breakdown

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")


def test_breakdown_shares_add_up_and_other_is_the_rest():
    frame = pd.DataFrame({"latency_ms": [100.0, 1000.0], "queue_ms": [10.0, 700.0], "gpu_ms": [60.0, 200.0]})
    table = latency_breakdown(frame, np.array([False, True])).set_index("component")
    assert table["share_all"].sum() == pytest.approx(1.0)
    assert table.loc["queue", "share_slow"] == pytest.approx(0.7)
    assert table.loc["other", "mean_all_ms"] == pytest.approx(65.0)
