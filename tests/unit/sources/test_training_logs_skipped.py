"""The metric-line parser reads the skipped-step counts the triage judges (Megatron per interval, DeepSpeed total)."""

from __future__ import annotations

from opskit.sources.training_logs import parse_training_line


def test_megatron_skipped_iterations_per_interval():
    # NVIDIA/nccl#743: the first Megatron interval while the loss scale settles
    record = parse_training_line(
        " iteration       10/ 1000000 | consumed samples:           40 | elapsed time per iteration (ms): 356.2 |"
        " learning rate: 0.000E+00 | global batch size:     4 | loss scale: 8388608.0 |"
        " number of skipped iterations:  10 | number of nan iterations:   0 |"
    )
    assert (record["format"], record["step"], record["skipped"], record["loss_scale"]) == (
        "megatron",
        10,
        10.0,
        8388608.0,
    )


def test_deepspeed_skipped_since_the_start():
    # deepspeedai/DeepSpeed#931
    record = parse_training_line(
        "[2023-04-28 06:59:46,878] [INFO] [logging.py:96:log_dist] [Rank 0] step=510, skipped=8,"
    )
    assert (record["format"], record["step"], record["skipped"]) == ("deepspeed", 510, 8.0)
