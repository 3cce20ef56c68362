"""diagnose_training_interruption on its sample incident, and on bad input."""

from __future__ import annotations

import nbformat
import pytest

from opskit.runner import run_runbook
from opskit.samples import resolve

RUNBOOK = "diagnose_training_interruption"


def png_outputs(result) -> int:
    nb = nbformat.read(result.report_dir / f"{RUNBOOK}.ipynb", as_version=4)
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run_runbook(RUNBOOK, {}, reports_dir=tmp_path_factory.mktemp("reports"))


def test_sample_names_rank5_and_resumes_from_step_1000(sample_run):
    summary = sample_run.summary
    assert summary["error"] is None
    assert sample_run.exit_code == 1 and summary["status"] == "FAIL"
    figures = summary["figures"]
    assert figures["first_stopped_rank"] == 5
    assert figures["max_step"] == 1530
    assert figures["ranks"] == 8
    assert figures["nonfinite_loss_records"] == 2
    assert figures["loss_spikes"] == 1
    assert figures["resume_step"] == 1000
    assert figures["resume_checkpoint"].endswith("checkpoint-1000")
    assert "--resume_from_checkpoint" in figures["resume_command"]
    assert figures["resume_command"].split()[-1] == figures["resume_checkpoint"]


def test_sample_verdicts_per_rank_and_checkpoint(sample_run):
    (progress,) = sample_run.checks("rank progress", "rank 5")
    assert progress["status"] == "FAIL" and progress["observed"] == 1520 and progress["threshold"] == 1530
    assert {c["status"] for c in sample_run.checks("rank progress") if c["subject"] != "rank 5"} == {"PASS"}
    (nan,) = sample_run.checks("loss finite")
    assert nan["subject"] == "rank 5" and nan["status"] == "FAIL" and "rank5.log" in nan["evidence"]
    (spike,) = sample_run.checks("loss spikes")
    assert spike["subject"] == "rank 3" and spike["status"] == "WARN"
    (incomplete,) = sample_run.checks("checkpoint complete", "checkpoint-1500")
    assert incomplete["status"] == "WARN"
    (resume,) = sample_run.checks("resume point")
    assert resume["status"] == "PASS" and resume["subject"] == "checkpoint-1000"
    assert "step 1510" in resume["message"]  # chosen before the first NaN loss


def test_sample_root_cause_is_rank5_not_the_watchdog(sample_run):
    (faults,) = sample_run.checks("log faults")
    assert faults["status"] == "FAIL"
    assert faults["subject"] == "root cause: nan_loss"
    assert "rank5.log" in faults["evidence"]
    (collective,) = sample_run.checks("NCCL collective")
    assert collective["subject"].startswith("SeqNum 48213 ALLREDUCE")
    assert "[5]" in collective["message"]
    assert sample_run.summary["figures"]["root_cause"] == "nan_loss"
    (torchrun,) = sample_run.checks("torchrun first observed failure")
    assert torchrun["status"] == "WARN" and torchrun["subject"] == "rank 0" and torchrun["threshold"] == "rank 5"
    assert "@record" in torchrun["next_step"]


def test_report_shows_the_plots_and_the_resume_command(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    assert png_outputs(sample_run) == 2  # last step per rank, loss per rank: each shown once
    assert "torchrun --nnodes=1 --nproc_per_node=8 train.py --resume_from_checkpoint" in html


def test_missing_log_path_renders_an_error_row_first(tmp_path):
    checkpoints = str(resolve("sample:training_nccl_hang_checkpoints"))
    params = {"log_path": str(tmp_path / "no-such-logs"), "checkpoint_dir": checkpoints}
    result = run_runbook(RUNBOOK, params, reports_dir=tmp_path / "reports")
    checks = result.summary["checks"]
    assert checks[0]["status"] == "ERROR"
    assert checks[0]["name"] in {"training progress", "log faults"}
    assert result.exit_code == 2 and result.summary["error"] is None
    assert result.summary["figures"]["resume_step"] == 1000  # the checkpoints are still judged
    html = result.html_path.read_text(encoding="utf-8")
    assert "ERROR" in html and "no-such-logs" in html


def test_real_logs_never_get_the_sample_checkpoints(tmp_path):
    logs = resolve("sample:training_nccl_hang")
    result = run_runbook(RUNBOOK, {"log_path": str(logs)}, reports_dir=tmp_path / "reports")
    (resume,) = result.checks("resume point")
    assert resume["status"] == "SKIP"
    assert not result.checks("checkpoint complete")
    assert result.summary["figures"]["first_stopped_rank"] == 5  # the logs are still judged
