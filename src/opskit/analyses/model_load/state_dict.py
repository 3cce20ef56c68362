"""A checkpoint's state dict: loaded with torch on the CPU, and its keys and shapes compared.

Two ways to list a checkpoint's tensors:

* statically, without torch and without executing anything:
  :func:`opskit.sources.model_files.static_listing` (the safetensors header, or the pickle of a PyTorch
  checkpoint interpreted symbolically);
* the load itself, where torch is importable (:func:`torch_listing`, :func:`load_verdict`):
  ``torch.load(path, map_location="cpu", weights_only=True)`` (which refuses any import outside torch's
  allow-list), only for files whose format check passed and whose pickle imports nothing outside the
  allow-list.

:func:`compare_keys` compares a listing with an expected one
(:func:`opskit.sources.model_files.read_expected_keys`: a JSON/text list of keys, optionally with
shapes, or a second checkpoint): missing keys, unexpected keys, shape mismatches, and a ``module.``
prefix left by ``DataParallel``/``DistributedDataParallel`` (or ``_orig_mod.`` by ``torch.compile``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.checks import Status, Verdict
from opskit.sources.model_files import TENSOR_COLUMNS, unwrap_state_dict

WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.")


def torch_available() -> bool:
    """Whether torch can be imported here (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def torch_listing(path: str | Path) -> pd.DataFrame:
    """Load with ``torch.load(weights_only=True, map_location="cpu")`` and list the tensors.

    Only call this for a file whose format and pickle-safety checks passed.
    """
    import torch

    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    rows: list = []

    def walk(value: Any, prefix: str, depth: int = 0) -> None:
        if isinstance(value, torch.Tensor):
            rows.append((prefix, str(value.dtype).removeprefix("torch."), tuple(value.shape)))
        elif isinstance(value, Mapping) and depth < 8:
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else str(key), depth + 1)

    walk(obj, "")
    return unwrap_state_dict(pd.DataFrame(rows, columns=TENSOR_COLUMNS))


# --------------------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class KeyComparison:
    """``missing``/``unexpected`` keys, ``shape_mismatch`` rows ``(key, shape, expected shape)``,
    and ``prefix``: a wrapper prefix the checkpoint has and the expected keys lack (``module.``), or
    ``-module.`` when the expected keys have it and the checkpoint does not."""

    checked: int
    expected: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    shape_mismatch: tuple[tuple[str, tuple, tuple], ...]
    prefix: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch or self.prefix)


def common_wrapper_prefix(keys: Iterable[str]) -> str | None:
    """``module.`` (or ``_orig_mod.``, ``model.``) when every key starts with it."""
    keys = list(keys)
    for prefix in WRAPPER_PREFIXES:
        if keys and all(k.startswith(prefix) for k in keys):
            return prefix
    return None


def compare_keys(actual: pd.DataFrame, expected: pd.DataFrame) -> KeyComparison:
    """Compare two listings by key, then shape where both are known; detect a wrapper prefix."""
    a_keys, e_keys = list(actual["key"]), list(expected["key"])
    prefix = None
    pa, pe = common_wrapper_prefix(a_keys), common_wrapper_prefix(e_keys)
    if pa and pa != pe:
        stripped = {k[len(pa) :] for k in a_keys}
        if len(stripped & set(e_keys)) > len(set(a_keys) & set(e_keys)):
            prefix, a_keys = pa, [k[len(pa) :] for k in a_keys]
    elif pe and pe != pa:
        stripped = {k[len(pe) :] for k in e_keys}
        if len(stripped & set(a_keys)) > len(set(a_keys) & set(e_keys)):
            prefix, e_keys = f"-{pe}", [k[len(pe) :] for k in e_keys]
    a_shapes = dict(zip(a_keys, actual["shape"], strict=True))
    e_shapes = dict(zip(e_keys, expected["shape"], strict=True))
    mismatch = tuple(
        (k, tuple(a_shapes[k]), tuple(e_shapes[k]))
        for k in e_keys
        if k in a_shapes
        and isinstance(a_shapes[k], tuple | list)
        and isinstance(e_shapes[k], tuple | list)
        and tuple(a_shapes[k]) != tuple(e_shapes[k])
    )
    return KeyComparison(
        checked=len(a_keys),
        expected=len(e_keys),
        missing=tuple(k for k in e_keys if k not in a_shapes),
        unexpected=tuple(k for k in a_keys if k not in e_shapes),
        shape_mismatch=mismatch,
        prefix=prefix,
    )


def _short(keys: Iterable[str], limit: int = 5) -> str:
    keys = list(keys)
    more = f" … (+{len(keys) - limit})" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def keys_verdict(subject: str, listing: pd.DataFrame, method: str, expected: pd.DataFrame | None) -> Verdict:
    """``state-dict keys`` for one checkpoint: against ``expected`` when given, else on its own."""
    name = "state-dict keys"
    if expected is None:
        prefix = common_wrapper_prefix(listing["key"])
        if prefix == "module.":
            return Verdict(
                name,
                Status.WARN,
                subject=subject,
                observed=len(listing),
                unit="tensors",
                evidence=f"{method}: {_short(listing['key'], 3)}",
                message="every key starts with 'module.': saved from a DataParallel/DDP wrapper; "
                "load_state_dict on the bare model reports them all as unexpected",
                next_step="strip it: state = {k.removeprefix('module.'): v for k, v in state.items()} "
                "(or save model.module.state_dict() next time)",
            )
        if listing.empty:
            return Verdict(
                name,
                Status.WARN,
                subject=subject,
                observed=0,
                unit="tensors",
                evidence=method,
                message="no tensors found",
                next_step="check what this file holds (a full model object?)",
            )
        return Verdict(
            name,
            Status.PASS,
            subject=subject,
            observed=len(listing),
            unit="tensors",
            evidence=f"{method}: {_short(listing['key'], 3)}",
        )
    cmp = compare_keys(listing, expected)
    if cmp.ok:
        return Verdict(
            name,
            Status.PASS,
            subject=subject,
            observed=cmp.checked,
            threshold=cmp.expected,
            unit="tensors",
            evidence=f"{method}; keys and shapes match",
        )
    problems, steps = [], []
    if cmp.prefix and not cmp.prefix.startswith("-"):
        problems.append(f"keys carry a {cmp.prefix!r} prefix (DataParallel/DDP/compile wrapper)")
        steps.append(f"strip it: {{k.removeprefix({cmp.prefix!r}): v for k, v in state.items()}}")
    elif cmp.prefix:
        problems.append(f"the expected keys have a {cmp.prefix[1:]!r} prefix the checkpoint lacks")
        steps.append(f"load into the unwrapped model (model.module), or add the {cmp.prefix[1:]!r} prefix")
    if cmp.missing:
        problems.append(f"{len(cmp.missing)} missing: {_short(cmp.missing)}")
    if cmp.unexpected:
        problems.append(f"{len(cmp.unexpected)} unexpected: {_short(cmp.unexpected)}")
    if cmp.shape_mismatch:
        problems.append(
            f"{len(cmp.shape_mismatch)} shape mismatches: "
            + "; ".join(f"{k} {list(a)} vs {list(e)}" for k, a, e in cmp.shape_mismatch[:3])
        )
    if cmp.missing or cmp.unexpected or cmp.shape_mismatch:
        steps.append(
            "use the checkpoint that matches this model's code/config (architecture, vocab, num_labels), "
            "or load with strict=False only if the differences are intended"
        )
    return Verdict(
        name,
        Status.FAIL,
        subject=subject,
        observed=cmp.checked,
        threshold=cmp.expected,
        unit="tensors",
        evidence=method,
        message="; ".join(problems),
        next_step="; ".join(steps),
    )


def load_verdict(subject: str, path: Path) -> tuple[Verdict, pd.DataFrame | None]:
    """``load`` with torch for one file: PASS with the listing, or FAIL with torch's error."""
    try:
        listing = torch_listing(path)
    except Exception as exc:  # torch's own error is the evidence
        text = str(exc).strip().splitlines()
        return Verdict(
            "load",
            Status.FAIL,
            subject=subject,
            message=f"torch.load failed: {type(exc).__name__}",
            evidence="\n".join(text[:6]),
            next_step="read torch's error above; a format or pickle FAIL for this file says why",
        ), None
    return Verdict(
        "load",
        Status.PASS,
        subject=subject,
        observed=len(listing),
        unit="tensors",
        evidence="torch.load(weights_only=True, map_location='cpu')",
    ), listing
