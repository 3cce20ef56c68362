"""Training verdicts: the first stopped rank, NaN ranks, spikes, throughput, stalls and torchrun's report."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.analyses.training.progress import analyze_training
from opskit.analyses.training.verdicts import judge_torchrun_report, judge_training
from opskit.sources.training_logs import read_training_logs

FIXTURES = Path(__file__).parents[3] / "fixtures" / "training"


def test_judge_training_fails_the_first_stopped_rank_and_the_nan_rank_only():
    result = analyze_training(read_training_logs(FIXTURES / "torchtitan_colored_rank1_nan_step25.log"))
    rows = judge_training(result)
    by_key = {(v.name, v.subject): v for v in rows}
    assert by_key[("rank progress", "rank 1")].status == "FAIL"
    assert by_key[("rank progress", "rank 0")].status == "PASS"
    nan = by_key[("loss finite", "rank 1")]
    assert nan.status == "FAIL" and nan.observed == 1 and "torchtitan_colored" in nan.evidence
    assert by_key[("loss spikes", "all ranks")].status == "PASS"


def test_torchrun_report_is_a_consequence_when_it_names_another_rank():
    report = {"root_cause": {"rank": 0, "exitcode": -6, "signal": "SIGABRT", "error_file": "<N/A>"}}
    warn = judge_torchrun_report(report, where="torchrun.log:13", cause_rank=5)
    assert warn.status == "WARN" and warn.subject == "rank 0" and warn.threshold == "rank 5"
    agree = judge_torchrun_report(report, where="torchrun.log:13", cause_rank=0)
    assert agree.status == "PASS"
    assert judge_torchrun_report({"failures": ()}, where="x", cause_rank=0) is None


def test_no_throughput_in_the_logs_gives_no_throughput_verdict():
    result = analyze_training(read_training_logs(FIXTURES / "hf_trainer_nan_loss.log"))
    assert result.throughput.empty
    assert not [v for v in judge_training(result) if v.name == "throughput"]


def write_throughput_logs(folder: Path, speed) -> Path:
    """Four rank logs of 60 steps each; ``speed(rank, step)`` gives the tokens/s a record prints."""
    for rank in range(4):
        lines = [f"step={s} loss=2.0 tokens_per_s={speed(rank, s):.0f}" for s in range(1, 61)]
        (folder / f"rank{rank}.log").write_text("\n".join(lines) + "\n")
    return folder


def test_a_straggler_rank_warns_against_the_median_rank(tmp_path):
    logs = write_throughput_logs(tmp_path, lambda rank, step: 28000 if rank == 1 else 40000)
    rows = [v for v in judge_training(analyze_training(read_training_logs(logs))) if v.name == "throughput"]
    (straggler,) = rows
    assert straggler.status == "WARN" and straggler.subject == "rank 1" and straggler.unit == "tokens/s"
    # its median 28000 against 80 % of the median rank's 40000
    assert straggler.observed == pytest.approx(28000) and straggler.threshold == pytest.approx(32000)


def test_every_rank_slowing_down_together_is_one_verdict(tmp_path):
    logs = write_throughput_logs(tmp_path, lambda rank, step: 20000 if step > 45 else 40000)
    rows = [v for v in judge_training(analyze_training(read_training_logs(logs))) if v.name == "throughput"]
    assert [(v.status, v.subject) for v in rows] == [("WARN", "all ranks")]
    assert rows[0].observed == pytest.approx(20000)


def test_steady_throughput_passes_and_a_stall_warns_for_its_rank(tmp_path):
    logs = write_throughput_logs(tmp_path, lambda rank, step: 40000)
    rows = judge_training(analyze_training(read_training_logs(logs)))
    assert [v.status for v in rows if v.name == "throughput"] == ["PASS"]
    assert [(v.status, v.subject) for v in rows if v.name == "stalls"] == [("PASS", "all ranks")]
    stalled = judge_training(analyze_training(read_training_logs(FIXTURES / "torchrun_prefixed_stall_rank0.log")))
    (stall,) = [v for v in stalled if v.name == "stalls"]
    assert stall.status == "WARN" and stall.subject == "rank 0" and stall.observed == pytest.approx(31 * 60)
