"""Regime changes: binary segmentation, rollouts and what a change lines up with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opskit.analyses.latency.regime_changes import align_changes, binary_segmentation, version_rollouts

T0 = pd.Timestamp("2026-11-23 00:00", tz="UTC")


def test_binary_segmentation_finds_steps_and_nothing_in_noise():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(100), np.ones(60) * 2, np.zeros(80)]) + rng.normal(0, 0.3, 240)
    splits = binary_segmentation(y, min_size=6, penalty=6 * 0.09 * np.log(240))
    assert len(splits) == 2
    assert abs(splits[0] - 100) <= 2 and abs(splits[1] - 160) <= 2
    assert binary_segmentation(rng.normal(0, 0.3, 240), min_size=6, penalty=6 * 0.09 * np.log(240)) == []


def _bucket_versions(shares: list[dict[str, int]]) -> pd.DataFrame:
    """A by_bucket_version table: one 5-minute bucket per item of ``shares`` (version -> requests)."""
    rows = [
        {"start": T0 + i * pd.Timedelta("5min"), "model_version": version, "requests": n}
        for i, counts in enumerate(shares)
        for version, n in counts.items()
    ]
    return pd.DataFrame(rows)


def test_rollout_is_the_first_bucket_with_five_percent_and_majority_the_first_with_half():
    shares = [{"v1": 100}] * 3 + [{"v1": 97, "v2": 3}, {"v1": 90, "v2": 10}, {"v1": 50, "v2": 50}, {"v2": 100}]
    rollouts = version_rollouts(_bucket_versions(shares), pd.Timedelta("5min")).set_index("model_version")
    assert pd.isna(rollouts.loc["v1", "rollout_at"])  # serving from the first bucket: not rolled out here
    assert rollouts.loc["v2", "rollout_at"] == T0 + 4 * pd.Timedelta("5min")  # 3 % is not yet a rollout
    assert rollouts.loc["v2", "majority_at"] == T0 + 5 * pd.Timedelta("5min")
    assert rollouts.loc["v2", "peak_share"] == 1.0


def test_changes_line_up_with_a_rollout_a_load_increase_and_its_end():
    step = pd.Timedelta("5min")
    changes = pd.DataFrame(
        {
            "at": [T0 + pd.Timedelta(hours=h) for h in (2, 10, 11.5, 20)],
            "before_p95_ms": [200.0, 200.0, 900.0, 200.0],
            "after_p95_ms": [600.0, 900.0, 200.0, 300.0],
            "ratio": [3.0, 4.5, 0.22, 1.5],
            "direction": ["slower", "slower", "faster", "slower"],
        }
    )
    rollouts = pd.DataFrame(
        {
            "model_version": ["v2"],
            "rollout_at": [T0 + pd.Timedelta(hours=2, minutes=10)],
            "majority_at": [T0 + pd.Timedelta(hours=2, minutes=40)],
            "peak_share": [1.0],
        }
    )
    spikes = pd.DataFrame(
        {"start": [T0 + pd.Timedelta(hours=10)], "end": [T0 + pd.Timedelta(hours=11.5)], "peak_ratio": [3.0]}
    )
    aligned = align_changes(changes, rollouts, spikes, step)
    assert aligned["cause_kind"].tolist() == ["model rollout", "load increase", "load decrease", ""]
    assert "rollout of v2" in aligned["lines_up_with"].iloc[0]
    assert aligned["lines_up_with"].iloc[3] == ""
    assert "cause_kind" not in changes  # the input is left as it was
