"""The resume point: the newest complete checkpoint before the first NaN loss, and the command that resumes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from opskit.analyses.training.resume import judge_resume
from opskit.analyses.training.settings import TrainingSettings
from opskit.checks import Status
from opskit.errors import InputError
from opskit.samples import resolve
from opskit.sources.checkpoints import find_checkpoints


@pytest.fixture(scope="module")
def hang_checkpoints() -> Path:
    return Path(resolve("sample:training_nccl_hang_checkpoints"))


def by_name(rows, name):
    return [v for v in rows if v.name == name]


def test_resume_point_is_before_the_first_nan_loss(hang_checkpoints):
    found = find_checkpoints(hang_checkpoints, world_size=8)
    # the sample holds complete checkpoints at steps 500 and 1000 and an incomplete one at 1500
    rows, plan = judge_resume(found, TrainingSettings())
    assert plan.checkpoint.step == 1000
    rows, plan = judge_resume(found, TrainingSettings(launcher="torchrun", script="x.py"), before_step=800)
    assert plan.checkpoint.step == 500 and plan.command.startswith("torchrun ") and " x.py " in plan.command
    (resume,) = by_name(rows, "resume point")
    assert resume.status == Status.PASS and resume.observed == 500 and resume.next_step == plan.command
    assert {v.subject for v in rows if v.name == "checkpoint complete" and v.status == Status.WARN} >= {
        "checkpoint-1000"
    }  # complete, but saved after the first NaN
    rows, plan = judge_resume(found, TrainingSettings(), before_step=100)
    assert plan is None and by_name(rows, "resume point")[0].status == Status.FAIL


def test_settings_count_the_world_and_a_bad_launcher_is_an_input_error(hang_checkpoints):
    assert TrainingSettings(nproc_per_node=4, nnodes=2).world_size == 8
    with pytest.raises(InputError) as info:
        judge_resume(find_checkpoints(hang_checkpoints), TrainingSettings(launcher="slurm"))
    assert info.value.column == "launcher"
