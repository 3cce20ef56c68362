"""audit_model_access on its sample week: every planted violation flagged, nothing else; and on bad input."""

from __future__ import annotations

import re

import pytest

from opskit.runner import run_runbook
from opskit.samples import resolve

RUNBOOK = "audit_model_access"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run_runbook(RUNBOOK, {}, reports_dir=tmp_path_factory.mktemp("reports"))


def _first_line(predicate) -> int:
    """The number of the first raw sample line the predicate accepts (read independently of the reader)."""
    lines = resolve("sample:registry_access").read_text().splitlines()
    return next(n for n, text in enumerate(lines, start=1) if predicate(text))


def _line_of(check: dict) -> int:
    return int(re.match(r"line (\d+):", check["evidence"]).group(1))


def test_flags_every_planted_violation_and_nothing_else(sample_run):
    assert sample_run.summary["error"] is None
    flagged = [c for c in sample_run.summary["checks"] if c["status"] in ("FAIL", "WARN", "ERROR")]
    assert sorted(c["name"] for c in flagged) == [
        "bulk download",
        "new principal",
        "off-hours access",
        "off-role access",
        "repeated denials",
    ]
    by_name = {c["name"]: c for c in flagged}
    # off-role: dave (viewer) downloading fraud-detector, and it succeeded
    off_role = by_name["off-role access"]
    assert off_role["status"] == "FAIL" and off_role["observed"] == 2 and "fraud-detector" in off_role["evidence"]
    assert _line_of(off_role) == _first_line(lambda t: "dave@" in t and "get-download-uri" in t and '" 200 ' in t)
    # the bulk download at night, and that same night seen by the calendar
    bulk, night = by_name["bulk download"], by_name["off-hours access"]
    assert bulk["status"] == "FAIL" and bulk["observed"] == 40 and night["observed"] == 40
    assert _line_of(bulk) == _line_of(night) == _first_line(lambda t: "bob@" in t and ":02:" in t.split("[")[1][:15])
    denials = by_name["repeated denials"]
    assert denials["observed"] == 8 and _line_of(denials) == _first_line(lambda t: "carol@" in t and '" 403 ' in t)
    new = by_name["new principal"]
    assert new["status"] == "WARN" and _line_of(new) == _first_line(lambda t: "frank@" in t)
    assert sample_run.exit_code == 1
    figures = sample_run.summary["figures"]
    assert figures["malformed_lines"] == 0 and figures["principals"] == 6


def test_report_masks_email_principals(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    assert "@example.com" not in html
    assert "fraud-detector" in html and "ci-bot" in html  # the per model and principal summary is shown


def test_unknown_role_and_malformed_lines(tmp_path):
    log = tmp_path / "access.log"
    good = resolve("sample:registry_access").read_text().splitlines()[:30]
    log.write_text("\n".join([*good[:10], "this is not an access line", *good[10:]]) + "\n")
    policy = tmp_path / "rbac.yaml"
    policy.write_text("roles:\n  viewer: {actions: [read]}\nprincipals:\n  dave: [auditor]\n")
    bad = run_runbook(RUNBOOK, {"access_log": str(log), "policy": str(policy)}, reports_dir=tmp_path / "r1")
    (error,) = bad.checks("rbac policy")
    assert error["status"] == "ERROR" and "rbac.yaml:4" in error["message"] and "auditor" in error["message"]
    assert bad.exit_code == 2 and bad.summary["error"] is None
    policy.write_text(resolve("sample:registry_access_policy").read_text())
    partial = run_runbook(RUNBOOK, {"access_log": str(log), "policy": str(policy)}, reports_dir=tmp_path / "r2")
    (read,) = partial.checks("access log")
    assert read["status"] == "WARN" and read["observed"] == 1 and "line(s) 11" in read["message"]
    assert partial.summary["figures"]["requests"] == 30


def test_sample_policy_is_never_judged_beside_a_real_log(tmp_path):
    from opskit.runbooks.audit_model_access import run

    log = tmp_path / "access.log"
    log.write_text(resolve("sample:registry_access").read_text())
    result = run(access_log=str(log))
    (error,) = result.verdicts.find("rbac policy")
    assert error.status.value == "ERROR" and "-p policy" in error.next_step
    assert result.audit is None and "not available" in result.summary_table()
