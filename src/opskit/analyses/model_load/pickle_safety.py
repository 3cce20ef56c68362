"""Is a pickle safe to load? Classify the imports its opcodes ask for, without unpickling it.

Unpickling runs code: a ``GLOBAL``/``STACK_GLOBAL``/``INST`` opcode imports any callable, ``REDUCE``
calls it. A checkpoint needs only the rebuild helpers of torch, collections and numpy, which is the
allow-list below (the same idea as ``torch.load(weights_only=True)``). Each import is one of:

* ``safe``: on the allow-list;
* ``dangerous``: a module or callable that runs commands, evaluates code, opens files or sockets,
  or reaches arbitrary attributes (``os.system``, ``builtins.eval``, ``subprocess.*``, ``getattr``...);
* ``unknown``: anything else (a user class, ``torch.nn.modules.*`` from ``torch.save(model)``): not
  evidence of an attack, but the file only loads with ``weights_only=False``, which runs that code.

The pickle is read by :func:`opskit.sources.pickle_program.interpret_pickle`; nothing is imported or run.
The equivalent by hand: ``python -m pickletools data.pkl | grep -E 'GLOBAL|INST|REDUCE'``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from opskit.checks import Status, Verdict
from opskit.sources.model_formats import ModelFileInfo
from opskit.sources.pickle_program import PickleGlobal, interpret_pickle

_TORCH_DTYPES = {
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "short",
    "int8",
    "uint8",
    "bool",
    "complex64",
    "complex128",
    "float8_e4m3fn",
    "float8_e5m2",
    "uint16",
    "uint32",
    "uint64",
}
_STORAGES = {
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
    "ComplexFloatStorage",
    "ComplexDoubleStorage",
    "UntypedStorage",
    "TypedStorage",
    "QInt8Storage",
    "QUInt8Storage",
    "QInt32Storage",
}
SAFE_GLOBALS: frozenset[str] = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch._utils._rebuild_qtensor",
        "torch._utils._rebuild_sparse_tensor",
        "torch._utils._rebuild_meta_tensor_no_storage",
        "torch._utils._rebuild_wrapper_subclass",
        "torch._utils._rebuild_device_tensor_from_numpy",
        "torch.Size",
        "torch.device",
        "torch.storage.UntypedStorage",
        "torch.storage.TypedStorage",
        "torch.per_tensor_affine",
        "torch.per_channel_affine",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "numpy.ndarray",
        "numpy.dtype",
        "_codecs.encode",
        "builtins.set",
        "builtins.frozenset",
        "builtins.slice",
        "builtins.complex",
        "builtins.bytearray",
        "builtins.range",
        *(f"torch.{name}" for name in _STORAGES | _TORCH_DTYPES),
    }
)
# Modules whose import alone is an attack surface; any name in them is dangerous.
DANGEROUS_MODULES: frozenset[str] = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "shutil",
        "socket",
        "importlib",
        "runpy",
        "pty",
        "webbrowser",
        "code",
        "codeop",
        "commands",
        "marshal",
        "ctypes",
        "pickle",
        "_pickle",
        "cPickle",
        "dill",
        "shelve",
        "types",
        "multiprocessing",
        "asyncio",
        "threading",
        "signal",
        "requests",
        "urllib",
        "urllib2",
        "http",
        "httplib",
        "ftplib",
        "smtplib",
        "telnetlib",
        "pip",
        "setuptools",
        "pdb",
        "bdb",
        "timeit",
        "tempfile",
        "glob",
        "io",
        "_io",
        "zipimport",
        "imp",
        "platform",
        "inspect",
        "pydoc",
        "cProfile",
        "profile",
        "trace",
    }
)
# Single callables that evaluate code or reach arbitrary attributes.
DANGEROUS_GLOBALS: frozenset[str] = frozenset(
    {
        "builtins.eval",
        "builtins.exec",
        "builtins.compile",
        "builtins.open",
        "builtins.__import__",
        "builtins.getattr",
        "builtins.setattr",
        "builtins.delattr",
        "builtins.globals",
        "builtins.locals",
        "builtins.vars",
        "builtins.input",
        "builtins.breakpoint",
        "builtins.apply",
        "builtins.execfile",
        "operator.attrgetter",
        "operator.methodcaller",
        "operator.getitem",
        "functools.partial",
        "functools.reduce",
        "torch.load",
        "torch.storage._load_from_bytes",
        "numpy.load",
        "numpy.testing._private.utils.runstring",
        "torch.hub.load",
        "torch.jit.load",
    }
)


class Risk(StrEnum):
    SAFE = "safe"
    UNKNOWN = "unknown"
    DANGEROUS = "dangerous"


def classify_global(module: str, name: str) -> Risk:
    """Classify one import ``module.name``: safe (allow-listed), dangerous, or unknown."""
    module = {"__builtin__": "builtins", "__builtins__": "builtins"}.get(module, module)
    qualname = f"{module}.{name}"
    if qualname in SAFE_GLOBALS:
        return Risk.SAFE
    root = module.split(".", 1)[0]
    if qualname in DANGEROUS_GLOBALS or root in DANGEROUS_MODULES or module == "builtins":
        return Risk.DANGEROUS
    if module.startswith("<"):  # unresolved STACK_GLOBAL, copyreg extension code, BUILD on a plain value
        return Risk.DANGEROUS if module != "<object>" else Risk.UNKNOWN
    return Risk.UNKNOWN


@dataclass(frozen=True)
class PickleSafetyResult:
    """The imports of one file's pickle streams, classified; worst risk first in ``imports``.

    ``imports`` columns: ``stream``, ``position`` (byte offset of the opcode), ``opcode``, ``global``,
    ``risk``, ``called`` (a REDUCE/NEWOBJ/INST/OBJ in the stream calls it).
    """

    file: str
    risk: Risk
    imports: pd.DataFrame
    calls: int
    errors: tuple[str, ...] = ()

    def by_risk(self, risk: Risk) -> pd.DataFrame:
        return self.imports[self.imports["risk"] == risk.value]


_RISK_ORDER = {Risk.DANGEROUS: 2, Risk.UNKNOWN: 1, Risk.SAFE: 0}


def scan_pickles(file: str, streams: Iterable[tuple[str, bytes]]) -> PickleSafetyResult:
    """Classify every import of every pickle stream of one file."""
    rows, calls, errors = [], 0, []
    for name, data in streams:
        program = interpret_pickle(data, name)
        called = {id(c.func) for c in program.calls if isinstance(c.func, PickleGlobal)}
        calls += len(program.calls)
        if program.error:
            errors.append(f"{name}: {program.error}")
        for g in program.globals:
            risk = classify_global(g.module, g.name)
            rows.append((name, g.position, g.opcode, g.qualname, risk.value, id(g) in called or g.opcode == "INST"))
    frame = pd.DataFrame(rows, columns=["stream", "position", "opcode", "global", "risk", "called"])
    if not frame.empty:
        order = frame["risk"].map({r.value: -_RISK_ORDER[r] for r in Risk})
        frame = frame.assign(_o=order).sort_values(["_o", "stream", "position"]).drop(columns="_o")
        frame = frame.reset_index(drop=True)
    risk = max((Risk(r) for r in frame["risk"]), key=_RISK_ORDER.__getitem__, default=Risk.SAFE)
    return PickleSafetyResult(file, risk, frame, calls, tuple(errors))


def scan_model_file(info: ModelFileInfo, name: str | None = None) -> PickleSafetyResult | None:
    """:func:`scan_pickles` over an inspected file's pickle streams; None for formats without pickle."""
    if not info.pickles:
        return None
    return scan_pickles(name or info.path.name, info.pickles)


def _evidence(frame: pd.DataFrame, limit: int = 5) -> str:
    lines = [
        f"{r.stream}@{r.position}: {r.opcode} {r['global']}{' (called)' if r.called else ''}"
        for _, r in frame.head(limit).iterrows()
    ]
    if len(frame) > limit:
        lines.append(f"... {len(frame) - limit} more")
    return "\n".join(lines)


def pickle_safety_verdict(result: PickleSafetyResult) -> Verdict:
    """FAIL for a dangerous import, WARN for imports outside the allow-list, PASS otherwise."""
    name = "pickle safety"
    if result.risk is Risk.DANGEROUS:
        bad = result.by_risk(Risk.DANGEROUS)
        names = ", ".join(dict.fromkeys(bad["global"]))
        return Verdict(
            name,
            Status.FAIL,
            subject=result.file,
            observed=len(bad),
            threshold=0,
            unit="dangerous imports",
            evidence=_evidence(bad),
            message=f"DANGEROUS: unpickling this file would import and call {names}",
            next_step="do not load this file (not even with weights_only=False); quarantine it, find who produced "
            "it, and get the weights from a trusted source, preferably as safetensors",
        )
    if result.risk is Risk.UNKNOWN:
        odd = result.by_risk(Risk.UNKNOWN)
        return Verdict(
            name,
            Status.WARN,
            subject=result.file,
            observed=len(odd),
            threshold=0,
            unit="imports outside allow-list",
            evidence=_evidence(odd),
            message="imports classes outside the tensor-rebuild allow-list: torch.load(weights_only=True) will refuse "
            "it, and weights_only=False runs their code",
            next_step="load it only if you trust its source; better, re-save the state_dict (or convert to "
            "safetensors) on a trusted machine",
        )
    return Verdict(
        name,
        Status.PASS,
        subject=result.file,
        observed=0,
        threshold=0,
        unit="dangerous imports",
        message=f"{len(result.imports)} imports, all tensor-rebuild helpers on the allow-list",
    )


def pickle_safety_verdicts(infos: Iterable[ModelFileInfo], names: dict | None = None) -> list[Verdict]:
    """One verdict per file that holds pickle streams."""
    out = []
    for info in infos:
        result = scan_model_file(info, (names or {}).get(info.path))
        if result is not None:
            out.append(pickle_safety_verdict(result))
    return out


__all__ = [
    "DANGEROUS_GLOBALS",
    "DANGEROUS_MODULES",
    "SAFE_GLOBALS",
    "PickleSafetyResult",
    "Risk",
    "classify_global",
    "pickle_safety_verdict",
    "pickle_safety_verdicts",
    "scan_model_file",
    "scan_pickles",
]
