"""triage_job on its sample (rank 3's CUDA OOM behind ranks 0-2's NCCL timeouts), a healthy job, and bad input."""

from __future__ import annotations

import json

import pytest

from opskit.runner import run_runbook
from opskit.samples import jobs as sample

RUNBOOK = "triage_job"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def sample_run(reports, tmp_path_factory):
    keep = tmp_path_factory.mktemp("incident") / "job-8812"
    return run_runbook(RUNBOOK, {"keep_dir": str(keep)}, reports_dir=reports), keep


def test_root_cause_is_rank3_oom_first_and_timeouts_are_consequences(sample_run):
    run, _ = sample_run
    assert run.summary["error"] is None
    assert run.exit_code == 1
    checks = run.summary["checks"]
    first = checks[0]
    assert (first["name"], first["subject"], first["status"], first["message"]) == (
        "cuda_oom",
        f"rank {sample.OOM_RANK}",
        "FAIL",
        "root cause",
    )
    assert "expandable_segments" in first["next_step"]
    timeouts = run.checks("nccl_timeout")
    assert sorted(c["subject"] for c in timeouts) == ["rank 0", "rank 1", "rank 2"]
    assert all(c["status"] == "WARN" and "consequence of cuda_oom" in c["message"] for c in timeouts)


def test_system_checks_run_first_and_skip_without_gpu(sample_run):
    run, _ = sample_run
    names = {c["name"] for c in run.summary["checks"]}
    assert {"disk space", "host memory", "GPU state", "driver and CUDA"} <= names
    gpu = run.checks("GPU state")
    assert gpu and all(c["status"] in ("SKIP", "PASS", "WARN", "FAIL") for c in gpu)


def test_figures_and_next_runbook(sample_run):
    run, _ = sample_run
    f = run.summary["figures"]
    assert f["root_cause"] == "cuda_oom" and f["root_cause_rank"] == sample.OOM_RANK
    assert f["root_cause_file"].endswith("rank3.log")
    assert f["next_runbook"] == "diagnose_gpu_oom"
    assert f["oom_classification"] == "fragmentation"
    assert f["nccl_seq_num"] == sample.SEQ_AT_HANG and f["nccl_missing_ranks"] == [sample.OOM_RANK]
    assert f["files_read"] == sample.RANKS + 1


def test_report_shows_verdicts_then_evidence_and_next_step(sample_run):
    run, keep = sample_run
    html = run.html_path.read_text(encoding="utf-8")
    assert html.index("opskit-verdict") < html.index('id="Evidence-around-each-finding')  # the section, not its link
    assert "Watchdog caught collective operation timeout" in html
    assert "opskit run diagnose_gpu_oom" in html
    assert "evidence kept in" in html and "NCCL watchdog" in html
    manifest = json.loads((keep / "manifest.json").read_text())
    assert len(manifest["files"]) == sample.RANKS + 1 and manifest["findings"][0]["fault"] == "cuda_oom"


def test_healthy_job_passes(reports):
    run = run_runbook(RUNBOOK, {"log_path": "sample:job_healthy"}, reports_dir=reports)
    assert run.summary["error"] is None
    (logs,) = run.checks("log faults")
    assert logs["status"] == "PASS" and logs["observed"] == 0
    assert run.summary["figures"]["root_cause"] is None


def test_missing_log_path_shows_error_row_first(reports, tmp_path):
    run = run_runbook(RUNBOOK, {"log_path": str(tmp_path / "no-such-job")}, reports_dir=reports)
    assert run.summary["status"] == "ERROR" and run.exit_code == 2 and run.summary["error"] is None
    first = run.summary["checks"][0]
    assert first["name"] == "log faults" and first["status"] == "ERROR"
    assert "no-such-job" in first["message"]
    html = run.html_path.read_text(encoding="utf-8")
    assert html.index("ERROR") < html.index("disk space")
    assert "The logs could not be scanned" in html
