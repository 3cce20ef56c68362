"""Training progress: NaN/inf, spikes, last step per rank, the rank that stopped first, stalls, throughput."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opskit.analyses.training.progress import analyze_training, find_loss_spikes, robust_z_scores, summarize_throughput
from opskit.errors import InputError
from opskit.sources.training_logs import read_training_logs

FIXTURES = Path(__file__).parents[3] / "fixtures" / "training"


def test_hf_trainer_log_finds_the_nan_losses_at_their_lines():
    records = read_training_logs(FIXTURES / "hf_trainer_nan_loss.log")
    assert len(records) == 12  # tqdm bars and the final summary dict are not records
    result = analyze_training(records)
    assert list(result.nonfinite["step"]) == [11, 12]
    lines = Path(FIXTURES / "hf_trainer_nan_loss.log").read_text().splitlines()
    assert "'loss': nan" in lines[result.nonfinite["line"].iloc[0] - 1]


def test_deepspeed_spike_is_found_and_overflow_is_not():
    result = analyze_training(read_training_logs(FIXTURES / "deepspeed_loss_spike_step150.log"))
    assert list(result.spikes["step"]) == [150]
    assert result.spikes["robust_z"].iloc[0] > 6
    assert result.nonfinite.empty


def test_megatron_inf_loss_iteration():
    result = analyze_training(read_training_logs(FIXTURES / "megatron_inf_loss_iteration80.log"))
    assert list(result.nonfinite["step"]) == [80]
    assert result.records["lr"].max() == pytest.approx(3e-4)


def test_rank_that_stopped_first_from_a_folder_of_rank_logs():
    result = analyze_training(read_training_logs(FIXTURES / "ranks_rank2_stops_first"))
    ranks = result.ranks.set_index("rank")
    assert ranks["last_step"].to_dict() == {0: 60, 1: 60, 2: 40, 3: 60}
    assert result.first_stopped_rank == 2
    assert result.lagging_ranks == [2]
    assert result.max_step == 60


def test_same_last_step_falls_back_to_the_rank_that_went_silent_first_and_finds_stalls():
    result = analyze_training(read_training_logs(FIXTURES / "torchrun_prefixed_stall_rank0.log"))
    assert set(result.ranks["rank"]) == {0, 1}
    assert result.first_stopped_rank == 1
    assert "silent" in result.stopped_first_reason
    assert list(result.stalls["rank"]) == [0]
    assert result.stalls["after_step"].iloc[0] == 5
    assert result.stalls["gap_s"].iloc[0] == pytest.approx(31 * 60)


def test_all_ranks_together_means_no_first_stopped_rank(tmp_path):
    for r in range(2):
        (tmp_path / f"rank{r}.log").write_text(
            "\n".join(f"2026-11-27 05:{s:02d}:00 step={s} loss=2.0" for s in range(1, 6)) + "\n"
        )
    result = analyze_training(read_training_logs(tmp_path))
    assert result.first_stopped_rank is None


def test_spike_needs_history_and_ignores_flat_noise():
    steps = list(range(1, 61))
    losses = [2.0] * 60
    losses[3] = 50.0  # too early: not enough history to judge
    losses[40] = 2.0001  # flat curve: tiny wiggle is not a spike
    losses[50] = 4.0
    frame = pd.DataFrame({"rank": 0, "step": steps, "line": steps, "loss": losses})
    spikes = find_loss_spikes(frame, window=20, z_threshold=6.0)
    assert list(spikes["step"]) == [51]


def test_missing_path_and_empty_logs_raise_input_errors(tmp_path):
    with pytest.raises(InputError) as info:
        read_training_logs(tmp_path / "nope.log")
    assert info.value.path.endswith("nope.log")
    empty = tmp_path / "empty.log"
    empty.write_text("")
    with pytest.raises(InputError):
        analyze_training(read_training_logs(empty))


def test_robust_z_matches_a_plain_loop_over_previous_windows():
    rng = np.random.default_rng(7)
    values = 5 * np.exp(-np.arange(200) / 40) + rng.normal(0, 0.05, 200)
    medians, z = robust_z_scores(values, window=30, min_periods=8)
    for i in (8, 29, 30, 31, 150, 199):
        past = values[max(0, i - 30) : i]
        med = np.median(past)
        mad = np.median(np.abs(past - med))
        assert medians[i] == pytest.approx(med)
        assert z[i] == pytest.approx((values[i] - med) / (1.4826 * mad))
    assert np.isnan(z[:8]).all()


def test_spike_on_a_falling_curve_is_found_against_the_recent_window():
    steps = np.arange(1, 301)
    losses = 2 + 6 * np.exp(-steps / 60)
    losses[200] *= 2.5
    frame = pd.DataFrame({"rank": 0, "step": steps, "line": steps, "loss": losses})
    assert list(find_loss_spikes(frame)["step"]) == [201]


def test_one_file_with_torchrun_prefixes_splits_ranks_and_strips_colours():
    result = analyze_training(read_training_logs(FIXTURES / "torchtitan_colored_rank1_nan_step25.log"))
    assert result.ranks.set_index("rank")["last_step"].to_dict() == {0: 30, 1: 25}
    assert result.first_stopped_rank == 1
    assert list(zip(result.nonfinite["rank"], result.nonfinite["step"], strict=True)) == [(1, 25)]
    assert result.records.loc[result.records["rank"] == 0, "tokens_per_s"].max() == 1300.0


def test_glog_lines_after_the_last_record_count_as_activity(tmp_path):
    for rank in range(2):
        lines = [f"2026-11-27 05:00:{s:02d} step={s} loss=2.0" for s in range(1, 6)]
        if rank == 1:  # still alive ten minutes later: the watchdog speaks in glog format, without a year
            lines.append("[rank1]:[E1127 05:10:05.123456 2811 ProcessGroupNCCL.cpp:616] [Rank 1] Watchdog caught")
        (tmp_path / f"rank{rank}.log").write_text("\n".join(lines) + "\n")
    result = analyze_training(read_training_logs(tmp_path))
    last = result.ranks.set_index("rank")["last_line_at"]
    assert last[1] == pd.Timestamp("2026-11-27 05:10:05.123456", tz="UTC")
    assert result.first_stopped_rank == 0
    assert "silent" in result.stopped_first_reason


def test_throughput_flags_a_straggler_and_a_rank_slowing_down():
    rows = []
    for rank in range(4):
        for step in range(1, 61):
            tps = 40000.0
            if rank == 1:
                tps = 28000.0  # slower all along: a straggler
            if rank == 3 and step > 45:
                tps = 20000.0  # slows down at the end
            rows.append({"rank": rank, "step": step, "line": step, "file": f"rank{rank}.log", "tokens_per_s": tps,
                         "samples_per_s": np.nan})  # fmt: skip
    frame = summarize_throughput(pd.DataFrame(rows), recent=20, tolerance=0.2).set_index("rank")
    assert frame.loc[1, "straggler"] and not frame.loc[1, "degrading"]
    assert frame.loc[3, "degrading"] and not frame.loc[3, "straggler"]
    assert frame.loc[3, "vs_own"] == pytest.approx(20000 / 40000)
    assert not frame.loc[0, "straggler"] and not frame.loc[0, "degrading"]
    assert (frame["unit"] == "tokens_per_s").all()
