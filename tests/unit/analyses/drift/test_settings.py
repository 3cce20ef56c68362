"""DriftSettings: the run's parameters as one frozen value, normalised, and what each stage reads from it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.profile import build_profile
from opskit.analyses.drift.settings import DEFAULT_COMPANIONS, UNTIMED_CHUNKS, DriftSettings


def test_parameters_are_normalised_and_frozen():
    thresholds = {"psi": 0.3}
    s = DriftSettings(companions=["ks"], exclude=["id"], thresholds=thresholds, column_types={"zip": "categorical"})
    assert s.companions == ("ks",) and s.exclude == ("id",)
    thresholds["psi"] = 9.0  # the caller's dict is copied, and the copy is read-only
    assert s.thresholds["psi"] == 0.3
    with pytest.raises(TypeError):
        s.thresholds["psi"] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.method = "ks"
    assert DriftSettings(companions=None, exclude="id").companions == () == DriftSettings(companions=()).companions
    assert DriftSettings(exclude="id").exclude == ("id",)
    assert DriftSettings().companions == DEFAULT_COMPANIONS and DriftSettings(window=6).window == "6"


def test_roles_and_windows():
    s = DriftSettings(target="label", prediction="score", timestamp="ts", exclude=("id",))
    assert s.not_compared == ("label", "ts", "id") and s.judges_accuracy
    assert not DriftSettings(prediction="score").judges_accuracy
    assert s.windows_for("ts") == "week" and s.windows_for(None) == str(UNTIMED_CHUNKS)
    chunks = DriftSettings(window=" 3")
    assert chunks.window_is_chunks and chunks.windows_for(None) == " 3"


def test_profile_and_comparison_follow_the_settings():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=500), "label": rng.integers(0, 2, 500), "id": np.arange(500)})
    settings = DriftSettings(target="label", exclude=("id",), bins=5, companions=())
    profile = build_profile(ref, settings)
    assert set(profile.features) == {"x"} and profile.bins == 5 and profile.features["x"].n_bins == 5
    result = analyze_drift(ref, ref.assign(x=ref["x"] + 1), settings)
    assert [f.name for f in result.features] == ["x"] and not result.features[0].companions
