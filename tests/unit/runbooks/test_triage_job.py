"""Triage verdicts from a scan: one row per fault and rank, root cause FAIL first, consequences WARN."""

from __future__ import annotations

import json
from pathlib import Path

from opskit.analyses.faults.scan import scan
from opskit.checks import Status, VerdictTable
from opskit.runbooks.triage_job import (
    FINDING_COLUMNS,
    LOG_CHECK,
    evidence_text,
    finding_verdicts,
    findings_table,
    keep_evidence,
    next_runbook,
    next_step_text,
    root_cause_details,
    scan_headline,
    system_verdicts,
    triage_checks,
    triage_figures,
)

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def test_root_cause_row_first_and_consequences_warn():
    result = scan(LOGS / "multirank_oom_rank3")
    table = VerdictTable(finding_verdicts(result))
    first = table.rows[0]
    assert (first.name, first.subject, first.status, first.message) == ("cuda_oom", "rank 3", Status.FAIL, "root cause")
    assert "expandable_segments" in first.next_step
    assert {v.subject for v in table.find("nccl_timeout")} == {"rank 0", "rank 1", "rank 2"}
    assert all(v.status == Status.WARN for v in table.find("nccl_timeout"))
    worker = table.find("worker_failed", "rank 3")[0]
    assert "@record" in worker.next_step


def test_independent_faults_of_the_same_tier_both_fail(tmp_path):
    (tmp_path / "rank0.log").write_text("2026-11-28 10:00:00 RuntimeError: CUDA out of memory.\n")
    (tmp_path / "rank1.log").write_text("2026-11-28 10:05:00 _pickle.UnpicklingError: invalid load key, 'x'.\n")
    rows = finding_verdicts(scan(tmp_path))
    assert [(v.name, v.status) for v in rows] == [("cuda_oom", Status.FAIL), ("corrupt_checkpoint", Status.FAIL)]


def test_no_finding_is_one_pass_row():
    result = scan(LOGS / "healthy_hf_trainer.log")
    (row,) = finding_verdicts(result)
    assert (row.name, row.status, row.observed) == (LOG_CHECK, Status.PASS, 0)
    assert next_runbook(result) is None
    assert triage_figures(result)["root_cause"] is None


def test_figures_name_the_next_runbook_and_watchdog():
    f = triage_figures(scan(LOGS / "multirank_oom_rank3"))
    assert f["next_runbook"] == "diagnose_gpu_oom" and f["root_cause_rank"] == 3
    assert f["nccl_missing_ranks"] == [3] and f["nccl_seq_num"] == 9020
    assert triage_figures(None) == {"findings": None, "root_cause": None}


def test_xid_action_in_next_step():
    (row, *_) = finding_verdicts(scan(LOGS / "gpu_hardware_xid79.log"))
    assert "drain and reboot" in row.next_step


# ------------------------------------------------------------------------------- the runbook's calls
def test_triage_checks_scan_the_logs_and_run_the_system_checks(tmp_path):
    verdicts, found = triage_checks(LOGS / "multirank_oom_rank3", [tmp_path])
    assert found is not None and found.root_cause.rank == 3
    assert verdicts.rows[0].name == "cuda_oom" and verdicts.rows[0].status == Status.FAIL
    system = system_verdicts(verdicts)
    assert {"disk space", "host memory", "GPU state", "driver and CUDA"} <= {v.name for v in system}
    assert not {v.name for v in system} & {"cuda_oom", "nccl_timeout", LOG_CHECK}


def test_unreadable_logs_are_an_error_row_and_the_system_checks_still_run(tmp_path):
    verdicts, found = triage_checks(tmp_path / "no-such-job", [tmp_path])
    assert found is None
    first = verdicts.rows[0]
    assert first.name == LOG_CHECK and first.status == Status.ERROR and "no-such-job" in first.message
    assert "disk space" in {v.name for v in verdicts}
    assert scan_headline(None).startswith("The logs could not be scanned")
    assert findings_table(None).empty and evidence_text(None) == ""
    assert root_cause_details(None) == "No root cause to detail."
    assert "sacct" in next_step_text(None, tmp_path) and keep_evidence(None, tmp_path, tmp_path / "keep") is None


def test_findings_evidence_and_details_of_the_root_cause():
    found = scan(LOGS / "multirank_oom_rank3")
    assert scan_headline(found).startswith("**Why this order:**")
    table = findings_table(found, n=5)
    assert len(table) == 5 and list(table.columns) == FINDING_COLUMNS
    assert (table.iloc[0]["fault"], table.iloc[0]["rank"]) == ("cuda_oom", 3)
    text = evidence_text(found, max_findings=2, context=1)
    headers = [line for line in text.splitlines() if line.startswith("== ")]
    assert len(headers) == 2 and headers[0].startswith("== cuda_oom rank 3")
    assert sum(line.startswith(">") for line in text.splitlines()) == 2  # one marked line per finding
    details = root_cause_details(found)
    assert details.startswith("**cuda_oom**") and "NCCL watchdog" in details and "SeqNum 9020" in details
    assert "offset" not in details
    assert "opskit run diagnose_gpu_oom -p log_path" in next_step_text(found, LOGS / "multirank_oom_rank3")


def test_healthy_logs_have_nothing_to_detail():
    found = scan(LOGS / "healthy_hf_trainer.log")
    assert scan_headline(found).startswith("No known fault signature in 1 file(s)")
    assert findings_table(found).empty and evidence_text(found) == ""


def test_keep_evidence_copies_the_logs_with_the_findings(tmp_path):
    found = scan(LOGS / "multirank_oom_rank3")
    manifest = keep_evidence(found, LOGS / "multirank_oom_rank3", tmp_path / "incident")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert len(data["files"]) == len(list((LOGS / "multirank_oom_rank3").iterdir()))
    assert data["findings"][0]["fault"] == "cuda_oom" and (manifest.parent / "SHA256SUMS").exists()
    assert keep_evidence(found, LOGS / "multirank_oom_rank3", None) is None
