"""The job's memory judged: against the capacity, against the OOM's figures, and the plan to fit."""

from __future__ import annotations

import pytest

from opskit.analyses.memory.estimate import estimate_memory
from opskit.analyses.memory.oom_figures import OomFigures, apply_oom_figures
from opskit.analyses.memory.remedies import plan_to_fit, rank_remedies
from opskit.analyses.memory.verdicts import judge_estimate_against_oom, judge_job_memory, judge_memory
from opskit.checks import Status
from opskit.sources.job_config import JobConfig

NO_OVERHEAD = {"overhead_gib": 0.0}


@pytest.mark.parametrize(
    ("capacity", "status"),
    [(0.0, "SKIP"), (10.0, "FAIL"), (16e9 / 2**30 / 0.95, "WARN"), (40.0, "PASS")],
)
def test_judge_memory_against_capacity(capacity, status):
    est = estimate_memory(JobConfig(params=1e9, gpu_memory_gib=capacity, **NO_OVERHEAD))  # 14.9 GiB
    (row,) = judge_memory(est, rank_remedies(est))
    assert row.status == status


def test_plan_to_fit_combines_changes_when_none_is_enough_alone():
    cfg = JobConfig(params=13e9, precision="bf16", micro_batch_size=8, seq_len=4096, hidden_size=5120, layers=40,
                    attention_heads=40, vocab_size=32000, gpus=8, zero_stage=1, gpu_memory_gib=79.11)  # fmt: skip
    est = estimate_memory(cfg)
    assert not any(r.fits_after for r in rank_remedies(est))
    plan = plan_to_fit(est)
    assert len(plan) >= 2 and plan[-1].fits_after is True
    assert all(not r.fits_after for r in plan[:-1])
    running = est.total_gib
    for step in plan:  # each saving is on top of the steps before it
        assert step.total_after_gib == pytest.approx(running - step.saving_gib)
        running = step.total_after_gib
    assert "smaller micro-batch" not in [r.name for r in plan]  # the global batch stays
    (row,) = judge_memory(est, rank_remedies(est), plan)
    assert row.status == "FAIL" and row.next_step.startswith("no single change is enough")


def test_plan_is_empty_when_the_job_fits_and_says_so_when_nothing_helps():
    fits = estimate_memory(JobConfig(params=1e9, gpu_memory_gib=80.0))
    assert plan_to_fit(fits) == []
    huge = estimate_memory(JobConfig(params=70e9, layers=80, hidden_size=8192, seq_len=4096, micro_batch_size=2,
                                     gpus=8, zero_stage=1, gpu_memory_gib=79.11))  # fmt: skip
    plan = plan_to_fit(huge)
    assert plan and plan[-1].fits_after is False
    (row,) = judge_memory(huge, rank_remedies(huge), plan)
    assert "more GPUs" in row.next_step


def test_the_oom_capacity_wins_over_the_config_and_an_explicit_capacity_over_both():
    config = JobConfig(params=7e9, gpu_memory_gib=40.0)
    assert apply_oom_figures(config).gpu_memory_gib == 40.0
    assert apply_oom_figures(config, OomFigures(capacity_gib=80.0)).gpu_memory_gib == 80.0
    assert apply_oom_figures(config, OomFigures(capacity_gib=80.0), gpu_memory_gib=141.0).gpu_memory_gib == 141.0
    assert apply_oom_figures(config, OomFigures(expandable_segments_set=True)).expandable_segments


def test_the_estimate_explains_the_oom_when_it_reaches_what_was_held_plus_the_request():
    est = estimate_memory(JobConfig(params=1e9, gpu_memory_gib=80.0, **NO_OVERHEAD))  # 14.9 GiB
    held = OomFigures(in_use_gib=12.0, requested_gib=2.0)
    assert judge_estimate_against_oom(est, held).status == Status.PASS
    more = judge_estimate_against_oom(est, OomFigures(in_use_gib=14.0, requested_gib=2.0))
    assert more.status == Status.WARN and more.threshold == pytest.approx(16.0)
    by_allocated = judge_estimate_against_oom(est, OomFigures(allocated_gib=14.0, requested_gib=2.0))
    assert by_allocated.status == Status.WARN  # PyTorch's allocated memory stands in for the in-use figure
    assert judge_estimate_against_oom(est, OomFigures(requested_gib=2.0)).status == Status.SKIP


def test_judge_job_memory_returns_the_whole_stage():
    config = JobConfig(params=7e9, layers=32, hidden_size=4096, vocab_size=32000, gpus=8, gpu_memory_gib=40.0)
    figures = OomFigures(capacity_gib=80.0, in_use_gib=76.0, requested_gib=2.0, reserved_unallocated_gib=3.0)
    memory = judge_job_memory(config, figures)
    assert memory.estimate.capacity_gib == pytest.approx(80.0)
    assert [v.name for v in memory.verdicts] == ["memory estimate", "estimate explains the OOM"]
    (expandable,) = [r for r in memory.remedies if r.name == "allocator expandable_segments"]
    assert expandable.saving_gib == pytest.approx(3.0)
    assert [v.name for v in judge_job_memory(config).verdicts] == ["memory estimate"]
