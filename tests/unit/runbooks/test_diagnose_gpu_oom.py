"""A CUDA OOM diagnosed: the first OOM message judged, the job's estimate with the message's facts, the report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from opskit.analyses.faults.cuda_oom import CudaOom
from opskit.analyses.faults.scan import scan
from opskit.analyses.memory.estimate import JobConfig
from opskit.checks import Status, VerdictTable
from opskit.runbooks.diagnose_gpu_oom import OomReport, diagnose_oom, judge_job_memory, judge_oom_scan
from opskit.samples import resolve

LOGS = Path(__file__).parents[2] / "fixtures" / "logs"
GIB_MIB = 1024.0


def oom(**figures) -> CudaOom:
    base = dict(gpu=0, requested_mib=2048.0, total_mib=80 * GIB_MIB, free_mib=512.0, allocated_mib=70 * GIB_MIB,
                reserved_unallocated_mib=3 * GIB_MIB, process_in_use_mib=76 * GIB_MIB, other_processes=(),
                classification="capacity", expandable_segments_set=False, suggestion="lower the peak")  # fmt: skip
    return CudaOom(**{**base, **figures})


def test_the_first_oom_message_is_read_and_judged():
    verdict, found, finding = judge_oom_scan(scan(LOGS / "cuda_oom_pytorch2.log"))
    assert verdict.name == "cuda oom" and verdict.status == Status.FAIL
    # "Tried to allocate 3.91 GiB ... of which 2.01 GiB is free"
    assert verdict.observed == pytest.approx(3.91) and verdict.threshold == pytest.approx(2.01)
    assert found.total_mib == pytest.approx(79.25 * 1024) and finding.fault == "cuda_oom"
    assert verdict.evidence.startswith(finding.where)


def test_a_log_without_oom_warns_and_names_the_root_cause_instead():
    verdict, found, finding = judge_oom_scan(scan(LOGS / "nan_loss_hf_trainer.log"))
    assert verdict.status == Status.WARN and verdict.observed == 0
    assert "nan_loss" in verdict.message
    assert found is None and finding is None


def test_the_oom_message_gives_the_capacity_unless_it_is_set_explicitly():
    config = JobConfig(params=7e9, layers=32, hidden_size=4096, vocab_size=32000, gpus=8, gpu_memory_gib=40.0)
    rows, estimate, remedies, plan = judge_job_memory(config, oom())
    assert estimate.capacity_gib == pytest.approx(80.0)
    assert [v.name for v in rows] == ["memory estimate", "estimate explains the OOM"]
    _, explicit, _, _ = judge_job_memory(config, oom(), gpu_memory_gib=141.0)
    assert explicit.capacity_gib == pytest.approx(141.0)
    (expandable,) = [r for r in remedies if r.name == "allocator expandable_segments"]
    assert expandable.saving_gib == pytest.approx(3.0)  # the message's reserved-but-unallocated memory
    assert [r.saving_gib for r in remedies if r.saving_gib is not None] == sorted(
        (r.saving_gib for r in remedies if r.saving_gib is not None), reverse=True
    )
    assert not plan or plan[-1].total_after_gib < estimate.total_gib


def test_without_a_message_only_the_estimate_is_judged_and_set_segments_are_not_offered():
    config = JobConfig(params=7e9, gpu_memory_gib=80.0)
    rows, estimate, _, _ = judge_job_memory(config)
    assert [v.name for v in rows] == ["memory estimate"] and estimate.capacity_gib == 80.0
    _, _, remedies, _ = judge_job_memory(config, oom(expandable_segments_set=True))
    assert "allocator expandable_segments" not in [r.name for r in remedies]
    _, _, remedies, _ = judge_job_memory(replace(config, expandable_segments=True))
    assert "allocator expandable_segments" not in [r.name for r in remedies]


def test_sample_oom_end_to_end():
    report = diagnose_oom("sample:gpu_oom_job", "sample:gpu_oom_job_config")
    names = {v.name: v.status for v in report.verdicts}
    assert names == {"cuda oom": Status.FAIL, "memory estimate": Status.FAIL, "estimate explains the OOM": Status.PASS}
    assert report.held_gib == pytest.approx(report.oom.process_in_use_mib / 1024)
    assert report.oom_headline().startswith(f"`{report.finding.where}`")
    assert set(report.oom_figures_gib()) >= {"requested_gib", "total_gib", "free_gib"}
    table = report.remedies_table()
    assert list(table["rank"]) == list(range(1, len(report.remedies) + 1))
    assert report.plan and report.plan[-1].fits_after
    assert f"to {report.plan[-1].total_after_gib:.1f} GiB per GPU (fits" in report.plan_summary()
    figures = report.figures()
    assert figures["top_remedy"] == report.remedies[0].name and figures["plan_to_fit"] == [r.name for r in report.plan]
    assert figures["fits"] is False and figures["oom_class"] == "capacity"


def test_the_sample_config_is_never_estimated_beside_a_real_log():
    asked = []

    def resolver(value):
        asked.append(value)
        return resolve("sample:gpu_oom_job")

    report = diagnose_oom("/var/log/train/rank5.log", "sample:gpu_oom_job_config", resolver=resolver)
    (estimate,) = [v for v in report.verdicts if v.name == "memory estimate"]
    assert estimate.status == Status.SKIP and asked == ["/var/log/train/rank5.log"]
    assert report.estimate is None and report.figures()["fits"] is None
    assert "no memory estimate" in report.plan_summary()
    assert report.oom is not None  # the log is still judged
    none = diagnose_oom("sample:gpu_oom_job", None)
    assert [v.status for v in none.verdicts if v.name == "memory estimate"] == [Status.SKIP]


def test_unreadable_inputs_become_error_rows(tmp_path):
    config = tmp_path / "job.json"
    config.write_text('{"params_b": 7, "precision": "fp12"}')
    report = diagnose_oom(str(tmp_path / "missing.log"), str(config))
    statuses = {v.name: v.status for v in report.verdicts}
    assert statuses == {"cuda oom": Status.ERROR, "memory estimate": Status.ERROR}
    assert report.oom_headline().startswith("no CUDA OOM figures") and report.oom_figures_gib() == {}
    assert report.remedies_table().empty and report.plan_table().empty


def test_a_job_that_fits_has_nothing_to_combine():
    rows, estimate, remedies, plan = judge_job_memory(JobConfig(params=1e9, gpu_memory_gib=80.0))
    assert estimate.fits and plan == []
    report = OomReport(VerdictTable(rows), estimate=estimate, remedies=tuple(remedies))
    assert report.plan_summary().startswith("nothing to combine") and report.plan_table().empty
