"""A training job's config, read from JSON or YAML into a :class:`JobConfig`: what drives its GPU memory.

Common spellings are accepted (``params_b``, Hugging Face's ``per_device_train_batch_size`` and
``num_hidden_layers``, DeepSpeed's ``train_micro_batch_size_per_gpu``, ``fsdp: full_shard``); an unknown
key or value is an :class:`opskit.errors.InputError` naming the file and the key.
:mod:`opskit.analyses.memory.estimate` turns the config into GiB per GPU.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from opskit.errors import InputError
from opskit.sources.encodings import read_text

PRECISIONS = ("fp32", "bf16", "fp16", "fp8")
OPTIMIZERS = ("adam", "adamw", "sgd", "sgd_momentum", "adafactor", "none")
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
    def global_batch_size(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation_steps * self.data_parallel

    @property
    def data_parallel(self) -> int:
        """Data-parallel replicas: the degree ZeRO/FSDP shards over."""
        return self.gpus // self.tensor_parallel


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
_DESCRIPTIVE = ("model", "name", "gpu", "gpu_model", "notes", "description")


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
        if k in _DESCRIPTIVE:
            continue
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
    """``value`` as the type of the :class:`JobConfig` field ``name`` (``"yes"``/``"full"`` read as True)."""
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
    text = read_text(p).text  # UTF-8, UTF-16/32 or GB18030 by the one rule; a binary file is refused naming it
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
