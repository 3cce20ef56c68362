"""PSI against an independent computation with the bins written out by hand; the method registry."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.methods import (
    METHODS,
    PSI_EPSILON,
    classify_psi,
    get_method,
    psi_from_counts,
    resolve_thresholds,
)
from opskit.analyses.drift.settings import DriftSettings
from opskit.checks import Status
from opskit.errors import ParameterError


def textbook_psi(expected_counts, actual_counts, eps=1e-4):
    """sum((a - e) * ln(a / e)) in plain Python, empty shares replaced by eps."""
    e_total, a_total = sum(expected_counts), sum(actual_counts)
    total = 0.0
    for e_n, a_n in zip(expected_counts, actual_counts, strict=True):
        e = e_n / e_total or eps
        a = a_n / a_total or eps
        total += (a - e) * math.log(a / e)
    return total


def test_psi_equals_textbook_formula_with_bins_written_out():
    # Reference 0..99: deciles with linear interpolation are 0, 9.9, 19.8, ..., 99 -> 10 values per bin.
    reference = pd.DataFrame({"x": np.arange(100, dtype=float)})
    # Current: below range (-5), inside bins 0, 1, 2, above range (150), one missing; bins 3..8 empty.
    current = pd.DataFrame({"x": [-5.0, 0.0, 5.0, 15.0, 25.0, 25.0, 150.0, np.nan]})
    hand_edges = [9.9 * i for i in range(11)]
    ref_counts = [10] * 10 + [0]  # ten bins, then the missing bin
    cur_counts = [3, 1, 2, 0, 0, 0, 0, 0, 0, 1, 1]
    expected = textbook_psi(ref_counts, cur_counts)

    # 8 current rows are below the minimum sample size: min_rows_per_bin=0 turns that guard off here
    result = analyze_drift(reference, current, DriftSettings(companions=(), min_rows_per_bin=0))
    f = result.feature("x")
    assert abs(f.psi - expected) <= 1e-12
    np.testing.assert_allclose(result.profile.features["x"].edges, hand_edges, rtol=0, atol=1e-12)
    table = result.bin_tables["x"]
    assert table["ref_count"].tolist() == ref_counts
    assert table["cur_count"].tolist() == cur_counts
    assert abs(table["contribution"].sum() - expected) <= 1e-12
    # the empty bins and the reference's empty missing bin used the stated smoothing
    assert (table.loc[3:8, "cur_share_used"] == PSI_EPSILON).all()
    assert table.iloc[-1]["ref_share_used"] == PSI_EPSILON
    assert f.status == Status.FAIL


def test_psi_without_empty_bins_has_no_smoothing_effect():
    ref, cur = [30, 50, 20], [25, 45, 30]
    e = np.array(ref) / 100
    a = np.array(cur) / 100
    assert abs(psi_from_counts(np.array(ref), np.array(cur)) - float(np.sum((a - e) * np.log(a / e)))) <= 1e-12


def test_categorical_union_with_unseen_bucket_and_missing_bin():
    reference = pd.DataFrame({"c": ["a"] * 6 + ["b"] * 4})
    current = pd.DataFrame({"c": ["a", "a", "c", "c", "d", None]})
    result = analyze_drift(reference, current, DriftSettings(companions=()))
    table = result.bin_tables["c"]
    assert table["bin"].tolist() == ["a", "b", "<unseen>", "<missing>"]
    assert table["cur_count"].tolist() == [2, 0, 3, 1]
    assert abs(result.feature("c").psi - textbook_psi([6, 4, 0, 0], [2, 0, 3, 1])) <= 1e-12
    assert result.feature("c").unseen == {"c": 2, "d": 1}


def test_identical_data_has_zero_psi():
    x = pd.DataFrame({"x": np.random.default_rng(0).normal(size=1000)})
    assert analyze_drift(x, x, DriftSettings(companions=())).feature("x").psi == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(("value", "level"), [(0.05, "stable"), (0.1, "watch"), (0.2, "watch"), (0.2001, "drift")])
def test_psi_levels_follow_the_stated_boundaries(value, level):
    assert classify_psi(value) == level


def test_registry_holds_the_companions_with_thresholds():
    assert {"psi", "ks", "chi2", "jensen_shannon", "wasserstein"} <= set(METHODS)
    assert get_method("psi").threshold == 0.2
    assert get_method("KS").drift_when == "below"


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(ParameterError) as info:
        get_method("kullback")
    assert info.value.name == "kullback"
    for name in ("psi", "ks", "chi2", "jensen_shannon", "wasserstein"):
        assert name in info.value.hint
    with pytest.raises(ParameterError):
        analyze_drift(pd.DataFrame({"x": [1.0, 2.0]}), pd.DataFrame({"x": [1.0, 2.0]}), DriftSettings(method="nope"))
    with pytest.raises(ParameterError):
        resolve_thresholds({"nope": 0.3})


def test_companions_match_scipy_on_raw_data():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=3000)})
    cur = pd.DataFrame({"x": rng.normal(0.3, 1.2, size=2000)})
    f = analyze_drift(ref, cur).feature("x")
    assert f.companions["ks"].value == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).pvalue)
    w = stats.wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std(ddof=0)
    assert f.companions["wasserstein"].value == pytest.approx(w)
    assert f.companions["ks"].drifted and f.companions["wasserstein"].drifted


def test_verdict_method_and_threshold_appear_in_every_row():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
    cur = pd.DataFrame({"x": rng.normal(1.0, size=2000), "y": rng.normal(size=2000)})
    result = analyze_drift(ref, cur, DriftSettings(method="wasserstein", thresholds={"wasserstein": 0.5}))
    table = result.table()
    assert set(table["method"]) == {"wasserstein"}
    assert set(table["threshold"]) == {0.5}
    assert result.feature("x").status == Status.FAIL
    assert result.feature("y").status == Status.PASS
    assert "psi" in table.columns


def test_threshold_override_changes_the_verdict():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    cur = pd.DataFrame({"x": rng.normal(0.6, size=5000)})
    assert analyze_drift(ref, cur, DriftSettings(companions=())).feature("x").status == Status.FAIL
    relaxed = analyze_drift(ref, cur, DriftSettings(companions=(), thresholds={"psi": 5.0, "psi_watch": 4.0}))
    assert relaxed.feature("x").status == Status.PASS


def test_verdict_rows_carry_the_thresholds_actually_used():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"big": rng.normal(size=5000), "mid": rng.normal(size=5000)})
    cur = pd.DataFrame({"big": rng.normal(1.5, size=5000), "mid": rng.normal(0.55, size=5000)})
    result = analyze_drift(ref, cur, DriftSettings(companions=(), thresholds={"psi": 0.5, "psi_watch": 0.15}))
    rows = {v.subject: v for v in result.verdicts()}
    assert rows["big"].status == Status.FAIL and rows["big"].threshold == 0.5
    assert rows["mid"].status == Status.WARN and rows["mid"].threshold == 0.15
    assert 0.15 <= rows["mid"].observed <= 0.5


def test_method_names_are_case_insensitive():
    x = pd.DataFrame({"x": np.random.default_rng(5).normal(size=500)})
    result = analyze_drift(x, x, DriftSettings(method="KS", companions=("JENSEN_SHANNON",)))
    assert result.method == "ks"
    assert result.feature("x").method == "ks"
    assert set(result.feature("x").companions) == {"jensen_shannon"}
