"""Row checks: exact duplicates, repeated keys and label classes against the reference."""

from __future__ import annotations

import pandas as pd

from opskit.analyses.data.rows import duplicate_verdicts, label_verdicts
from opskit.analyses.data.settings import DataCheckSettings


def _frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({**columns, "_file": "a.csv", "_line": range(2, n + 2)})


def test_exact_duplicates_and_repeated_keys_name_both_lines():
    frame = _frame(id=[1, 2, 3, 1, 2], v=["a", "b", "c", "a", "x"])
    exact, keys = duplicate_verdicts(frame, ["id"], DataCheckSettings())
    assert exact.status == "WARN" and exact.observed == 1 and exact.evidence == "a.csv:5 repeats a.csv:2"
    assert keys.status == "FAIL" and keys.observed == 1 and keys.evidence == "a.csv:6 repeats a.csv:3"


def test_an_unknown_key_column_is_an_error_row():
    rows = duplicate_verdicts(_frame(id=[1, 2]), ["nope"], DataCheckSettings())
    assert [(v.name, v.status) for v in rows] == [("duplicate rows", "PASS"), ("duplicate keys", "ERROR")]


def test_a_class_gone_from_the_reference_fails_and_the_shift_is_measured():
    settings = DataCheckSettings(label_column="y")
    ref = _frame(y=["a"] * 50 + ["b"] * 40 + ["c"] * 10)
    classes, shift = label_verdicts(_frame(y=["a"] * 50 + ["b"] * 50), ref, settings)
    assert classes.status == "FAIL" and classes.evidence == "missing: c" and classes.observed == 2
    assert shift.status == "PASS" and shift.observed == 0.1
    classes, shift = label_verdicts(_frame(y=["a"] * 20 + ["b"] * 70 + ["c"] * 10), ref, settings)
    assert classes.status == "PASS" and shift.status == "WARN" and shift.observed == 0.3


def test_labels_without_a_reference_and_a_missing_label_column():
    settings = DataCheckSettings(label_column="y")
    (only,) = label_verdicts(_frame(y=["a"] * 5), None, settings)
    assert only.status == "FAIL" and "one class" in only.message
    (absent,) = label_verdicts(_frame(z=[1]), None, settings)
    assert absent.status == "SKIP" and "'y'" in absent.message
