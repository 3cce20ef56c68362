"""Windows, PSI trend, accuracy per window with a bootstrap interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.accuracy import accuracy_by_window, correct_predictions
from opskit.analyses.drift.profile import build_profile
from opskit.analyses.drift.windows import psi_trend, split_windows, trend_verdicts
from opskit.checks import Status
from opskit.errors import InputError


def test_weeks_run_monday_to_sunday_and_chunks_split_evenly():
    ts = pd.date_range("2026-10-05", periods=21, freq="D", tz="UTC")  # Monday 5 Oct, three weeks
    frame = pd.DataFrame({"ts": ts[::-1], "x": range(21)})
    weeks = split_windows(frame, timestamp="ts", window="week")
    assert [w[0] for w in weeks] == ["2026-10-05", "2026-10-12", "2026-10-19"]
    assert [len(w[2]) for w in weeks] == [7, 7, 7]
    chunks = split_windows(frame, window=4)
    assert [len(c[2]) for c in chunks] == [6, 5, 5, 5]
    with pytest.raises(InputError):
        split_windows(frame, window="week")
    with pytest.raises(InputError):
        split_windows(frame, timestamp="ts", window="fortnight")


def test_trend_flags_a_rising_feature_only():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"slow": rng.normal(size=5000), "flat": rng.normal(size=5000)})
    parts = []
    for w in range(6):
        parts.append(pd.DataFrame({"slow": rng.normal(0.15 * w, size=2000), "flat": rng.normal(size=2000), "w": w}))
    cur = pd.concat(parts, ignore_index=True)
    trend = psi_trend(build_profile(ref), cur, window=6)
    assert set(trend["feature"]) == {"slow", "flat"}
    assert len(trend) == 12
    verdicts = trend_verdicts(trend, overall_status={"slow": Status.WARN, "flat": Status.PASS})
    assert [v.subject for v in verdicts] == ["slow"]
    assert trend_verdicts(trend, overall_status={"slow": Status.FAIL}) == []


def test_correct_predictions_from_scores_and_classes():
    frame = pd.DataFrame({"y": [0, 1, 1, 0], "score": [0.2, 0.7, 0.4, 0.5], "cls": ["0", "1", "1", "1"]})
    assert correct_predictions(frame, target="y", prediction="score").tolist() == [True, True, False, False]
    assert correct_predictions(frame, target="y", prediction="cls").tolist() == [True, True, True, False]
    with pytest.raises(InputError) as info:
        correct_predictions(frame, target="label", prediction="score")
    assert info.value.column == "label"


def _window_frame(n, n_correct, day):
    y = np.tile([0, 1], n)[:n]
    pred = np.where(np.arange(n) < n_correct, y, 1 - y)
    return pd.DataFrame({"y": y, "p": pred, "ts": pd.Timestamp(day, tz="UTC")})


def test_small_window_drop_is_a_warning_large_window_drop_a_failure():
    ref = np.r_[np.ones(8500, bool), np.zeros(1500, bool)]  # 85 %
    cur = pd.concat(
        [
            _window_frame(3000, 2550, "2026-10-05"),  # 85 %: unchanged
            _window_frame(12, 8, "2026-10-12"),  # 66.7 % on 12 rows: beyond 5 points, not significant
            _window_frame(3000, 2160, "2026-10-19"),  # 72 % on 3000 rows
        ],
        ignore_index=True,
    )
    result = accuracy_by_window(ref, cur, target="y", prediction="p", timestamp="ts", window="week")
    windows = result.windows.set_index("window")
    assert windows.loc["2026-10-05", "status"] == "PASS"
    small = windows.loc["2026-10-12"]
    assert small["rows"] == 12
    assert small["change"] == pytest.approx(8 / 12 - 0.85)
    assert small["status"] == "WARN"
    assert small["ci_low"] < 0 < small["ci_high"]
    assert windows.loc["2026-10-19", "status"] == "FAIL"
    assert windows.loc["2026-10-19", "ci_high"] < 0
    assert result.windows.iloc[-1]["window"] == "all"
    verdicts = result.verdicts()
    assert any(v.status == Status.FAIL and v.subject == "window 2026-10-19" for v in verdicts)
    assert all(v.unit == "pp" for v in verdicts)


def test_trend_from_chunks_equals_trend_in_memory():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000)})
    ts = pd.Timestamp("2026-10-05", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 21 * 86400, 6000)), unit="s")
    cur = pd.DataFrame({"ts": ts, "x": rng.normal(0.2, size=6000), "c": rng.choice(["a", "b", "z"], 6000)})
    profile = build_profile(ref)
    whole = psi_trend(profile, cur, timestamp="ts", window="week")
    chunked = psi_trend(profile, (cur.iloc[i : i + 1000] for i in range(0, 6000, 1000)), timestamp="ts", window="week")
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), chunked.reset_index(drop=True), check_dtype=False)
    assert list(whole["window"].unique()) == ["2026-10-05", "2026-10-12", "2026-10-19"]
    with pytest.raises(InputError):
        psi_trend(profile, iter([cur]), timestamp="ts", window=3)
