"""Real data (tests/fixtures/real/drift, see SOURCES.md): random halves of one table are not drift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.settings import DriftSettings
from opskit.checks import Status

REAL = Path(__file__).parents[3] / "fixtures" / "real" / "drift"


def _halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    idx = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[idx[:half]], frame.iloc[idx[half:]]


def test_random_halves_of_a_real_table_are_never_flagged():
    table = pd.read_csv(REAL / "breast_cancer_head.csv")
    assert len(table) == 76
    for seed in range(20):
        ref, cur = _halves(table, seed)
        result = analyze_drift(ref, cur, DriftSettings(target="target"))
        statuses = {f.name: f.status for f in result.features}
        assert len(statuses) == 10
        assert set(statuses.values()) == {Status.SKIP}, (seed, statuses)  # 38 rows: below 10 rows x 10 bins
        assert all("too few rows (38" in f.reason for f in result.features)


def test_random_halves_with_few_bins_are_judged_and_ks_agrees_they_match():
    table = pd.read_csv(REAL / "breast_cancer_head.csv")
    flagged_by_ks = 0
    for seed in range(20):
        ref, cur = _halves(table, seed)
        result = analyze_drift(ref, cur, DriftSettings(target="target", bins=3))
        assert {f.status for f in result.features} <= {Status.PASS, Status.WARN, Status.FAIL}
        flagged_by_ks += sum(f.companions["ks"].drifted for f in result.features)
    assert flagged_by_ks <= 0.1 * 20 * 10  # same table: KS at 5 % flags about one feature in twenty


def test_identical_heavy_tailed_features_pass_wasserstein_with_exact_reference_values():
    from opskit.analyses.drift.counts import CurrentCounts
    from opskit.analyses.drift.profile import build_profile

    settings = DriftSettings(companions=("ks", "wasserstein"))
    for seed in range(20):
        rng = np.random.default_rng(seed)
        ref = pd.DataFrame({"lognormal": rng.lognormal(0, 1.5, 4000), "pareto": rng.pareto(1.2, 4000)})
        cur = pd.DataFrame({"lognormal": rng.lognormal(0, 1.5, 4000), "pareto": rng.pareto(1.2, 4000)})
        profile = build_profile(ref, settings)
        counted = CurrentCounts(profile, keep_values=True)
        counted.add(cur)
        result = analyze_drift(profile, counted, settings, reference_table=ref)  # the runbook's path
        for f in result.features:
            assert not f.companions["wasserstein"].drifted, (seed, f.name, f.companions["wasserstein"])
            assert "sketch" not in f.companions["ks"].note  # exact reference values, not the 501-point sketch


def test_a_real_shift_still_fails_wasserstein_after_the_permutation_test():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.lognormal(0, 0.5, 3000)})
    cur = pd.DataFrame({"x": rng.lognormal(0.3, 0.5, 3000)})
    w = analyze_drift(ref, cur, DriftSettings(companions=("wasserstein",))).feature("x").companions["wasserstein"]
    assert w.drifted and "permutation p 0.005" in w.note  # 1/201: no permutation came close


def test_real_iso_dates_are_compared_as_time_halves_pass_and_a_later_year_fails():
    from opskit.analyses.drift.columns import ColumnType
    from opskit.sources.datasets import read_table

    table = read_table(REAL / "seattle_weather_2012_2013.csv")  # pyarrow reads the ISO dates as date32
    assert len(table) == 731
    settings = DriftSettings(exclude=["weather"])
    for seed in range(20):
        ref, cur = _halves(table, seed)
        date = analyze_drift(ref, cur, settings).feature("date")
        assert date.kind == ColumnType.DATETIME and date.status != Status.FAIL, (seed, date.psi)
        assert "compared as time" in date.note
    year = pd.to_datetime(table["date"]).dt.year
    moved = analyze_drift(table[year == 2012], table[year == 2013], settings).feature("date")
    assert moved.status == Status.FAIL  # the whole range moved on by a year
