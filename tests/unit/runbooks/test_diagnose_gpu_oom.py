"""A CUDA OOM diagnosed: the first OOM message judged, the job's estimate with the message's figures, the result."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from opskit.analyses.faults.cuda_oom import CudaOom
from opskit.analyses.faults.scan import scan
from opskit.analyses.memory.verdicts import judge_job_memory
from opskit.checks import Status, VerdictTable
from opskit.runbooks import diagnose_gpu_oom
from opskit.runbooks.diagnose_gpu_oom import judge_oom_scan, run
from opskit.runbooks.diagnose_gpu_oom_result import DiagnoseGpuOomResult, OomMessage
from opskit.runbooks.display import Markdown, Outputs
from opskit.samples import resolve
from opskit.sources.job_config import JobConfig

matplotlib.use("Agg")

LOGS = Path(__file__).parents[2] / "fixtures" / "logs"
GIB_MIB = 1024.0


def oom(**figures) -> CudaOom:
    base = dict(gpu=0, requested_mib=2048.0, total_mib=80 * GIB_MIB, free_mib=512.0, allocated_mib=70 * GIB_MIB,
                reserved_unallocated_mib=3 * GIB_MIB, process_in_use_mib=76 * GIB_MIB, other_processes=(),
                classification="capacity", expandable_segments_set=False, suggestion="lower the peak")  # fmt: skip
    return CudaOom(**{**base, **figures})


def figures_of(parsed: CudaOom):
    return OomMessage("train.log:1", "CUDA out of memory.", parsed).figures


def is_unavailable(note) -> bool:
    return isinstance(note, Markdown) and "is not available" in note


def test_the_first_oom_message_is_read_and_judged():
    verdict, message = judge_oom_scan(scan(LOGS / "cuda_oom_pytorch2.log"))
    assert verdict.name == "cuda oom" and verdict.status == Status.FAIL
    # "Tried to allocate 3.91 GiB ... of which 2.01 GiB is free"
    assert verdict.observed == pytest.approx(3.91) and verdict.threshold == pytest.approx(2.01)
    assert message.parsed.total_mib == pytest.approx(79.25 * 1024)
    assert verdict.evidence.startswith(message.where)


def test_a_log_without_oom_warns_and_names_the_root_cause_instead():
    verdict, message = judge_oom_scan(scan(LOGS / "nan_loss_hf_trainer.log"))
    assert verdict.status == Status.WARN and verdict.observed == 0
    assert "nan_loss" in verdict.message
    assert message is None


def test_the_oom_message_gives_the_capacity_unless_it_is_set_explicitly():
    config = JobConfig(params=7e9, layers=32, hidden_size=4096, vocab_size=32000, gpus=8, gpu_memory_gib=40.0)
    memory = judge_job_memory(config, figures_of(oom()))
    assert memory.estimate.capacity_gib == pytest.approx(80.0)
    assert [v.name for v in memory.verdicts] == ["memory estimate", "estimate explains the OOM"]
    explicit = judge_job_memory(config, figures_of(oom()), gpu_memory_gib=141.0)
    assert explicit.estimate.capacity_gib == pytest.approx(141.0)
    (expandable,) = [r for r in memory.remedies if r.name == "allocator expandable_segments"]
    assert expandable.saving_gib == pytest.approx(3.0)  # the message's reserved-but-unallocated memory
    assert [r.saving_gib for r in memory.remedies if r.saving_gib is not None] == sorted(
        (r.saving_gib for r in memory.remedies if r.saving_gib is not None), reverse=True
    )
    assert not memory.plan or memory.plan[-1].total_after_gib < memory.estimate.total_gib


def test_without_a_message_only_the_estimate_is_judged_and_set_segments_are_not_offered():
    config = JobConfig(params=7e9, gpu_memory_gib=80.0)
    memory = judge_job_memory(config)
    assert [v.name for v in memory.verdicts] == ["memory estimate"] and memory.estimate.capacity_gib == 80.0
    remedies = judge_job_memory(config, figures_of(oom(expandable_segments_set=True))).remedies
    assert "allocator expandable_segments" not in [r.name for r in remedies]
    remedies = judge_job_memory(replace(config, expandable_segments=True)).remedies
    assert "allocator expandable_segments" not in [r.name for r in remedies]


def test_sample_oom_end_to_end():
    result = run()
    names = {v.name: v.status for v in result.verdicts}
    assert names == {"cuda oom": Status.FAIL, "memory estimate": Status.FAIL, "estimate explains the OOM": Status.PASS}
    assert result.held_gib == pytest.approx(result.message.parsed.process_in_use_mib / 1024)
    assert result.oom_headline().startswith(f"`{result.message.where}`")
    assert "diagnose_gpu_oom" not in result.oom_headline()  # no pointer to the runbook it is in
    assert set(result.oom_figures()["figure"]) >= {"requested_gib", "total_gib", "free_gib"}
    assert "out of memory" in result.oom_excerpt()
    table = result.remedies_table()
    assert list(table["rank"]) == list(range(1, len(result.memory.remedies) + 1))
    plan = result.memory.plan
    assert plan and plan[-1].fits_after
    assert f"to {plan[-1].total_after_gib:.1f} GiB per GPU (fits" in result.plan_summary()
    figures = result.figures
    assert figures["top_remedy"] == result.memory.remedies[0].name and figures["plan_to_fit"] == [r.name for r in plan]
    assert figures["fits"] is False and figures["oom_class"] == "capacity"
    assert isinstance(result.estimate_table(), pd.DataFrame) and not isinstance(result.memory_breakdown(), Markdown)


def test_the_sample_config_is_never_estimated_beside_a_real_log(monkeypatch):
    asked = []

    def resolver(value):
        asked.append(value)
        return resolve("sample:gpu_oom_job")

    monkeypatch.setattr(diagnose_gpu_oom, "resolve", resolver)
    result = run(log_path="/var/log/train/rank5.log", job_config="sample:gpu_oom_job_config")
    (estimate,) = [v for v in result.verdicts if v.name == "memory estimate"]
    assert estimate.status == Status.SKIP and asked == ["/var/log/train/rank5.log"]
    assert result.memory is None and result.figures["fits"] is None
    assert is_unavailable(result.plan_summary()) and "no job_config given" in result.plan_summary()
    assert result.message is not None  # the log is still judged
    monkeypatch.undo()
    none = run(job_config=None)
    assert [v.status for v in none.verdicts if v.name == "memory estimate"] == [Status.SKIP]


def test_unreadable_inputs_become_error_rows_and_every_section_still_shows(tmp_path):
    config = tmp_path / "job.json"
    config.write_text('{"params_b": 7, "precision": "fp12"}')
    result = run(log_path=str(tmp_path / "missing.log"), job_config=str(config))
    statuses = {v.name: v.status for v in result.verdicts}
    assert statuses == {"cuda oom": Status.ERROR, "memory estimate": Status.ERROR}
    assert is_unavailable(result.oom_headline()) and is_unavailable(result.oom_figures())
    assert is_unavailable(result.remedies_table()) and is_unavailable(result.plan_table())
    sections = [result.oom_headline, result.oom_excerpt, result.oom_figures, result.oom_message,
                result.memory_breakdown, result.estimate_table, result.remedies_table, result.plan_summary,
                result.plan_table, result.plan]  # fmt: skip
    for section in sections:
        shown = section()
        assert isinstance(shown, Markdown | Outputs), section.__name__
    assert "fp12" in result.estimate_table()
    assert all(value in (None, []) for value in result.figures.values())


def test_a_log_without_oom_still_estimates_and_says_why_the_oom_sections_are_empty(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("step=1 loss=2.0\nstep=2 loss=1.9\n")
    config = tmp_path / "job.json"
    config.write_text('{"params_b": 7, "gpus": 8, "zero_stage": 1, "gpu_memory_gib": 80}')
    result = run(log_path=str(log), job_config=str(config))
    assert [v.status for v in result.verdicts.find("cuda oom")] == [Status.WARN]
    assert "no CUDA out-of-memory message" in result.oom_message()[0]
    assert isinstance(result.remedies_table(), pd.DataFrame) and result.held_gib is None


def test_a_job_that_fits_has_nothing_to_combine():
    memory = judge_job_memory(JobConfig(params=1e9, gpu_memory_gib=80.0))
    assert memory.estimate.fits and memory.plan == ()
    result = DiagnoseGpuOomResult(VerdictTable(list(memory.verdicts)), memory=memory)
    assert result.plan_summary().startswith("nothing to combine") and isinstance(result.plan_table(), Markdown)
