"""The reference profile: saved and loaded, hashed, and counted against in one pass or in chunks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from opskit import __version__
from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.profile import build_profile, data_hash
from opskit.runbooks.analyze_drift_inputs import read_profile, write_profile


def _frames(seed=0, n=4000):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n), "flag": rng.random(n) < 0.3})
    cur = pd.DataFrame({"x": rng.normal(0.4, size=n), "c": rng.choice(["a", "b", "z"], n), "flag": rng.random(n) < 0.5})
    return ref, cur


def test_profile_round_trip_gives_the_same_psi(tmp_path):
    ref, cur = _frames()
    profile = build_profile(ref, source="ref.parquet")
    path = write_profile(profile, tmp_path / "profile.json")
    raw = json.loads(path.read_text())
    assert raw["opskit_version"] == __version__
    assert raw["data_hash"] == data_hash(ref)
    assert path.stat().st_size < 100_000
    loaded = read_profile(path)
    assert loaded.features == profile.features
    direct = analyze_drift(ref, cur)
    via_profile = analyze_drift(loaded, cur)
    for name in ("x", "c", "flag"):
        assert via_profile.feature(name).psi == direct.feature(name).psi
    # KS and Wasserstein against the quantile sketch stay close to the raw computation
    ks_raw, ks_sketch = direct.feature("x").companions["ks"], via_profile.feature("x").companions["ks"]
    assert ks_raw.drifted == ks_sketch.drifted
    w_raw = direct.feature("x").companions["wasserstein"].value
    assert via_profile.feature("x").companions["wasserstein"].value == pytest.approx(w_raw, rel=0.05)


def test_data_hash_changes_with_the_data():
    ref, _ = _frames()
    changed = ref.copy()
    changed.loc[5, "x"] += 1e-9
    assert data_hash(ref) == data_hash(ref.copy())
    assert data_hash(ref) != data_hash(changed)


def test_chunked_counts_equal_one_pass_counts():
    ref, cur = _frames(seed=4, n=10_001)
    profile = build_profile(ref)
    one = CurrentCounts(profile)
    one.add(cur)
    chunked = CurrentCounts(profile)
    chunked.add_all(cur.iloc[i : i + 777] for i in range(0, len(cur), 777))
    assert chunked.n_rows == one.n_rows == len(cur)
    for name in ("x", "c", "flag"):
        assert chunked.features[name].counts.tolist() == one.features[name].counts.tolist()


def test_sample_of_current_values_is_bounded():
    ref, cur = _frames(seed=5, n=20_000)
    counted = CurrentCounts(build_profile(ref), keep_values=True, sample_size=1000)
    counted.add_all(cur.iloc[i : i + 3000] for i in range(0, len(cur), 3000))
    values = counted.features["x"].values
    assert values.size == 1000
    assert np.isin(values, cur["x"].to_numpy()).all()
