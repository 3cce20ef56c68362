"""GPU memory of a training job, per GPU, against the GPU's capacity; remedies ranked by saving.

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
good to tell "cannot fit" from "fits with room", and to rank remedies.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.checks import Status, Verdict
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


@dataclass(frozen=True)
class Remedy:
    """One change to the job, the memory it saves per GPU and what it costs."""

    name: str
    change: str
    saving_gib: float | None
    total_after_gib: float | None
    fits_after: bool | None
    cost: str


def _changes(cfg: JobConfig) -> list[tuple[str, str, JobConfig, str]]:
    """The config changes that lower memory: ``(name, change, new config, cost)``."""
    out: list[tuple[str, str, JobConfig, str]] = []
    if cfg.micro_batch_size > 1:
        half = max(1, cfg.micro_batch_size // 2)
        out.append((
            "smaller micro-batch",
            f"micro_batch_size {cfg.micro_batch_size} -> {half} (global batch shrinks)",
            replace(cfg, micro_batch_size=half),
            "fewer samples per step; retune the learning rate",
        ))  # fmt: skip
        factor = cfg.micro_batch_size
        out.append((
            "gradient accumulation",
            f"micro_batch_size {cfg.micro_batch_size} -> 1, gradient_accumulation_steps "
            f"{cfg.gradient_accumulation_steps} -> {cfg.gradient_accumulation_steps * factor} (same global batch)",
            replace(cfg, micro_batch_size=1, gradient_accumulation_steps=cfg.gradient_accumulation_steps * factor),
            "same convergence, slower steps (less parallel work per kernel)",
        ))  # fmt: skip
    if cfg.training and not cfg.activation_checkpointing and cfg.layers:
        out.append((
            "activation checkpointing",
            "activation_checkpointing: true (gradient_checkpointing in HF TrainingArguments)",
            replace(cfg, activation_checkpointing=True),
            "about 30 % more compute per step (the forward pass runs twice)",
        ))  # fmt: skip
    if cfg.precision == "fp32":
        out.append((
            "mixed precision",
            "precision fp32 -> bf16 (autocast; bf16 on Ampere or newer, fp16 with loss scaling before)",
            replace(cfg, precision="bf16"),
            "check the loss curve against an fp32 run once",
        ))  # fmt: skip
    if cfg.training and not cfg.flash_attention and cfg.layers:
        out.append((
            "fused attention",
            "use FlashAttention / scaled_dot_product_attention (attn_implementation='sdpa' or 'flash_attention_2')",
            replace(cfg, flash_attention=True),
            "none on supported GPUs",
        ))  # fmt: skip
    if cfg.data_parallel > 1:
        for stage in range(cfg.zero_stage + 1, 4):
            fsdp = {2: "SHARD_GRAD_OP", 3: "FULL_SHARD"}.get(stage)
            out.append((
                f"ZeRO stage {stage}" + (f" / FSDP {fsdp}" if fsdp else ""),
                f"zero_stage {cfg.zero_stage} -> {stage} over {cfg.data_parallel} data-parallel GPUs",
                replace(cfg, zero_stage=stage),
                "more communication per step" if stage < 3 else "weights gathered per layer: more communication",
            ))  # fmt: skip
    return out


def rank_remedies(estimate: MemoryEstimate, *, reserved_unallocated_gib: float | None = None) -> list[Remedy]:
    """Remedies for ``estimate`` ranked by expected saving per GPU, largest first (unknown savings last).

    Each saving comes from re-estimating the changed config. ``expandable_segments`` is offered only when it
    is not already set, with the reserved-but-unallocated memory of the OOM message as its saving.
    """
    cfg = estimate.config
    out: list[Remedy] = []
    for name, change, new, cost in _changes(cfg):
        after = estimate_memory(new)
        saving = estimate.total_gib - after.total_gib
        if saving > 0.005:
            out.append(Remedy(name, change, saving, after.total_gib, after.fits, cost))
    if not cfg.expandable_segments:
        saving = reserved_unallocated_gib if reserved_unallocated_gib and reserved_unallocated_gib > 0 else None
        after = estimate.total_gib - saving if saving else None
        fits = None if after is None or estimate.capacity_gib <= 0 else after <= estimate.capacity_gib
        out.append(
            Remedy(
                "allocator expandable_segments",
                "export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True",
                saving,
                after,
                fits,
                "none; helps when reserved-but-unallocated memory is large (fragmentation)",
            )
        )
    return sorted(out, key=lambda r: -(r.saving_gib if r.saving_gib is not None else -1.0))


def plan_to_fit(estimate: MemoryEstimate, *, max_changes: int = 6) -> list[Remedy]:
    """Changes applied one after the other, largest saving first, until the job fits (greedy).

    Each step's ``saving_gib`` is what it adds on top of the steps before and ``total_after_gib`` the
    running total. The micro-batch is lowered only with gradient accumulation, so the global batch stays.
    Empty when the job already fits or the capacity is unknown.
    """
    if estimate.capacity_gib <= 0 or estimate.fits:
        return []
    plan: list[Remedy] = []
    current = estimate
    for _ in range(max_changes):
        options = [
            (estimate_memory(new), name, change, cost)
            for name, change, new, cost in _changes(current.config)
            if name != "smaller micro-batch"
        ]
        options = [o for o in options if current.total_gib - o[0].total_gib > 0.005]
        if not options:
            break
        after, name, change, cost = min(options, key=lambda o: o[0].total_gib)
        plan.append(Remedy(name, change, current.total_gib - after.total_gib, after.total_gib, after.fits, cost))
        current = after
        if after.fits:
            break
    return plan


def remedies_frame(remedies: list[Remedy]) -> pd.DataFrame:
    """Remedies as a table, in their ranked order (rank 1 first)."""
    rows = [{"rank": i, **asdict(r)} for i, r in enumerate(remedies, start=1)]
    return pd.DataFrame(rows, columns=["rank", "name", "change", "saving_gib", "total_after_gib", "fits_after", "cost"])


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


def judge_memory(
    estimate: MemoryEstimate, remedies: list[Remedy] | None = None, plan: list[Remedy] | None = None
) -> list[Verdict]:
    """The estimate against the capacity: FAIL when it cannot fit, WARN within 10 %, else PASS.

    The next step is the single remedy that fits with the largest saving, else the combined ``plan``
    (:func:`plan_to_fit`), else what is left when nothing on the list is enough.
    """
    if estimate.capacity_gib <= 0:
        return [Verdict("memory estimate", Status.SKIP, observed=round(estimate.total_gib, 2), unit="GiB per GPU",
                        message="GPU capacity unknown: set gpu_memory_gib")]  # fmt: skip
    total, cap = estimate.total_gib, estimate.capacity_gib
    parts = estimate.to_frame().sort_values("gib_per_gpu", ascending=False)
    biggest = parts.iloc[0]
    evidence = ", ".join(f"{r.component} {r.gib_per_gpu:.1f}" for r in parts.itertuples()) + " GiB"
    first_fit = next((r for r in (remedies or []) if r.fits_after), None)
    if total > cap:
        status = Status.FAIL
        message = f"needs {total - cap:.1f} GiB more than the GPU has; largest part: {biggest.component}"
    elif total > 0.9 * cap:
        status, message = Status.WARN, f"within 10 % of capacity ({cap - total:.1f} GiB left)"
    else:
        status, message = Status.PASS, f"{cap - total:.1f} GiB of headroom"
    step = None
    if status != Status.PASS and first_fit:
        step = f"{first_fit.name}: {first_fit.change} (saves {first_fit.saving_gib:.1f} GiB per GPU)"
    elif status == Status.FAIL and plan and plan[-1].fits_after:
        step = "no single change is enough; combine: " + " + ".join(r.name for r in plan)
        step += f" (about {plan[-1].total_after_gib:.1f} GiB per GPU)"
    elif status == Status.FAIL:
        step = (
            "even every change listed does not fit: use more GPUs (ZeRO-3/FSDP shards over them), tensor "
            "parallelism, or offload optimizer states to CPU (ZeRO-Offload)"
        )
    return [
        Verdict("memory estimate", status, subject="per GPU", observed=round(total, 2), threshold=round(cap, 2),
                unit="GiB", evidence=evidence, message=message, next_step=step)
    ]  # fmt: skip


def apply_oom_facts(config: JobConfig, oom: Any | None = None, *, gpu_memory_gib: float = 0.0) -> JobConfig:
    """``config`` with what a CUDA OOM message reveals: the GPU's capacity and whether expandable_segments is set.

    ``oom`` is a :class:`opskit.analyses.fault_details.CudaOom` (or anything with ``total_mib`` and
    ``expandable_segments_set``). An explicit ``gpu_memory_gib`` wins over the message, the message over the config.
    """
    capacity = config.gpu_memory_gib
    expandable = config.expandable_segments
    if oom is not None:
        if getattr(oom, "total_mib", None):
            capacity = float(oom.total_mib) / 1024.0
        expandable = expandable or bool(getattr(oom, "expandable_segments_set", False))
    if gpu_memory_gib and gpu_memory_gib > 0:
        capacity = float(gpu_memory_gib)
    return replace(config, gpu_memory_gib=capacity, expandable_segments=expandable)


def judge_oom(oom: Any, *, where: str, text: str, next_step: str | None = None) -> Verdict:
    """The CUDA OOM itself: what was requested against what was free, and its class (capacity/fragmentation/...)."""
    requested = oom.requested_mib / 1024.0 if oom.requested_mib is not None else None
    free = oom.free_mib / 1024.0 if oom.free_mib is not None else None
    facts = []
    if oom.allocated_mib is not None:
        facts.append(f"{oom.allocated_mib / 1024:.2f} GiB allocated by PyTorch")
    if oom.reserved_unallocated_mib is not None:
        facts.append(f"{oom.reserved_unallocated_mib / 1024:.2f} GiB reserved but unallocated")
    if oom.other_processes:
        facts.append(f"{oom.other_processes_mib / 1024:.2f} GiB held by other processes")
    return Verdict(
        "cuda oom",
        Status.FAIL,
        subject=f"GPU {oom.gpu}" if oom.gpu is not None else None,
        observed=round(requested, 2) if requested is not None else None,
        threshold=round(free, 2) if free is not None else None,
        unit="GiB",
        evidence=f"{where}: {text}",
        message=f"{oom.classification}: " + ("; ".join(facts) if facts else "no figures in the message"),
        next_step=next_step
        or (_CAPACITY_STEP if oom.classification == "capacity" else oom.suggestion.replace(_SELF_REFERENCE, "")),
    )


_CAPACITY_STEP = "lower the peak: apply the remedies ranked below, largest saving first, until the estimate fits"
_SELF_REFERENCE = " (open diagnose_gpu_oom)"


def judge_estimate_against_oom(estimate: MemoryEstimate, oom: Any) -> Verdict:
    """Does the estimate explain the OOM? It should reach what the process held plus what it asked for."""
    held = getattr(oom, "process_in_use_mib", None) or getattr(oom, "allocated_mib", None)
    if held is None:
        return Verdict("estimate explains the OOM", Status.SKIP, message="the OOM message has no in-use figure")
    needed = (held + (oom.requested_mib or 0.0)) / 1024.0
    if estimate.total_gib >= needed:
        return Verdict("estimate explains the OOM", Status.PASS, observed=round(estimate.total_gib, 2),
                       threshold=round(needed, 2), unit="GiB",
                       message="the job as configured needs at least what it held when it failed")  # fmt: skip
    return Verdict(
        "estimate explains the OOM",
        Status.WARN,
        observed=round(estimate.total_gib, 2),
        threshold=round(needed, 2),
        unit="GiB",
        message="the estimate is below what the process held plus its last request",
        next_step="check the config matches the job (batch, sequence length, ZeRO stage); look for a memory leak "
        "(tensors kept across steps, growing caches) or a longer sequence in the failing batch",
    )
