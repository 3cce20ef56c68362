"""The access audit's rules on small hand-built logs: each rule fires on its case and not on its near miss."""

from __future__ import annotations

from datetime import date, time

import pandas as pd
import pytest

from opskit.analyses.models.access_audit import (
    AccessAuditSettings,
    WorkingHours,
    audit_access,
    find_violations,
    judge_access,
    mask_principal,
)
from opskit.errors import InputError
from opskit.privacy import MaskingPolicy, use_policy
from opskit.sources.rbac_policy import RbacPolicy, Role
from opskit.sources.registry_access_logs import COLUMNS, RegistryAccessLog

POLICY = RbacPolicy(
    roles={
        "algorithm": Role("algorithm", frozenset({"read", "download"}), ("fraud-*",)),
        "viewer": Role("viewer", frozenset({"read"})),
    },
    principals={"alice@example.com": ("algorithm",), "dave": ("viewer",)},
)
WED = pd.Timestamp("2026-11-04T10:00:00Z")  # a Wednesday, inside working hours


def _log(*rows: tuple, malformed=()) -> RegistryAccessLog:
    """rows: (minutes after WED 10:00, principal, action, model, status)."""
    records = [
        (WED + pd.Timedelta(minutes=m), p, "GET", "/x", status, 100, action, model)
        for m, p, action, model, status in rows
    ]
    frame = pd.DataFrame(records, columns=list(COLUMNS), index=pd.Index(range(1, len(records) + 1), name="line"))
    return RegistryAccessLog(frame, tuple(malformed), "combined", "access.log")


def _rules(log, settings=None) -> list[tuple[str, str]]:
    found = find_violations(log, POLICY, settings or AccessAuditSettings())
    return list(zip(found["rule"], found["principal"], strict=True))


def test_clean_log_has_no_finding_and_passes_every_rule():
    log = _log(
        (0, "alice@example.com", "download", "fraud-a", 200),
        (5, "dave", "read", "fraud-a", 200),
        (6, "dave", "download", "fraud-a", 403),
    )
    audit = audit_access(log, POLICY, AccessAuditSettings())
    assert audit.findings.empty
    assert {v.status.value for v in judge_access(audit)} == {"PASS"}


def test_off_role_needs_a_success_and_respects_model_patterns():
    log = _log(
        (0, "dave", "download", "fraud-a", 200),
        (1, "alice@example.com", "download", "churn", 200),
        (2, "alice@example.com", "download", "churn", 403),
    )
    found = find_violations(log, POLICY, AccessAuditSettings())
    assert list(zip(found["principal"], found["model"], found["count"], strict=True)) == [
        ("dave", "fraud-a", 1),
        ("alice@example.com", "churn", 1),
    ]
    assert set(found["rule"]) == {"off-role access"}


def test_new_principal_by_policy_and_by_baseline():
    log = _log(
        (0, "eve", "read", "fraud-a", 200),
        (2 * 24 * 60, "dave", "read", "fraud-a", 200),
        (1, "alice@example.com", "read", "fraud-a", 200),
    )
    assert _rules(log) == [("new principal", "eve")]  # not off-role: eve has no role to be outside of
    with_baseline = _rules(log, AccessAuditSettings(baseline_days=1))
    assert ("new principal", "dave") in with_baseline and len(with_baseline) == 2


def test_off_hours_by_calendar_time_zone_and_holiday():
    log = _log((9 * 60, "dave", "read", "fraud-a", 200))  # 19:00 UTC = 20:00 in Berlin
    assert _rules(log) == [("off-hours access", "dave")]  # 19:00 is the end: outside
    assert _rules(log, AccessAuditSettings(hours=WorkingHours("UTC", end=time(19, 30)))) == []
    berlin = WorkingHours("Europe/Berlin", end=time(19, 30))
    assert _rules(log, AccessAuditSettings(hours=berlin)) == [("off-hours access", "dave")]
    early = _log((0, "dave", "read", "fraud-a", 200))
    holiday = WorkingHours(holidays=(date(2026, 11, 4),))
    assert _rules(early, AccessAuditSettings(hours=holiday)) == [("off-hours access", "dave")]


def test_bulk_download_threshold_within_the_window():
    spread = _log(*[(k * 4, "alice@example.com", "download", "fraud-a", 200) for k in range(20)])  # 76 min
    assert _rules(spread) == []
    dense = _log(*[(k * 3, "alice@example.com", "download", "fraud-a", 200) for k in range(20)])  # 57 min
    found = find_violations(dense, POLICY, AccessAuditSettings())
    assert list(found["rule"]) == ["bulk download"] and found["count"].iloc[0] == 20


def test_denial_burst_and_two_separate_bursts():
    rows = [(k, "dave", "download", "fraud-a", 403) for k in range(5)]
    rows += [(60 + k, "dave", "write", "fraud-a", 401) for k in range(6)]
    rows += [(200 + 5 * k, "dave", "download", "fraud-a", 403) for k in range(5)]  # 20 min apart: no burst
    found = find_violations(_log(*rows), POLICY, AccessAuditSettings())
    assert list(found["rule"]) == ["repeated denials", "repeated denials"]
    assert list(found["count"]) == [5, 6] and list(found["line"]) == [1, 6]
    assert "401" in found["detail"].iloc[1]


def test_verdicts_mask_email_principals_and_report_malformed_lines():
    log = _log((0, "alice@example.com", "download", "churn", 200), malformed=((7, "junk"), (9, "more junk")))
    table = judge_access(audit_access(log, POLICY, AccessAuditSettings()))
    (off_role,) = table.find("off-role access")
    assert off_role.status.value == "FAIL" and "alice@example.com" not in (off_role.subject or "")
    (read,) = table.find("access log")
    assert read.status.value == "WARN" and read.observed == 2 and "line(s) 7, 9" in read.message


def test_summary_per_model_and_principal():
    log = _log(
        (0, "dave", "download", "fraud-a", 200), (1, "dave", "read", "fraud-a", 403), (2, "dave", "read", "churn", 200)
    )
    summary = audit_access(log, POLICY, AccessAuditSettings()).summary.set_index(["model", "principal"])
    assert summary.loc[("fraud-a", "dave"), ["read", "download", "denied", "requests"]].tolist() == [1, 1, 1, 2]
    assert summary.loc[("fraud-a", "dave"), "flags"] == "off-role access"
    assert summary.loc[("churn", "dave"), "flags"] == ""


def test_calendar_parsing_and_bad_settings():
    hours = WorkingHours.parse("07:30-16:00", "Mon,Wed-Thu", "Asia/Tokyo", ("2026-12-25",))
    assert hours.days == (0, 2, 3) and hours.start == time(7, 30) and hours.holidays == (date(2026, 12, 25),)
    with pytest.raises(InputError, match="timezone"):
        WorkingHours("Mars/Olympus")
    with pytest.raises(InputError, match="work_hours"):
        WorkingHours.parse("9-5pm", "Mon-Fri")
    with pytest.raises(InputError, match="work_days"):
        WorkingHours.parse("09:00-17:00", "Monday-Funday")
    with pytest.raises(InputError, match="denial_burst"):
        AccessAuditSettings(denial_burst=0)


def test_masked_principals_stay_apart_within_a_report():
    alice, bob = mask_principal("alice@example.com"), mask_principal("bob@example.com")
    assert "alice" not in alice and alice != bob and alice == mask_principal("alice@example.com")
    assert mask_principal("ci-bot") == "ci-bot"
    with use_policy(MaskingPolicy(operator="redact")):
        assert mask_principal("alice@example.com") == "[email]"


def test_requests_without_a_principal_are_a_warning_not_a_pass():
    log = _log((0, None, "download", "fraud-a", 200), (1, "dave", "read", "fraud-a", 200))
    audit = audit_access(log, POLICY, AccessAuditSettings())
    assert audit.findings.empty and audit.unidentified == 1
    (row,) = judge_access(audit).find("unidentified requests")
    assert row.status.value == "WARN" and row.observed == 1
