"""A scan judged: one row per fault and rank, root cause FAIL first, consequences WARN, Xid actions in the next step."""

from __future__ import annotations

from pathlib import Path

from opskit.analyses.faults.scan import scan
from opskit.analyses.faults.verdicts import LOG_CHECK, finding_subject, finding_verdicts
from opskit.checks import Status, VerdictTable

LOGS = Path(__file__).resolve().parents[3] / "fixtures" / "logs"


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


def test_xid_action_in_next_step():
    (row, *_) = finding_verdicts(scan(LOGS / "gpu_hardware_xid79.log"))
    assert "drain and reboot" in row.next_step


def test_no_finding_is_one_pass_row_naming_what_was_read():
    (row,) = finding_verdicts(scan(LOGS / "healthy_hf_trainer.log"))
    assert (row.name, row.status, row.subject) == (LOG_CHECK, Status.PASS, "1 file(s)")
    assert "lines" in row.message


def test_subject_is_the_rank_else_the_file_name():
    result = scan(LOGS / "multirank_oom_rank3")
    assert finding_subject(result.root_cause) == "rank 3"
    (row, *_) = scan(LOGS / "disk_full_checkpoint.log").findings
    assert finding_subject(row) == "disk_full_checkpoint.log"
