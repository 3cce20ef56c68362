"""Companions that hold on identical data and still see real shifts; PSI's permutation p-value; rows that reconcile."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from opskit.analyses.drift.counts import CurrentCounts
from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.methods import KS_STATISTIC, resolve_thresholds
from opskit.analyses.drift.profile import build_profile
from opskit.analyses.drift.settings import DriftSettings
from opskit.analyses.drift.significance import jensen_shannon_rows, permutation_p, psi_rows
from opskit.checks import Status
from opskit.errors import ParameterError

SEEDS = range(20)


def _heavy(rng, n):
    return pd.DataFrame({"lognormal": rng.lognormal(0, 1.5, n), "pareto": rng.pareto(1.2, n)})


def _runbook_path(ref, cur, settings):
    """As the runbook compares: a profile, the current counted with values kept, the reference table beside."""
    profile = build_profile(ref, settings)
    counted = CurrentCounts(profile, keep_values=True)
    counted.add(cur)
    return analyze_drift(profile, counted, settings, reference_table=ref)


@pytest.mark.parametrize("n", [4000, 50_000])
def test_identical_heavy_tailed_features_pass_ks_and_wasserstein_in_20_of_20_seeds(n):
    settings = DriftSettings(companions=("ks", "wasserstein"))
    ks_p_below_alpha = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        result = _runbook_path(_heavy(rng, n), _heavy(rng, n), settings)
        for f in result.features:
            ks, w = f.companions["ks"], f.companions["wasserstein"]
            assert not ks.drifted, (seed, f.name, ks)
            assert not w.drifted, (seed, f.name, w)
            assert "sketch" not in ks.note  # exact reference values, not the 501-point sketch
            assert ks.effect < KS_STATISTIC
            ks_p_below_alpha += ks.value < 0.05
    # the p-value alone would flag about 5 % of these 40 identical pairs: the D floor is what keeps them PASS
    assert ks_p_below_alpha <= 8


def test_ks_floor_keeps_real_shifts_and_is_a_threshold():
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.lognormal(0, 0.5, 4000)})
    cur = pd.DataFrame({"x": rng.lognormal(0.3, 0.5, 4000)})  # D about 0.23
    ks = analyze_drift(ref, cur, DriftSettings(companions=("ks",))).feature("x").companions["ks"]
    assert ks.drifted and ks.effect == pytest.approx(stats.ks_2samp(ref["x"], cur["x"]).statistic)
    assert "D 0.2" in ks.note
    strict = DriftSettings(companions=("ks",), thresholds={"ks_statistic": 0.5})
    ks_strict = analyze_drift(ref, cur, strict).feature("x").companions["ks"]
    assert not ks_strict.drifted and "too small to act on" in ks_strict.note
    assert resolve_thresholds({"ks_statistic": 0.2})["ks_statistic"] == 0.2
    with pytest.raises(ParameterError) as info:
        resolve_thresholds({"ks_stat": 0.2})
    assert "ks_statistic" in info.value.hint and "psi_watch" in info.value.hint


def test_jensen_shannon_on_small_identical_samples_is_not_drift_in_20_seeds():
    settings = DriftSettings(companions=("jensen_shannon",))
    past_level = flagged = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        ref, cur = pd.DataFrame({"x": rng.normal(size=100)}), pd.DataFrame({"x": rng.normal(size=100)})
        js = analyze_drift(ref, cur, settings).feature("x").companions["jensen_shannon"]
        past_level += js.value > 0.1
        flagged += js.drifted
        assert js.value <= 0.1 or "permutation p" in js.note, (seed, js)
    assert flagged <= 1  # the permutation test holds it to about its 5 % level
    assert past_level >= 15  # the distance alone exceeds 0.1 on almost every identical 100-row pair
    rng = np.random.default_rng(3)
    shifted = analyze_drift(
        pd.DataFrame({"x": rng.normal(size=500)}), pd.DataFrame({"x": rng.normal(1.0, size=500)}), settings
    )
    assert shifted.feature("x").companions["jensen_shannon"].drifted


def test_statistics_on_count_rows_match_scipy_and_the_permutation_p_is_exact_in_kind():
    ref, cur = np.array([[30.0, 50, 20, 0]]), np.array([[25.0, 45, 25, 5]])
    assert jensen_shannon_rows(ref, cur)[0] == pytest.approx(jensenshannon(ref[0] / 100, cur[0] / 100, base=2))
    from opskit.analyses.drift.methods import psi_from_counts

    assert psi_rows(ref, cur)[0] == pytest.approx(psi_from_counts(ref[0], cur[0]))
    same = permutation_p(np.array([500, 500]), np.array([500, 500]), psi_rows)
    assert same > 0.5
    far = permutation_p(np.array([900, 100]), np.array([100, 900]), psi_rows)
    assert far == pytest.approx(1 / 201)
    huge = permutation_p(np.array([6 * 10**8, 4 * 10**8]), np.array([6 * 10**8, 4 * 10**8]), psi_rows)
    assert huge > 0.05  # beyond NumPy's hypergeometric limit: multinomial draws, same null


def test_psi_permutation_p_value_lets_a_small_window_say_not_significant():
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(size=2000)})
    hits = {"off": 0, "on": 0}
    for seed in SEEDS:
        cur = pd.DataFrame({"x": np.random.default_rng(100 + seed).normal(size=40)})
        loose = DriftSettings(companions=(), min_rows_per_bin=2, bins=10)
        off = analyze_drift(ref, cur, loose).feature("x")
        on = analyze_drift(ref, cur, DriftSettings(companions=(), min_rows_per_bin=2, psi_permutations=200)).feature(
            "x"
        )
        assert on.psi == off.psi and on.psi_p_value is not None and off.psi_p_value is None
        hits["off"] += off.status != Status.PASS
        hits["on"] += on.status != Status.PASS
        if off.status != Status.PASS and on.status == Status.PASS:
            assert "not significant" in on.note and f"permutation p {on.psi_p_value:.3f}" in on.note
    assert hits["off"] >= 10  # 40 rows against 10 bins: PSI's noise (about 0.23) reaches the levels
    assert hits["on"] <= 2
    real = pd.DataFrame({"x": np.random.default_rng(9).normal(1.5, 1.0, 40)})
    moved = analyze_drift(ref, real, DriftSettings(companions=(), min_rows_per_bin=2, psi_permutations=200))
    assert moved.feature("x").status == Status.FAIL and moved.feature("x").psi_p_value < 0.05
    assert "psi_p_value" in moved.table().columns
    with pytest.raises(ValueError):
        DriftSettings(psi_permutations=-1)


def test_pass_rows_reconcile_companions_that_flag_a_difference():
    rng = np.random.default_rng(8)
    n = 200_000
    ref = pd.DataFrame({"x": rng.normal(size=n)})
    cur = pd.DataFrame({"x": rng.normal(0.03, 1.0, n)})  # significant at this size, far too small to act on
    result = analyze_drift(ref, cur, DriftSettings(companions=("ks", "chi2", "jensen_shannon")))
    f = result.feature("x")
    assert f.status == Status.PASS and f.companions["chi2"].drifted
    (row,) = result.verdicts()
    assert "(drift)" not in row.evidence
    assert "secondary (psi decides)" in row.evidence
    assert "chi2 disagrees: it sees a difference" in row.evidence and "tests significance, not size" in row.evidence
    assert "200,000 current rows" in row.evidence and "the PASS stands" in row.evidence
    assert "ks p" in row.evidence and "too small to act on" in row.evidence  # KS: p low, D under its floor


def test_missing_share_is_never_rounded_to_zero():
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({"x": rng.normal(size=20_000)})
    cur = pd.DataFrame({"x": rng.normal(size=20_000)})
    cur.loc[:7, "x"] = np.nan  # 8 values read as missing ("n/a" in a CSV)
    f = analyze_drift(ref, cur, DriftSettings(companions=())).feature("x")
    assert "missing values appear: 8 of 20,000 current rows (0.04 %)" in f.note
