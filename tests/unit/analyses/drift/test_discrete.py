"""Few-valued numeric features: one bin per reference value, so their drift is seen."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.bins import DISCRETE_MAX_VALUES, quantile_edges
from opskit.analyses.drift.columns import ColumnType
from opskit.analyses.drift.features import analyze_drift
from opskit.analyses.drift.profile import profile_feature
from opskit.checks import Status

N = 4000


def _drift(ref, cur, name="x"):
    return analyze_drift(pd.DataFrame({name: ref}), pd.DataFrame({name: cur})).feature(name)


def test_flag_from_5_to_50_percent_is_drift():
    rng = np.random.default_rng(1)
    f = _drift((rng.random(N) < 0.05).astype(int), (rng.random(N) < 0.5).astype(int))
    assert f.n_bins == 2
    assert f.psi > 0.2
    assert f.status == Status.FAIL


def test_counts_with_shares_of_2_and_3_swapped_is_drift():
    rng = np.random.default_rng(2)
    ref = rng.choice(4, N, p=[0.4, 0.3, 0.25, 0.05])
    cur = rng.choice(4, N, p=[0.4, 0.3, 0.05, 0.25])
    f = _drift(ref, cur)
    assert f.n_bins == 4
    assert f.psi > 0.2


def test_rating_with_most_fives_removed_is_drift():
    rng = np.random.default_rng(3)
    p = np.array([0.1, 0.1, 0.2, 0.3, 0.3])
    ref = rng.choice([1, 2, 3, 4, 5], N, p=p)
    q = p.copy()
    q[4] *= 0.35
    cur = rng.choice([1, 2, 3, 4, 5], N, p=q / q.sum())
    f = _drift(ref, cur)
    assert f.n_bins == 5  # 4 and 5 no longer share the closed last bin
    assert f.psi > 0.1  # was 0.057 (PASS) with [4, 5] as one bin; the population PSI here is about 0.19
    assert f.status != Status.PASS


def test_discrete_rule_boundary_and_note():
    few = np.arange(DISCRETE_MAX_VALUES, dtype=float)
    edges, n = quantile_edges(np.repeat(few, 3), 10)
    assert n == DISCRETE_MAX_VALUES
    assert edges[0] == 0 and edges[-1] == DISCRETE_MAX_VALUES - 1
    assert np.allclose(edges[1:-1], few[:-1] + 0.5)
    _, n_many = quantile_edges(np.arange(DISCRETE_MAX_VALUES + 1, dtype=float), 10)
    assert n_many == 10  # one value more: quantile bins again
    fp = profile_feature(pd.Series([0, 1, 1, 2] * 10), ColumnType.NUMERIC, bins=10)
    assert fp.discrete and not fp.ties_collapsed
    assert "one bin per reference value" in fp.note()


def test_same_discrete_distribution_is_not_flagged():
    rng = np.random.default_rng(4)
    p = [0.1, 0.1, 0.2, 0.3, 0.3]
    f = _drift(rng.choice(5, N, p=p), rng.choice(5, N, p=p))
    assert f.status == Status.PASS


def test_thirty_rows_from_the_same_distribution_skip_with_too_few_rows():
    rng = np.random.default_rng(5)
    f = _drift(rng.normal(size=N), rng.normal(size=30))
    assert f.status == Status.SKIP
    assert "too few rows (30 in the current)" in f.reason
    assert f.psi_expected > 0.2  # noise alone would read as drift at this size


def test_size_guard_can_be_lowered_and_expected_psi_is_shown():
    from opskit.analyses.drift.settings import DriftSettings
    from opskit.analyses.drift.significance import psi_expected

    rng = np.random.default_rng(6)
    ref, cur = pd.DataFrame({"x": rng.normal(size=N)}), pd.DataFrame({"x": rng.normal(size=300)})
    result = analyze_drift(ref, cur)
    f = result.feature("x")
    assert f.status == Status.PASS
    assert abs(f.psi_expected - psi_expected(10, N, 300)) < 1e-12
    (row,) = [v for v in result.verdicts() if v.subject == "x"]
    assert f"PSI expected with no drift at these sizes: about {f.psi_expected:.2g}" in row.message
    assert result.table().loc[0, "psi_expected"] == f.psi_expected
    small = analyze_drift(ref, cur.head(50), DriftSettings(min_rows_per_bin=2)).feature("x")
    assert small.status != Status.SKIP


def test_calendar_windows_month_quarter_and_pandas_aliases():
    from opskit.analyses.drift.windows import window_labels
    from opskit.errors import InputError

    ts = pd.Series(pd.date_range("2026-01-01", periods=120, freq="D"))
    labels, _ = window_labels(ts, "month")
    assert sorted(labels.unique()) == ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
    assert window_labels(ts, "MS")[0].tolist() == labels.tolist()
    assert window_labels(ts, "quarter")[0].nunique() == 2
    assert window_labels(ts, "week")[0].iloc[0] == "2025-12-29"  # weeks start on Monday
    assert window_labels(ts, "10D")[0].nunique() == 13  # 10-day windows aligned on 1970-01-01, not on the data
    with pytest.raises(InputError):
        window_labels(ts, "fortnight")
