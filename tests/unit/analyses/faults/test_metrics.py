"""Divergence read from metric lines: loss-scale halving to its floor, skipped iterations, non-finite losses.

Real lines are quoted from the public threads named beside them; built lines follow the same formats.
"""

from __future__ import annotations

import pytest

from opskit.analyses.faults.metrics import CANDIDATE, FAST, SKIPPED_IN_A_ROW, MetricWatch, nonfinite_loss_key
from opskit.analyses.faults.scan import scan


def _watch(lines: list[str]) -> MetricWatch:
    watch = MetricWatch()
    for i, text in enumerate(lines, start=1):
        low = text.lower().encode()
        if CANDIDATE.search(low) is None:
            continue  # what the scanner does: only candidate lines reach the rules
        if FAST.search(low) is None:
            watch.reset()
            continue
        watch.feed(i, text)
    return watch


DS = "[2023-04-28 06:51:30,648] [INFO] [loss_scaler.py:181:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step. "


def test_fp16_warm_up_halving_from_a_high_scale_is_not_a_divergence():
    # deepspeedai/DeepSpeed#931: the first steps of an epoch, the scale settling from 2^16
    watch = _watch(
        [
            DS + "Attempted loss scale: 65536, but hysteresis is 2. Reducing hysteresis to 1",
            DS + "Attempted loss scale: 65536, reducing to 32768",
            DS + "Attempted loss scale: 32768, reducing to 16384",
            DS + "Attempted loss scale: 16384, reducing to 8192",
        ]
    )
    assert watch.found is None and watch.halvings == 3


def test_a_scale_reduced_to_its_floor_is_a_collapse_on_that_line():
    # huggingface/transformers#14531: every step overflows at scale 1
    line = "[2021-11-27 00:36:54,800] [INFO] [stage2.py:1628:step] [deepscale] OVERFLOW! Rank 0 Skipping step. "
    watch = _watch(["training...", line + "Attempted loss scale: 1, reducing to 1"])
    assert watch.found[0] == 2 and watch.found[2]["loss_scale"] == 1.0


def test_apex_scale_below_one_is_a_collapse():
    # dbolya/yolact#359
    watch = _watch(["Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 1.52587890625e-05"])
    assert watch.found is not None and watch.found[2]["loss_scale"] == pytest.approx(1.52587890625e-05)


def test_four_halvings_in_a_row_down_to_a_low_scale_are_counted():
    # ymcui/Chinese-LLaMA-Alpaca#534: the scale halved step after step mid-training, then the run died
    lines = [f"{DS}Attempted loss scale: {2 * s}, reducing to {s}" for s in (32, 16, 8, 4)]
    watch = _watch(lines[:3])
    assert watch.found is None and watch.halvings == 3
    watch = _watch(lines)
    assert watch.found[0] == 4 and watch.found[2]["halvings_in_a_row"] == 4 and watch.found[2]["loss_scale"] == 4


def test_a_successful_step_between_halvings_breaks_the_count():
    megatron_ok = " iteration      120/ 1000 | lm loss: 2.5E+00 | loss scale: 16.0 | grad norm: 0.231 |"
    lines = [f"{DS}Attempted loss scale: {2 * s}, reducing to {s}" for s in (64, 32)]
    lines += [megatron_ok] + [f"{DS}Attempted loss scale: {2 * s}, reducing to {s}" for s in (16, 8)]
    assert _watch(lines).found is None


def test_a_scale_pinned_at_a_configured_minimum_is_a_collapse_after_three_overflows():
    lines = [f"{DS}Attempted loss scale: 128, reducing to 128"] * 3
    assert _watch(lines[:2]).found is None
    watch = _watch(lines)
    assert watch.found[0] == 1 and "stuck at its minimum 128" in watch.found[2]["metric"]


def _megatron(iteration: int, skipped: int) -> str:
    return (
        f" iteration {iteration:8d}/ 1000000 | consumed samples: {iteration * 4} | learning rate: 0.000E+00 |"
        f" global batch size:     4 | loss scale: 8388608.0 | number of skipped iterations: {skipped:3d} |"
        " number of nan iterations:   0 |"
    )


def test_megatron_warm_up_skips_are_not_a_divergence_but_every_iteration_skipped_is():
    # NVIDIA/nccl#743: 10 skipped iterations in the first interval while the scale settles, then training
    assert _watch([_megatron(10, 10), _megatron(20, 0), _megatron(30, 0)]).found is None
    lines = [_megatron(i, 10) for i in range(10, 10 * (SKIPPED_IN_A_ROW // 10 + 2), 10)]
    watch = _watch(lines)
    assert watch.found is not None and watch.found[0] == 1
    assert watch.found[2]["skipped_in_a_row"] >= SKIPPED_IN_A_ROW


def test_deepspeed_cumulative_skip_count_is_read_as_a_difference():
    # deepspeedai/DeepSpeed#931: step=10, skipped=6 at warm-up, then two more skips by step 510
    rank0 = "[2023-04-28 06:59:46,878] [INFO] [logging.py:96:log_dist] [Rank 0] "
    assert _watch([rank0 + "step=10, skipped=6, lr=[1e-05]", rank0 + "step=510, skipped=8, lr=[1e-05]"]).found is None
    lines = [rank0 + f"step={s}, skipped={s - 4}, lr=[1e-05]" for s in range(10, 210, 50)]
    assert _watch(lines).found is not None


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("2023-01-25 00:21:34.569 | INFO | E6 iter[ 14/ 15] | [Loss] nan | [step]   104", "Loss"),
        ("02:31:56: train iter: 100 loss_net: nan loss_scale: 785.4200 norm: nan", "loss_net"),
        ("{'loss': nan, 'learning_rate': 1e-4, 'epoch': 0.5}", "loss"),
        (" iteration 5000/ 10000 | lm loss: inf | loss scale: 1.0 |", "lm loss"),
        ("Epoch(train)  [1][ 500/2931]  lr: 2.0000e-02  loss: nan  loss_rpn_cls: nan", "loss"),
        ("best_val_loss: inf", None),
        ("Epoch 00001: val_loss improved from inf to 0.51234, saving model to model.h5", None),
        ("'loss_scale': inf", None),
        ("Epoch [1][100/62598]\tlr: 1.000e-03, loss: 1.9091, grad_norm: nan", None),
        (
            " iteration 10/ 100 | lm loss: 2.3 | number of skipped iterations:   0 | number of nan iterations:   0 |",
            None,
        ),
    ],
)
def test_the_loss_printed_as_non_finite_is_named(line, key):
    assert nonfinite_loss_key(line) == key


def test_words_that_only_look_non_finite_are_not_candidates():
    for text in ("[2021-06-08 12:02:45,002] [INFO] [timer.py:157:stop] 0/10", "number of nan iterations:   0 |"):
        assert FAST.search(text.lower().encode()) is None


def test_a_loss_printed_as_nan_in_a_bracketed_log_is_found_on_its_line(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        "2023-01-25 00:21:09.074 | INFO | E5 iter[ 14/ 15] | [Loss] 51566519.44 | [step]    89 |\n"
        "2023-01-25 00:21:34.569 | INFO | E6 iter[ 14/ 15] | [Loss] nan | [step]   104 |\n"
    )
    root = scan(log).root_cause
    assert (root.fault, root.line) == ("nan_loss", 2) and root.details["metric"] == "Loss is not finite"


def test_the_same_reduction_printed_by_every_rank_counts_once():
    # deepspeedai/DeepSpeed#697: three ranks print the fused optimizer's reduction of iteration 3, then rank 0's
    fused = "[2021-01-26 22:04:09,190] [INFO] [fused_optimizer.py:316:_update_scale] "
    lines = [fused + "Reducing dynamic loss scale from 8.0 to 4.0"] * 3
    lines.append(
        "[2021-01-26 22:04:09,191] [INFO] [logging.py:60:log_dist] [Rank 0] Overflow detected. Skipping step. "
        "Attempted loss scale: 8.0, reducing to 4.0"
    )
    watch = _watch(lines)
    assert watch.found is None and watch.halvings == 1


def test_fairseq_scales_below_one_are_normal_until_they_halve_step_after_step():
    # facebookresearch/fairseq#512: a healthy epoch at scale 0.5, then twelve overflows in a row
    assert _watch(["| WARNING: overflow detected, setting loss scale to: 0.25"]).found is None
    lines = [f"| WARNING: overflow detected, setting loss scale to: {0.25 / 2**i}" for i in range(12)]
    watch = _watch(lines)
    assert watch.found[0] == 4 and watch.found[2]["halvings_in_a_row"] == 4


def test_fairseq_minimum_loss_scale_error_is_a_divergence(tmp_path):
    # bert-nmt/bert-nmt#47
    log = tmp_path / "train.log"
    log.write_text(
        "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding. "
        "Try lowering the learning rate, using gradient clipping or increasing the batch size.\n"
    )
    assert scan(log).root_cause.fault == "nan_loss"
