"""A training interruption diagnosed from logs and checkpoints: root cause, first stopped rank, resume point."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from opskit.analyses.faults.findings import ScanResult
from opskit.analyses.faults.scan import scan
from opskit.analyses.training.progress import analyze_training
from opskit.checks import Status
from opskit.runbooks.diagnose_training_interruption import (
    diagnose_interruption,
    judge_log_faults,
    judge_resume,
)
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.checkpoints import find_checkpoints
from opskit.sources.training_logs import read_training_logs


@pytest.fixture(scope="module")
def hang_logs() -> Path:
    return Path(resolve("sample:training_nccl_hang"))


@pytest.fixture(scope="module")
def hang_checkpoints() -> Path:
    return Path(resolve("sample:training_nccl_hang_checkpoints"))


@pytest.fixture(scope="module")
def hang(hang_logs, hang_checkpoints):
    return diagnose_interruption(str(hang_logs), str(hang_checkpoints))


def by_name(rows, name):
    return [v for v in rows if v.name == name]


def test_clean_logs_pass_without_a_watchdog_report():
    found = ScanResult(findings=[], root_cause=None, ranking_reason="", files_read=1, lines_read=3, bytes_read=90)
    rows, watchdog = judge_log_faults(found)
    assert [(v.name, v.status) for v in rows] == [("log faults", Status.PASS)]
    assert watchdog is None


def test_root_cause_torchrun_blame_and_the_collective_the_others_waited_on(hang_logs):
    training = analyze_training(read_training_logs(hang_logs))
    rows, watchdog = judge_log_faults(scan(hang_logs), training)
    (faults,) = by_name(rows, "log faults")
    assert faults.status == Status.FAIL and faults.subject == "root cause: nan_loss"
    # torchrun names the first process it saw exit (rank 0, aborted by the watchdog), not rank 5
    (torchrun,) = by_name(rows, "torchrun first observed failure")
    assert torchrun.status == Status.WARN and torchrun.threshold == "rank 5"
    (collective,) = by_name(rows, "NCCL collective")
    assert collective.status == Status.FAIL
    assert watchdog is not None and 5 in set(watchdog.lagging_ranks) | set(watchdog.missing_ranks)
    assert "[5]" in collective.message


def test_without_training_progress_the_root_cause_rank_is_the_cause(hang_logs):
    found = scan(hang_logs)
    rows, _ = judge_log_faults(found, None)
    (torchrun,) = by_name(rows, "torchrun first observed failure")
    assert torchrun.threshold == f"rank {found.root_cause.rank}"


def test_one_nccl_timeout_log_gives_the_collective_without_training(fixtures):
    rows, watchdog = judge_log_faults(scan(fixtures / "logs" / "nccl_timeout_rank0.log"))
    assert watchdog is not None
    (collective,) = by_name(rows, "NCCL collective")
    assert collective.subject == f"SeqNum {watchdog.seq_num} {watchdog.op_type}"
    assert collective.observed == len(watchdog.timed_out_ranks)


def test_resume_point_is_before_the_first_nan_loss(hang_checkpoints):
    found = find_checkpoints(hang_checkpoints, world_size=8)
    # the sample holds complete checkpoints at steps 500 and 1000 and an incomplete one at 1500
    rows, plan = judge_resume(found, None)
    assert plan.checkpoint.step == 1000
    rows, plan = judge_resume(found, SimpleNamespace(first_nonfinite_step=800), launcher="torchrun", script="x.py")
    assert plan.checkpoint.step == 500 and plan.command.startswith("torchrun ") and " x.py " in plan.command
    (resume,) = by_name(rows, "resume point")
    assert resume.status == Status.PASS and resume.observed == 500 and resume.next_step == plan.command
    assert {v.subject for v in rows if v.name == "checkpoint complete" and v.status == Status.WARN} >= {
        "checkpoint-1000"
    }  # complete, but saved after the first NaN
    rows, plan = judge_resume(found, SimpleNamespace(first_nonfinite_step=100))
    assert plan is None and by_name(rows, "resume point")[0].status == Status.FAIL


@pytest.mark.parametrize(
    ("value", "main", "expected"),
    [
        ("sample:ckpts", "/var/log/train", True),
        ("sample:ckpts", "sample:logs", False),
        ("/data/run", "/var/log/train", False),
        (None, "/var/log/train", False),
    ],
)
def test_sample_beside_real_input(value, main, expected):
    assert sample_beside_real_input(value, main) is expected


def test_sample_incident_end_to_end(hang):
    assert [v.status for v in hang.verdicts if v.name == "rank progress" and v.subject == "rank 5"] == [Status.FAIL]
    figures = hang.figures()
    assert figures["root_cause"] == "nan_loss" and figures["first_stopped_rank"] == 5
    assert figures["resume_step"] == 1000 and figures["resume_command"] == hang.plan.command
    assert set(hang.loss_tables()) >= {"non-finite losses", "spikes"}
    assert all(not frame.empty for frame in hang.loss_tables().values())
    assert hang.plan.command in hang.resume_markdown()
    assert list(hang.checkpoint_table()["step"]) == sorted(hang.checkpoint_table()["step"], reverse=True)
    assert hang.findings_table().iloc[0]["fault"] == "nan_loss"


def test_unreadable_logs_become_error_rows_and_the_checkpoints_are_still_judged(tmp_path, hang_checkpoints):
    report = diagnose_interruption(str(tmp_path / "missing"), str(hang_checkpoints))
    statuses = {v.name: v.status for v in report.verdicts}
    assert statuses["training progress"] == Status.ERROR and statuses["log faults"] == Status.ERROR
    assert statuses["resume point"] == Status.PASS
    assert report.training is None and report.faults is None
    assert report.figures()["resume_step"] == 1000 and report.figures()["first_stopped_rank"] is None
    assert report.faults_headline().startswith("the log scan did not run")
    assert report.findings_table().empty and report.loss_tables() == {}


def test_checkpoints_skipped_without_a_folder_or_with_the_sample_beside_real_logs(hang_logs):
    seen = []

    def resolver(value):
        seen.append(value)
        return hang_logs

    report = diagnose_interruption("/real/logs", "sample:training_nccl_hang_checkpoints", resolver=resolver)
    (resume,) = [v for v in report.verdicts if v.name == "resume point"]
    assert resume.status == Status.SKIP and report.checkpoints is None and report.plan is None
    assert "sample:training_nccl_hang_checkpoints" not in seen
    assert report.checkpoint_table().empty and report.resume_markdown().startswith("no resume command")
    none = diagnose_interruption(str(hang_logs), None)
    assert [v.status for v in none.verdicts if v.name == "resume point"] == [Status.SKIP]
