"""Memory estimate against independently known figures, and the ranking of remedies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from opskit.analyses.memory.estimate import estimate_memory, param_count, transformer_params
from opskit.analyses.memory.remedies import rank_remedies
from opskit.errors import InputError
from opskit.sources.job_config import JobConfig

NO_OVERHEAD = {"overhead_gib": 0.0}


def test_7b_weights_in_bf16_are_13_04_gib():
    # 7e9 parameters x 2 bytes = 14e9 bytes = 13.04 GiB (the figure model cards and calculators quote)
    est = estimate_memory(JobConfig(params=7e9, precision="bf16", training=False, **NO_OVERHEAD))
    assert est.weights_gib == pytest.approx(13.04, abs=0.005)
    assert est.gradients_gib == 0 and est.optimizer_gib == 0


def test_mixed_precision_adam_costs_16_bytes_per_parameter():
    # ZeRO paper, section 3.1: 2 (fp16 weights) + 2 (fp16 grads) + 12 (fp32 master, momentum, variance) bytes
    est = estimate_memory(JobConfig(params=1e9, precision="bf16", optimizer="adam", **NO_OVERHEAD))
    assert est.total_gib * 2**30 == pytest.approx(16e9)
    assert est.optimizer_gib * 2**30 == pytest.approx(12e9)


def test_fp32_adam_is_also_16_bytes_and_fp32_weights_are_4():
    est = estimate_memory(JobConfig(params=1e9, precision="fp32", optimizer="adamw", **NO_OVERHEAD))
    assert est.weights_gib * 2**30 == pytest.approx(4e9)
    assert est.total_gib * 2**30 == pytest.approx(16e9)


def test_zero_stages_shard_what_the_paper_says():
    base = JobConfig(params=7.5e9, precision="fp16", optimizer="adam", gpus=64, **NO_OVERHEAD)
    # ZeRO paper, figure 1: 7.5B parameters, 64 GPUs -> 120 GB, 31.4 GB (P_os), 16.6 GB (P_os+g), 1.9 GB (P_os+g+p)
    expected_gb = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.875}
    for stage, gb in expected_gb.items():
        total_bytes = estimate_memory(replace(base, zero_stage=stage)).total_gib * 2**30
        assert total_bytes / 1e9 == pytest.approx(gb, rel=0.01), stage


def test_zero3_over_8_gpus_divides_everything_by_8():
    one = estimate_memory(JobConfig(params=7e9, gpus=8, zero_stage=0, **NO_OVERHEAD))
    sharded = estimate_memory(JobConfig(params=7e9, gpus=8, zero_stage=3, **NO_OVERHEAD))
    assert sharded.total_gib == pytest.approx(one.total_gib / 8)


def test_transformer_parameter_count_matches_gpt2_and_gpt3():
    # GPT-2 small: 12 layers, 768 hidden, 50257 vocab -> 124M with 1024 learned positions (0.8M) not counted
    assert transformer_params(12, 768, 50257) == pytest.approx(124e6, rel=0.02)
    # GPT-3 175B: 96 layers, 12288 hidden
    assert transformer_params(96, 12288, 50257) == pytest.approx(175e9, rel=0.01)


def test_activations_follow_the_korthikanti_formula():
    # Korthikanti et al. 2022, eq. (1): s*b*h*(34 + 5*a*s/h) bytes per layer without parallelism
    s, b, h, a, layers = 2048, 1, 12288, 96, 96
    cfg = JobConfig(params=1.0, seq_len=s, micro_batch_size=b, hidden_size=h, attention_heads=a, layers=layers,
                    flash_attention=False, **NO_OVERHEAD)  # fmt: skip
    per_layer = s * b * h * (34 + 5 * a * s / h)
    assert estimate_memory(cfg).activations_gib * 2**30 == pytest.approx(layers * per_layer)
    ckpt = estimate_memory(replace(cfg, activation_checkpointing=True)).activations_gib * 2**30
    assert ckpt == pytest.approx(layers * 2 * s * b * h + per_layer)
    flash = estimate_memory(replace(cfg, flash_attention=True)).activations_gib * 2**30
    assert flash == pytest.approx(layers * 34 * s * b * h)


def test_activations_scale_with_micro_batch_and_logits_with_vocab():
    cfg = JobConfig(params=1e9, seq_len=1024, micro_batch_size=2, hidden_size=1024, layers=4, vocab_size=0)
    doubled = replace(cfg, micro_batch_size=4)
    assert estimate_memory(doubled).activations_gib == pytest.approx(2 * estimate_memory(cfg).activations_gib)
    with_vocab = replace(cfg, vocab_size=32000)
    extra = (estimate_memory(with_vocab).activations_gib - estimate_memory(cfg).activations_gib) * 2**30
    assert extra == pytest.approx(4 * 1024 * 2 * 32000)


def llama7b(**overrides) -> JobConfig:
    values = dict(params=6.74e9, precision="bf16", optimizer="adamw", micro_batch_size=4, seq_len=4096,
                  hidden_size=4096, layers=32, attention_heads=32, vocab_size=32000, gpus=8, zero_stage=1,
                  gpu_memory_gib=79.11)  # fmt: skip
    values.update(overrides)
    return JobConfig(**values)


def test_remedies_are_ranked_by_saving_and_each_saving_is_a_reestimate():
    est = estimate_memory(llama7b())
    assert est.fits is False
    remedies = rank_remedies(est, reserved_unallocated_gib=2.35)
    savings = [r.saving_gib for r in remedies]
    assert savings == sorted(savings, reverse=True)
    names = [r.name for r in remedies]
    assert names[0] == "activation checkpointing"
    assert "ZeRO stage 3 / FSDP FULL_SHARD" in names and "mixed precision" not in names  # already bf16
    by_name = {r.name: r for r in remedies}
    ckpt = estimate_memory(llama7b(activation_checkpointing=True))
    assert by_name["activation checkpointing"].saving_gib == pytest.approx(est.total_gib - ckpt.total_gib)
    assert by_name["activation checkpointing"].fits_after is True
    assert by_name["allocator expandable_segments"].saving_gib == pytest.approx(2.35)
    accumulate = by_name["gradient accumulation"]
    assert "gradient_accumulation_steps 1 -> 4" in accumulate.change


def test_expandable_segments_is_not_offered_when_already_set_and_fp32_gets_mixed_precision():
    est = estimate_memory(llama7b(expandable_segments=True, precision="fp32"))
    names = [r.name for r in rank_remedies(est, reserved_unallocated_gib=5.0)]
    assert "allocator expandable_segments" not in names
    assert "mixed precision" in names


def test_expandable_segments_is_not_offered_for_a_request_larger_than_the_whole_gpu():
    est = estimate_memory(llama7b())
    assert est.capacity_gib > 0
    fits = [r.name for r in rank_remedies(est, reserved_unallocated_gib=0.5, requested_gib=est.capacity_gib / 2)]
    too_big = [r.name for r in rank_remedies(est, reserved_unallocated_gib=0.5, requested_gib=est.capacity_gib * 4)]
    assert "allocator expandable_segments" in fits and "allocator expandable_segments" not in too_big


def test_single_gpu_gets_no_zero_remedy():
    names = [r.name for r in rank_remedies(estimate_memory(llama7b(gpus=1, zero_stage=0)))]
    assert not any(n.startswith("ZeRO") for n in names)


def test_tensor_parallel_splits_layers_and_zero_shards_over_the_replicas():
    # Korthikanti et al. 2022, eq. (4): with tensor and sequence parallelism over t GPUs, s*b*h*(34 + 5as/h)/t
    s, b, h, a, layers, t = 2048, 1, 12288, 96, 4, 8
    base = JobConfig(params=12 * layers * h * h, seq_len=s, micro_batch_size=b, hidden_size=h, attention_heads=a,
                     layers=layers, flash_attention=False, gpus=64, zero_stage=1, **NO_OVERHEAD)  # fmt: skip
    split = estimate_memory(replace(base, tensor_parallel=t))
    assert split.activations_gib * 2**30 == pytest.approx(layers * s * b * h * (34 + 5 * a * s / h) / t)
    assert split.weights_gib * 2**30 == pytest.approx(base.params * 2 / t)
    # ZeRO-1 shards the 12 bytes/param of optimizer state over 64 / 8 = 8 replicas
    assert split.optimizer_gib * 2**30 == pytest.approx(base.params / t * 12 / 8)
    with pytest.raises(InputError) as info:
        JobConfig(params=1e9, gpus=12, tensor_parallel=8)
    assert info.value.column == "tensor_parallel"


def test_param_count_is_the_given_params_else_the_architecture():
    assert param_count(JobConfig(params=7e9)) == 7e9
    assert param_count(JobConfig(layers=12, hidden_size=768, vocab_size=50257)) == transformer_params(12, 768, 50257)
