"""Naming rules: the default pattern, real dates, a custom pattern, and a broken pattern refused."""

import pytest

from opskit.analyses.models.naming import NamingSettings, naming_verdicts
from opskit.checks import Status


def _statuses(rows):
    return [(r.subject, r.status) for r in rows]


def test_default_pattern_warns_on_bad_labels_dates_and_names():
    rows = naming_verdicts(
        [
            ("fraud", "1", "fraud_v2.1_20240601"),
            ("fraud", "2", "fraud_v2.1.3_20240631"),
            ("fraud", "3", "fraud-latest"),
            ("fraud", "4", None),
            ("Fraud Model", "1", "fraud_v1.0_20240101"),
        ],
        NamingSettings(),
    )
    assert _statuses(rows) == [
        ("fraud", Status.PASS),
        ("fraud v1", Status.PASS),
        ("fraud v2", Status.WARN),
        ("fraud v3", Status.WARN),
        ("fraud v4", Status.WARN),
        ("Fraud Model", Status.WARN),
        ("Fraud Model v1", Status.PASS),
    ]
    assert "calendar date" in rows[2].message and "does not match" in rows[3].message


def test_custom_pattern_and_invalid_pattern():
    settings = NamingSettings(version_pattern=r"\d+\.\d+\.\d+")
    assert [r.status for r in naming_verdicts([("m", "1", "1.2.3"), ("m", "2", "v1")], settings)][1:] == [
        Status.PASS,
        Status.WARN,
    ]
    with pytest.raises(ValueError, match="version_pattern"):
        NamingSettings(version_pattern="(unclosed")
