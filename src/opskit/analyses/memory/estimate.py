"""GPU memory of a training job, per GPU, against the GPU's capacity, from its config.

The model-state figures follow the ZeRO paper (Rajbhandari et al., 2020): with mixed precision and Adam,
each parameter costs 2 bytes of 16-bit weights, 2 bytes of 16-bit gradients and 12 bytes of optimizer
state (fp32 master copy, momentum, variance), 16 bytes in all; pure fp32 costs 4 + 4 + 8 = 16 bytes too.
ZeRO stage 1 shards the optimizer states over the data-parallel GPUs, stage 2 also the gradients, stage 3
(and FSDP ``FULL_SHARD``) also the weights.

Activations follow Korthikanti et al. (2022), "Reducing Activation Recomputation in Large Transformer
Models": per transformer layer ``s*b*h*(34 + 5*a*s/h)`` bytes with 16-bit activations, divided by t with
tensor and sequence parallelism over t GPUs; fused/flash
attention drops the ``5*a*s/h`` score term; full activation checkpointing keeps only each layer's input
(``2*s*b*h`` bytes) plus one layer recomputed at a time. The loss adds fp32 logits ``4*s*b*V``.
It is an estimate (no allocator fragmentation, no communication buffers beyond a fixed overhead):
good to tell "cannot fit" from "fits with room", and to rank remedies (:mod:`opskit.analyses.memory.remedies`).
The config comes from :func:`opskit.sources.job_config.read_job_config`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import pandas as pd

from opskit.sources.job_config import JobConfig

GIB = 2**30
_WEIGHT_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}
_GRAD_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 2.0}
_OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd": 0, "sgd_momentum": 1, "adafactor": 0, "none": 0}


def transformer_params(layers: int, hidden_size: int, vocab_size: int = 0) -> float:
    """Parameters of a GPT-style decoder: ``12*L*h^2`` (attention 4h^2 + MLP 8h^2) + ``13*L*h`` + ``V*h``."""
    return 12.0 * layers * hidden_size**2 + 13.0 * layers * hidden_size + float(vocab_size) * hidden_size


def param_count(config: JobConfig) -> float:
    """The config's ``params`` when given, else the transformer count from its architecture."""
    if config.params > 0:
        return config.params
    return transformer_params(config.layers, config.hidden_size, config.vocab_size)


def activation_bytes(config: JobConfig) -> float:
    """Activation memory per GPU for one micro-batch (see the module docstring for the formula)."""
    if not config.training or not (config.layers and config.hidden_size):
        return 0.0
    s, b, h, layers = config.seq_len, config.micro_batch_size, config.hidden_size, config.layers
    heads = config.attention_heads or max(1, h // 128)
    scale = 2.0 if config.precision == "fp32" else 1.0  # the 34 bytes assume 16-bit activations
    t = config.tensor_parallel  # with sequence parallelism every term is split over the t GPUs
    per_layer = s * b * h * (34.0 + (0.0 if config.flash_attention else 5.0 * heads * s / h)) * scale / t
    # checkpointing keeps each layer's input and recomputes one layer at a time
    kept = layers * 2.0 * s * b * h * scale / t + per_layer
    total = kept if config.activation_checkpointing else layers * per_layer
    logits = 4.0 * s * b * config.vocab_size / t
    return total + logits


@dataclass(frozen=True)
class MemoryEstimate:
    """GiB per GPU by component, the total against the capacity, and the config it was computed for."""

    config: JobConfig
    weights_gib: float
    gradients_gib: float
    optimizer_gib: float
    activations_gib: float
    overhead_gib: float
    capacity_gib: float

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.gradients_gib + self.optimizer_gib + self.activations_gib + self.overhead_gib

    @property
    def fits(self) -> bool | None:
        """True/False against the capacity; None when the capacity is unknown (0)."""
        return None if self.capacity_gib <= 0 else self.total_gib <= self.capacity_gib

    @property
    def headroom_gib(self) -> float | None:
        return None if self.capacity_gib <= 0 else self.capacity_gib - self.total_gib

    def to_frame(self) -> pd.DataFrame:
        """Components with their GiB per GPU and share of the total."""
        parts = {
            "weights": self.weights_gib,
            "gradients": self.gradients_gib,
            "optimizer states": self.optimizer_gib,
            "activations": self.activations_gib,
            "CUDA context and buffers": self.overhead_gib,
        }
        total = self.total_gib or 1.0
        return pd.DataFrame(
            [{"component": k, "gib_per_gpu": v, "share_pct": 100.0 * v / total} for k, v in parts.items()]
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "config"}
        out.update(total_gib=self.total_gib, fits=self.fits, config=asdict(self.config))
        return out


def estimate_memory(config: JobConfig) -> MemoryEstimate:
    """Per-GPU memory of ``config`` (weights, gradients, optimizer states, activations, overhead) in GiB."""
    n = param_count(config) / config.tensor_parallel  # each GPU holds 1/t of every layer
    dp = config.data_parallel
    weights = n * _WEIGHT_BYTES[config.precision]
    grads = n * _GRAD_BYTES[config.precision] if config.training else 0.0
    optimizer = 0.0
    if config.training:
        # Adafactor keeps factored second moments: a small fraction of the parameters
        states = 0.01 if config.optimizer == "adafactor" else _OPTIMIZER_STATES[config.optimizer]
        optimizer = 4.0 * n * states
        if config.precision != "fp32" and config.optimizer != "none":
            optimizer += 4.0 * n  # fp32 master copy of the weights under mixed precision
    if config.zero_stage >= 1:
        optimizer /= dp
    if config.zero_stage >= 2:
        grads /= dp
    if config.zero_stage >= 3:
        weights /= dp
    return MemoryEstimate(
        config=config,
        weights_gib=weights / GIB,
        gradients_gib=grads / GIB,
        optimizer_gib=optimizer / GIB,
        activations_gib=activation_bytes(config) / GIB,
        overhead_gib=config.overhead_gib,
        capacity_gib=config.gpu_memory_gib,
    )
