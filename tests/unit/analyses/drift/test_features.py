"""Bad input: clear per-feature SKIP/ERROR rows, never a crash of the whole analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.drift.features import CHECK_FEATURE, analyze_drift
from opskit.checks import Status, VerdictTable


@pytest.fixture
def reference():
    rng = np.random.default_rng(0)
    n = 2000
    return pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 50.0, n),
            "age": rng.integers(18, 80, n),
            "city": rng.choice(["berlin", "paris", "rome"], n),
            "flag": rng.random(n) < 0.4,
        }
    )


def current_like(reference, seed=1):
    rng = np.random.default_rng(seed)
    return (
        reference.sample(frac=1.0, replace=True, random_state=seed)
        .reset_index(drop=True)
        .assign(amount=lambda f: f["amount"] * rng.uniform(0.99, 1.01, len(f)))
    )


def status_of(result, name):
    return result.feature(name).status


def test_stable_data_passes(reference):
    result = analyze_drift(reference, current_like(reference))
    assert {f.status for f in result.features} == {Status.PASS}


def test_different_columns_are_named(reference):
    current = current_like(reference).drop(columns=["city"]).assign(extra=1.0)
    result = analyze_drift(reference, current)
    city = result.feature("city")
    assert city.status == Status.ERROR
    assert "missing from the current" in city.reason
    assert result.feature("extra").status == Status.SKIP
    assert status_of(result, "amount") == Status.PASS


def test_all_missing_and_constant_columns(reference):
    ref = reference.assign(empty=np.nan, const=7.0)
    cur = current_like(reference).assign(empty=np.nan, const=7.0)
    cur["age"] = np.nan
    result = analyze_drift(ref, cur)
    assert status_of(result, "empty") == Status.SKIP
    assert "all values missing" in result.feature("empty").reason
    assert status_of(result, "const") == Status.PASS  # constant on both sides: judged, nothing differs
    assert "constant in the reference (7)" in result.feature("const").note
    assert "0 of 2,000 current rows (0.0 %)" in result.feature("const").note
    age = result.feature("age")
    assert age.status == Status.FAIL
    assert "all current values missing" in age.note


def test_text_in_a_numeric_column_is_an_error_for_that_feature_only(reference):
    cur = current_like(reference)
    cur["amount"] = cur["amount"].astype(object)
    cur.loc[3, "amount"] = "n/a (timeout)"
    result = analyze_drift(reference, cur)
    amount = result.feature("amount")
    assert amount.status == Status.ERROR
    assert "not numbers" in amount.reason and "row 3" in amount.reason
    assert status_of(result, "age") == Status.PASS
    table = VerdictTable(result.verdicts())
    assert table.rows[0].status == Status.ERROR
    assert table.rows[0].subject == "amount"


def test_numbers_stored_as_text_still_compare(reference):
    cur = current_like(reference)
    cur["age"] = cur["age"].astype(str)
    assert status_of(analyze_drift(reference, cur), "age") == Status.PASS


def test_mismatched_dtypes(reference):
    cur = current_like(reference)
    cur["city"] = np.arange(len(cur), dtype=float)
    cur["flag"] = cur["flag"].map({True: "yes", False: "no"})
    result = analyze_drift(reference, cur)
    assert status_of(result, "city") == Status.ERROR
    assert "type mismatch" in result.feature("city").reason
    assert status_of(result, "flag") == Status.ERROR


def test_empty_current(reference):
    result = analyze_drift(reference, reference.iloc[:0])
    table = VerdictTable(result.verdicts())
    assert table.rows[0].status == Status.ERROR
    assert table.rows[0].name == CHECK_FEATURE
    assert "no rows" in table.rows[0].message
    assert result.n_current == 0


def test_infinities(reference):
    cur = current_like(reference)
    cur.loc[:9, "amount"] = np.inf
    result = analyze_drift(reference, cur)
    amount = result.feature("amount")
    assert amount.status == Status.PASS
    assert "10 infinite current value(s)" in amount.note
    only_inf = reference.assign(amount=np.inf)
    assert status_of(analyze_drift(only_inf, cur), "amount") == Status.ERROR


def test_results_are_ranked_and_summarised(reference):
    cur = current_like(reference)
    cur["amount"] = cur["amount"] * 1.8
    result = analyze_drift(reference, cur)
    assert result.features[0].name == "amount"
    assert result.top(1) == ["amount"]
    figures = result.figures()
    assert figures["features_in_drift"] == 1
    assert figures["max_psi"] == pytest.approx(result.feature("amount").psi)
    verdict = next(v for v in result.verdicts() if v.subject == "amount")
    assert verdict.status == Status.FAIL and verdict.threshold == 0.2 and verdict.unit == "PSI"
    assert "largest bin" in verdict.evidence
