"""Column checks: types against the schema, ranges, the robust outlier rule, missing shares, personal data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from opskit.analyses.data.columns import check_column, infer_schema, robust_outliers
from opskit.analyses.data.quality import column_verdicts
from opskit.analyses.data.settings import DataCheckSettings
from opskit.sources.dataset_schema import ExpectedField

SETTINGS = DataCheckSettings()


def _frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({**columns, "_file": "a.csv", "_line": range(2, n + 2)})


def test_robust_outliers_use_the_stated_rule():
    values = pd.Series([10.0, 11, 12, 13, 14])
    # median 12, MAD 1: the bound is 12 +- 3.5 * 1.4826 = 12 +- 5.19
    assert robust_outliers(pd.Series([17.1, 17.2, 6.9, 6.8]), 12, 1, 3.5).tolist() == [False, True, False, True]
    assert not robust_outliers(values, 12, 1, 3.5).any()


def test_outliers_are_flagged_against_the_reference_with_their_lines():
    rng = np.random.default_rng(1)
    ref = _frame(x=np.clip(rng.normal(100, 10, 2000), 70, 130))
    cur_values = np.clip(rng.normal(100, 10, 1000), 70, 130)
    cur_values[[5, 50, 500, 600, 700, 800]] = 10_000
    check = check_column(_frame(x=cur_values), "x", None, ref, SETTINGS)
    assert check.outliers == 6 and check.reference_outlier_share == 0
    assert check.outlier_examples[0] == ("a.csv:7", "10000.0")
    (row,) = [v for v in column_verdicts([check], SETTINGS, with_reference=True) if v.name == "outliers"]
    assert row.status == "WARN" and row.subject == "x" and row.observed == 0.6


def test_a_heavy_tail_like_the_reference_is_not_flagged():
    rng = np.random.default_rng(2)
    ref, cur = _frame(x=rng.lognormal(10, 1, 3000)), _frame(x=rng.lognormal(10, 1, 3000))
    check = check_column(cur, "x", None, ref, SETTINGS)
    assert check.outlier_share > SETTINGS.outlier_share  # many beyond 3.5 robust z in a log-normal tail
    rows = [v for v in column_verdicts([check], SETTINGS, with_reference=True) if v.name == "outliers"]
    assert [v.status for v in rows] == ["PASS"]  # but no more than in the reference


def test_type_and_range_against_the_schema_name_the_lines():
    frame = _frame(age=["31", "x", "40", "-2", "200"])
    field = ExpectedField("age", "integer", minimum=0, maximum=120)
    check = check_column(frame, "age", field, None, SETTINGS)
    assert check.dtype == "string" and check.type_mismatches == 1 and check.type_examples == (("a.csv:3", "x"),)
    typed = _frame(age=pd.array([31, 40, -2, 200], dtype="Int64"))
    check = check_column(typed, "age", field, None, SETTINGS)
    assert check.out_of_range == 2 and [w for w, _ in check.range_examples] == ["a.csv:4", "a.csv:5"]


def test_missing_share_against_the_reference():
    ref = _frame(v=[1.0] * 95 + [None] * 5)
    cur = _frame(v=[1.0, 2.0] * 20 + [None] * 60)
    check = check_column(cur, "v", None, ref, SETTINGS)
    assert check.missing_share == 0.6 and check.reference_missing_share == 0.05
    (row,) = [v for v in column_verdicts([check], SETTINGS, with_reference=True) if v.name == "missing values"]
    assert row.status == "FAIL" and row.observed == 60.0 and row.threshold == 10.0


def test_personal_data_is_found_by_kind_and_shown_masked():
    frame = _frame(note=["fine", "mail me at ann@corp.example.org", "call 13912345678", "order 20261130001"])
    check = check_column(frame, "note", None, None, SETTINGS)
    assert dict(check.pii) == {"email": 1, "phone": 1}
    assert [w for w, _ in check.pii_examples] == ["a.csv:3", "a.csv:4"]
    (row,) = [v for v in column_verdicts([check], SETTINGS, with_reference=False) if v.name == "personal data"]
    assert row.status == "FAIL" and "ann@corp" not in row.evidence and "139****5678" in row.evidence
    allowed = check_column(frame, "note", ExpectedField("note", pii=True), None, SETTINGS)
    assert allowed.pii == ()


def test_constant_columns_and_inferred_schema():
    frame = _frame(c=["same"] * 10, n=list(range(10)))
    assert check_column(frame, "c", None, None, SETTINGS).constant
    assert not check_column(frame, "n", None, None, SETTINGS).constant
    schema = infer_schema(frame.assign(n=pd.array(range(10), dtype="Int64")), {"c"})
    assert [(f.name, f.type, f.pii) for f in schema.fields] == [("c", "string", True), ("n", "integer", False)]
