"""A training interruption diagnosed from logs and checkpoints: root cause, first stopped rank, resume point."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

from opskit.analyses.faults.findings import ScanResult
from opskit.analyses.faults.scan import scan
from opskit.analyses.training.progress import analyze_training
from opskit.checks import Status
from opskit.runbooks import diagnose_training_interruption as runbook
from opskit.runbooks.diagnose_training_interruption import judge_log_faults, run
from opskit.runbooks.diagnose_training_interruption_result import (
    checkpoint_frame,
    findings_frame,
    loss_frames,
    pace_frames,
    resume_markdown,
)
from opskit.runbooks.display import Markdown, Outputs
from opskit.runbooks.tables import Table
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.training_logs import read_training_logs

SECTIONS = ("root_cause", "stopped_first", "loss", "stalls_and_throughput", "checkpoints", "resume_command")


@pytest.fixture(scope="module")
def hang_logs() -> Path:
    return Path(resolve("sample:training_nccl_hang"))


@pytest.fixture(scope="module")
def hang_checkpoints() -> Path:
    return Path(resolve("sample:training_nccl_hang_checkpoints"))


@pytest.fixture(scope="module")
def hang(hang_logs, hang_checkpoints):
    return run(log_path=str(hang_logs), checkpoint_dir=str(hang_checkpoints))


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
    figures = hang.figures
    assert figures["root_cause"] == "nan_loss" and figures["first_stopped_rank"] == 5
    assert figures["resume_step"] == 1000 and figures["resume_command"] == hang.plan.command
    assert set(loss_frames(hang.training)) >= {"non-finite losses", "spikes"}
    assert all(not frame.empty for frame in loss_frames(hang.training).values())
    assert all(not frame.empty for frame in pace_frames(hang.training).values())
    assert hang.plan.command in resume_markdown(hang.plan)
    assert hang.plan.command in hang.resume_command()
    steps = list(checkpoint_frame(hang.checkpoint_scan)["step"])
    assert steps == sorted(steps, reverse=True)
    assert findings_frame(hang.faults).iloc[0]["fault"] == "nan_loss"


def shown(item) -> list:
    """What a section shows, one item per output."""
    return list(item) if isinstance(item, Outputs) else [item]


def test_sections_show_the_tables_and_each_plot_once(hang):
    plt.close("all")  # figures other tests left open in this worker are not ours to count
    for name in SECTIONS:
        items = shown(getattr(hang, name)())
        assert items and all(isinstance(i, Markdown | pd.DataFrame | Figure) for i in items), name
    assert [type(i) for i in shown(hang.stopped_first())] == [Markdown, Figure, Table]
    assert sum(isinstance(i, Figure) for i in shown(hang.loss())) == 1
    assert "**throughput per rank**" in shown(hang.stalls_and_throughput())
    assert isinstance(hang.checkpoints(), pd.DataFrame) and len(hang.checkpoints()) == 3
    assert plt.get_fignums() == []  # let go by pyplot: a notebook shows each figure where the section puts it


def test_unreadable_logs_become_error_rows_and_the_checkpoints_are_still_judged(tmp_path, hang_checkpoints):
    report = run(log_path=str(tmp_path / "missing"), checkpoint_dir=str(hang_checkpoints))
    statuses = {v.name: v.status for v in report.verdicts}
    assert statuses["training progress"] == Status.ERROR and statuses["log faults"] == Status.ERROR
    assert statuses["resume point"] == Status.PASS
    assert report.training is None and report.faults is None
    assert report.figures["resume_step"] == 1000 and report.figures["first_stopped_rank"] is None
    assert report.root_cause().startswith("**The log scan** is not available")
    for name in ("root_cause", "stopped_first", "loss", "stalls_and_throughput"):
        note = getattr(report, name)()
        assert isinstance(note, Markdown) and "not available" in note and "missing" in note, name
    assert isinstance(report.checkpoints(), pd.DataFrame)


def test_nothing_readable_gives_error_rows_and_every_section_still_shows_something(tmp_path):
    report = run(log_path="sample:no_such_sample", checkpoint_dir=str(tmp_path / "no-checkpoints"))
    assert {v.name: v.status for v in report.verdicts} == {
        "training progress": Status.ERROR,
        "log faults": Status.ERROR,
        "checkpoints": Status.ERROR,
    }
    assert set(report.figures.values()) == {None}
    for name in SECTIONS:
        assert isinstance(getattr(report, name)(), Markdown), name
    assert "checkpoint folder does not exist" in report.checkpoints()
    assert report.resume_command().startswith("no resume command")


def test_checkpoints_skipped_without_a_folder_or_with_the_sample_beside_real_logs(hang_logs, monkeypatch):
    seen = []

    def resolver(value):
        seen.append(value)
        return hang_logs

    monkeypatch.setattr(runbook, "resolve", resolver)
    report = run(log_path="/real/logs", checkpoint_dir="sample:training_nccl_hang_checkpoints")
    (resume,) = [v for v in report.verdicts if v.name == "resume point"]
    assert resume.status == Status.SKIP and report.checkpoint_scan is None and report.plan is None
    assert "sample:training_nccl_hang_checkpoints" not in seen
    assert report.checkpoints().startswith("**The checkpoint scan** is not available: no checkpoint_dir given")
    assert report.resume_command().startswith("no resume command")
    monkeypatch.undo()
    none = run(log_path=str(hang_logs), checkpoint_dir=None)
    assert [v.status for v in none.verdicts if v.name == "resume point"] == [Status.SKIP]
