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
:func:`read_job_config` reads the config from JSON or YAML.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.errors import InputError

GIB = 2**30
PRECISIONS = ("fp32", "bf16", "fp16", "fp8")
OPTIMIZERS = ("adam", "adamw", "sgd", "sgd_momentum", "adafactor", "none")
_WEIGHT_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}
_GRAD_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 2.0}
_OPTIMIZER_STATES = {"adam": 2, "adamw": 2, "sgd": 0, "sgd_momentum": 1, "adafactor": 0, "none": 0}
_FSDP = {"full_shard": 3, "shard_grad_op": 2, "hybrid_shard": 3, "no_shard": 0}


@dataclass(frozen=True)
class JobConfig:
    """What drives a training job's memory. ``params`` or (``layers``, ``hidden_size``) must be given.

    ``gpus`` is the number of GPUs of the job; with ``tensor_parallel`` t each layer is split over t GPUs
    (Megatron with sequence parallelism) and ZeRO/FSDP shards over the ``gpus / t`` data-parallel replicas.
    ``gpu_memory_gib`` is the
    capacity of one GPU (``torch.cuda.get_device_properties(0).total_memory / 2**30``; 0 when unknown).
    """

    params: float = 0.0
    precision: str = "bf16"
    optimizer: str = "adamw"
    micro_batch_size: int = 1
    seq_len: int = 2048
    hidden_size: int = 0
    layers: int = 0
    attention_heads: int = 0
    vocab_size: int = 0
    gpus: int = 1
    tensor_parallel: int = 1
    zero_stage: int = 0
    activation_checkpointing: bool = False
    flash_attention: bool = True
    gradient_accumulation_steps: int = 1
    training: bool = True
    gpu_memory_gib: float = 0.0
    overhead_gib: float = 1.0
    expandable_segments: bool = False

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"unknown precision {self.precision!r}", column="precision", hint=", ".join(PRECISIONS))
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r}", column="optimizer", hint=", ".join(OPTIMIZERS))
        if self.zero_stage not in (0, 1, 2, 3):
            raise InputError(f"zero_stage must be 0-3, got {self.zero_stage}", column="zero_stage")
        if self.params <= 0 and not (self.layers and self.hidden_size):
            raise InputError(
                "the job config gives neither params nor layers and hidden_size",
                column="params",
                hint="set params (e.g. 7e9 or params_b: 7) or the architecture (layers, hidden_size, vocab_size)",
            )
        for name in ("micro_batch_size", "seq_len", "gpus", "gradient_accumulation_steps", "tensor_parallel"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1", column=name)
        if self.gpus % self.tensor_parallel:
            raise InputError(
                f"gpus ({self.gpus}) is not a multiple of tensor_parallel ({self.tensor_parallel})",
                column="tensor_parallel",
            )

    @property
    def param_count(self) -> float:
        """``params`` when given, else the transformer count from the architecture."""
        return self.params if self.params > 0 else transformer_params(self.layers, self.hidden_size, self.vocab_size)

    @property
    def global_batch_size(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation_steps * self.data_parallel

    @property
    def data_parallel(self) -> int:
        """Data-parallel replicas: the degree ZeRO/FSDP shards over."""
        return self.gpus // self.tensor_parallel


def transformer_params(layers: int, hidden_size: int, vocab_size: int = 0) -> float:
    """Parameters of a GPT-style decoder: ``12*L*h^2`` (attention 4h^2 + MLP 8h^2) + ``13*L*h`` + ``V*h``."""
    return 12.0 * layers * hidden_size**2 + 13.0 * layers * hidden_size + float(vocab_size) * hidden_size


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
    n = config.param_count / config.tensor_parallel  # each GPU holds 1/t of every layer
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


_ALIASES = {
    "params_b": ("params", 1e9),
    "model_params_b": ("params", 1e9),
    "num_parameters": ("params", 1.0),
    "model_params": ("params", 1.0),
    "micro_batch": ("micro_batch_size", None),
    "per_device_train_batch_size": ("micro_batch_size", None),
    "train_micro_batch_size_per_gpu": ("micro_batch_size", None),
    "seq_length": ("seq_len", None),
    "max_seq_length": ("seq_len", None),
    "sequence_length": ("seq_len", None),
    "num_hidden_layers": ("layers", None),
    "num_layers": ("layers", None),
    "num_attention_heads": ("attention_heads", None),
    "num_gpus": ("gpus", None),
    "world_size": ("gpus", None),
    "tensor_model_parallel_size": ("tensor_parallel", None),
    "tp": ("tensor_parallel", None),
    "gradient_checkpointing": ("activation_checkpointing", None),
    "gpu_memory_gb": ("gpu_memory_gib", None),
    "dtype": ("precision", None),
    "gradient_accumulation": ("gradient_accumulation_steps", None),
}
_PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "half": "fp16", "32": "fp32"}


def config_from_dict(data: dict[str, Any], *, path: str | None = None) -> JobConfig:
    """A :class:`JobConfig` from a dict, accepting common spellings (``params_b``, ``num_hidden_layers``, ...).

    ``fsdp: full_shard`` maps to ZeRO stage 3, ``shard_grad_op`` to 2. Unknown keys are an error.
    """
    known = {f.name for f in fields(JobConfig)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        k = str(key).strip().lower()
        if k in ("fsdp", "fsdp_sharding_strategy"):
            strategy = str(value).strip().lower()
            if strategy not in _FSDP:
                raise InputError(f"unknown FSDP strategy {value!r}", path=path, column=key, hint=", ".join(_FSDP))
            values["zero_stage"] = _FSDP[strategy]
            continue
        if k in ("model", "name", "gpu", "gpu_model", "notes", "description"):
            continue  # descriptive keys
        if k in _ALIASES:
            target, factor = _ALIASES[k]
            value = float(value) * factor if factor else value
            k = target
        if k not in known:
            raise InputError(
                f"unknown job config key {key!r}", path=path, column=str(key), hint="known keys: " + ", ".join(known)
            )
        values[k] = value
    if "precision" in values:
        text = str(values["precision"]).strip().lower()
        values["precision"] = _PRECISION_ALIASES.get(text, text)
    if "optimizer" in values:
        values["optimizer"] = str(values["optimizer"]).strip().lower()
    try:
        typed = {name: _coerce(name, val) for name, val in values.items()}
        return JobConfig(**typed)
    except InputError as exc:
        raise InputError(exc.reason, path=path, column=exc.column, hint=exc.hint) from None
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad value in job config: {exc}", path=path) from None


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(JobConfig)}[name]
    if kind == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on", "full")
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value


def read_job_config(path: str | os.PathLike[str]) -> JobConfig:
    """Read a job config from JSON or YAML (see :func:`config_from_dict` for the keys)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError("job config not found", path=p, hint="a JSON or YAML file with params, precision, ...")
    text = p.read_text(encoding="utf-8", errors="replace")
    try:
        if p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise their own error types
        line = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(f"cannot parse job config: {exc}", path=p, line=line) from None
    if not isinstance(data, dict):
        raise InputError("job config must be a mapping of keys to values", path=p)
    return config_from_dict(data, path=str(p))
