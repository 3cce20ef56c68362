"""Is a pickle safe to load? Proven from its opcodes against an allow-list, or it is not PASS.

Unpickling runs code: ``GLOBAL``/``STACK_GLOBAL``/``INST``/``EXT*`` import any callable, ``REDUCE`` calls
it. A pickle is **safe** only when every import is on the allow-list
(:mod:`opskit.analyses.model_load.pickle_allowlist`: what ``torch.load(weights_only=True)`` accepts, numpy's
array reconstruction, user entries with their reasons) and every stream was interpreted to its ``STOP``.
Each import off the list is:

* ``dangerous``: a known gadget (commands, code evaluation, imports by name, another unpickler), or any
  callable the file calls with its own arguments, or a method of an imported object the file calls;
* ``model code``: a class the file only instantiates (``NEWOBJ``, as ``torch.save(model)`` and joblib's
  sklearn estimators write): it loads only with the model's own code, from a source you trust.

A stream that cannot be followed to its ``STOP`` (damaged, truncated, anything CPython would reject) or a
container that could not be read in full makes the file **unproven**, never safe. Nested pickles handed to
``pickle.loads``/``torch.storage._load_from_bytes`` are followed into their bytes.
The pickle is read by :func:`opskit.sources.pickle_program.interpret_pickle`; nothing is imported or run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pandas as pd

from opskit.analyses.model_load.pickle_allowlist import (
    NESTED_LOADERS,
    allowed_reason,
    bundled_allowlist,
    danger,
)
from opskit.checks import Status, Verdict
from opskit.sources.model_formats import ModelFileInfo
from opskit.sources.pickle_containers import joblib_array_hook
from opskit.sources.pickle_program import PickleCall, PickleGlobal, PickleProgram, interpret_pickle

COLUMNS = ["stream", "position", "opcode", "global", "risk", "danger", "called", "reason"]
MAX_NESTING = 4
_CALLING = {"REDUCE", "INST", "OBJ", "APPEND", "APPENDS", "ADDITEMS", "SETITEM", "SETITEMS", "BUILD"}
# Allow-listed helpers that call an argument: what they are handed counts as called.
_CALLS_ARGUMENT = {"copyreg._reconstructor": (1,), "torch._tensor._rebuild_from_type_v2": (0,)}


class Risk(StrEnum):
    SAFE = "safe"
    MODEL_CODE = "model code"
    UNPROVEN = "unproven"
    DANGEROUS = "dangerous"
    UNKNOWN = "model code"


_RISK_ORDER = {Risk.DANGEROUS: 3, Risk.UNPROVEN: 2, Risk.MODEL_CODE: 1, Risk.SAFE: 0}


def classify_global(module: str, name: str, called: bool = False, allowlist: dict[str, str] | None = None) -> Risk:
    """Classify one import ``module.name``: safe (allow-listed), dangerous, or model code."""
    module = {"__builtin__": "builtins", "__builtins__": "builtins"}.get(module, module)
    if allowed_reason(module, name, allowlist if allowlist is not None else bundled_allowlist()):
        return Risk.SAFE
    return Risk.DANGEROUS if danger(module, name, called) >= 2 else Risk.MODEL_CODE


@dataclass(frozen=True)
class PickleSafetyResult:
    """The imports of one file's pickle streams, classified; worst first in ``imports``.

    ``imports`` columns: ``stream``, ``position`` (byte offset of the opcode), ``opcode``, ``global``,
    ``risk``, ``danger`` (3 gadget, 2 called, 1 imported, 0 allowed), ``called``, ``reason`` (why allowed).
    ``errors`` lists why a stream or container could not be proven safe.
    """

    file: str
    risk: Risk
    imports: pd.DataFrame
    calls: int
    errors: tuple[str, ...] = ()
    streams: int = 0

    def by_risk(self, risk: Risk) -> pd.DataFrame:
        return self.imports[self.imports["risk"] == risk.value]


def _called_ids(program: PickleProgram) -> set[int]:
    out: set[int] = set()
    for c in program.calls:
        if isinstance(c.func, PickleGlobal):
            if c.opcode in _CALLING:
                out.add(id(c.func))
            for index in _CALLS_ARGUMENT.get(c.func.qualname, ()):
                if index < len(c.args) and isinstance(c.args[index], PickleGlobal):
                    out.add(id(c.args[index]))
        target = c.func
        while isinstance(target, PickleCall) and c.opcode in _CALLING:  # calling what a call built: its __call__
            target = target.func
            if isinstance(target, PickleGlobal):
                out.add(id(target))
    return out


def _nested(program: PickleProgram) -> list[tuple[str, bytes]]:
    out = []
    for c in program.calls:
        if isinstance(c.func, PickleGlobal) and c.func.qualname in NESTED_LOADERS and c.args:
            payload = c.args[0]
            if isinstance(payload, bytes | bytearray):
                out.append((f"{program.stream}>{c.func.name}@{c.position}", bytes(payload)))
    return out


def _programs(name: str, data: bytes, depth: int = 0) -> Iterable[tuple[PickleProgram, int]]:
    program = interpret_pickle(data, name, raw_hook=joblib_array_hook)
    yield program, depth
    for inner in program.nested:
        yield inner, depth + 1
    if depth < MAX_NESTING:
        for inner_name, payload in _nested(program):
            yield from _programs(inner_name, payload, depth + 1)


def scan_pickles(
    file: str,
    streams: Iterable[tuple[str, bytes]],
    allowlist: dict[str, str] | None = None,
    problems: Iterable[str] = (),
) -> PickleSafetyResult:
    """Classify every import of every pickle stream of one file (nested ones included)."""
    table = allowlist if allowlist is not None else bundled_allowlist()
    rows: list[tuple[Any, ...]] = []
    calls, errors, count = 0, list(problems), 0
    for name, data in streams:
        for program, depth in _programs(name, data):
            count += 1
            if depth > MAX_NESTING - 1 and _nested(program):
                errors.append(f"{program.stream}: pickles nested deeper than {MAX_NESTING} levels were not followed")
            called = _called_ids(program)
            calls += len(program.calls)
            if program.error:
                errors.append(f"{program.stream}: {program.error}")
            for g in program.globals:
                module = {"__builtin__": "builtins", "__builtins__": "builtins"}.get(g.module, g.module)
                reason = allowed_reason(module, g.name, table)
                was_called = id(g) in called or g.opcode == "INST"
                level = 0 if reason else danger(module, g.name, was_called)
                risk = Risk.SAFE if reason else (Risk.DANGEROUS if level >= 2 else Risk.MODEL_CODE)
                rows.append((program.stream, g.position, g.opcode, g.qualname, risk.value, level, was_called, reason))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if not frame.empty:
        frame = frame.sort_values(["danger", "stream", "position"], ascending=[False, True, True])
        frame = frame.reset_index(drop=True)
    risk = max((Risk(r) for r in frame["risk"]), key=_RISK_ORDER.__getitem__, default=Risk.SAFE)
    if errors and _RISK_ORDER[risk] < _RISK_ORDER[Risk.UNPROVEN]:
        risk = Risk.UNPROVEN
    if count == 0 and risk is Risk.SAFE:
        risk, errors = Risk.UNPROVEN, [*errors, "no pickle stream could be read from the file"]
    return PickleSafetyResult(file, risk, frame, calls, tuple(errors), count)


def scan_model_file(
    info: ModelFileInfo, name: str | None = None, allowlist: dict[str, str] | None = None
) -> PickleSafetyResult | None:
    """:func:`scan_pickles` over an inspected file's pickle streams; None for formats without pickle."""
    problems = tuple(info.details.get("pickle_problems", ()))
    if not info.pickles and not problems:
        return None
    return scan_pickles(name or info.path.name, info.pickles, allowlist, problems)


def _evidence(frame: pd.DataFrame, limit: int = 5) -> str:
    lines = [
        f"{r.stream}@{r.position}: {r.opcode} {r['global']}{' (called)' if r.called else ''}"
        for _, r in frame.head(limit).iterrows()
    ]
    if len(frame) > limit:
        lines.append(f"... {len(frame) - limit} more")
    return "\n".join(lines)


def _names(frame: pd.DataFrame, limit: int = 6) -> str:
    names = list(dict.fromkeys(frame["global"]))
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def pickle_safety_verdict(result: PickleSafetyResult) -> Verdict:
    """FAIL when the file can run code or could not be proven safe; WARN for model classes; PASS otherwise."""
    name, subject = "pickle safety", result.file
    if result.risk is Risk.DANGEROUS:
        bad = result.by_risk(Risk.DANGEROUS)
        return Verdict(
            name, Status.FAIL, subject=subject, observed=len(bad), threshold=0, unit="imports that can run code",
            evidence=_evidence(bad),
            message=f"can run code when loaded: imports {_names(bad)} (most dangerous first)",
            next_step="do not load this file (not even with weights_only=False); quarantine it, find who produced "
            "it, and get the weights from a trusted source, preferably as safetensors",
        )  # fmt: skip
    if result.risk is Risk.UNPROVEN:
        return Verdict(
            name, Status.FAIL, subject=subject, observed=len(result.errors), threshold=0, unit="unreadable streams",
            evidence="\n".join(result.errors[:5]),
            message="could not be proven safe: a pickle in it could not be followed to its end, and what was "
            "not read could run code",
            next_step="do not load it; fetch the file again and compare its SHA-256 with the source's, or get the "
            "weights as safetensors",
        )  # fmt: skip
    if result.risk is Risk.MODEL_CODE:
        odd = result.by_risk(Risk.MODEL_CODE)
        return Verdict(
            name, Status.WARN, subject=subject, observed=len(odd), threshold=0, unit="model classes imported",
            evidence=_evidence(odd),
            message=f"imports the model's own classes ({_names(odd)}): load it only with its code and from a "
            "trusted source; torch.load(weights_only=True) refuses it",
            next_step="load it only if you trust its source and have its code; better, re-save the state_dict "
            "(or convert to safetensors) on a trusted machine",
        )  # fmt: skip
    reasons = sorted(set(result.imports["reason"].dropna()))
    return Verdict(
        name, Status.PASS, subject=subject, observed=0, threshold=0, unit="imports that can run code",
        evidence="; ".join(reasons[:4]),
        message=f"{len(result.imports)} imports in {result.streams} streams, all on the allow-list",
    )  # fmt: skip


def pickle_safety_verdicts(
    infos: Iterable[ModelFileInfo], names: dict | None = None, allowlist: dict[str, str] | None = None
) -> list[Verdict]:
    """One verdict per file that holds pickle streams."""
    out = []
    for info in infos:
        result = scan_model_file(info, (names or {}).get(info.path), allowlist)
        if result is not None:
            out.append(pickle_safety_verdict(result))
    return out


__all__ = [
    "PickleSafetyResult",
    "Risk",
    "classify_global",
    "pickle_safety_verdict",
    "pickle_safety_verdicts",
    "scan_model_file",
    "scan_pickles",
]
