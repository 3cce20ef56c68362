"""A symbolic pickle interpreter that follows CPython's unpickler, recording imports without performing them.

:func:`interpret_pickle` runs a pickle stream opcode by opcode with the semantics of CPython's ``_pickle``
unpickler: marks live on a metastack (``MARK`` saves the stack, ``POP`` right after ``MARK`` drops the
mark), ``FRAME`` lengths must fit in the data, the protocol set by ``PROTO`` decides whether Python 2
names are mapped (``_compat_pickle``), ``STACK_GLOBAL`` takes two exact strings from the stack, ``EXT*``
codes resolve through :mod:`copyreg`'s registry (read, never called). Every import CPython's
``Unpickler.find_class`` would be asked for is a :class:`PickleGlobal`; calls become :class:`PickleCall`
records; storages :class:`PersistentId`. Nothing is imported or called. Where CPython would raise, the
interpretation stops and ``error`` says why; ``end`` is the offset just past ``STOP``.
The equivalent by hand: ``python -m pickletools FILE``.
"""

from __future__ import annotations

import _compat_pickle
import copyreg
import io
import pickletools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HIGHEST_PROTOCOL = 5


@dataclass(frozen=True, eq=False)
class PickleGlobal:
    """An import the pickle asks for (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``EXT*``), never performed.

    ``module``/``name`` are what the loader imports (after the protocol < 3 name mapping);
    ``raw`` is what the stream spells when that differs.
    """

    module: str
    name: str
    opcode: str
    position: int
    stream: str = ""
    raw: str = ""

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class PickleCall:
    """A call the pickle asks for (``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ``...), never performed."""

    func: Any
    args: tuple
    opcode: str
    position: int
    state: Any = None
    items: dict = field(default_factory=dict)
    appended: list = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class PersistentId:
    """A ``PERSID``/``BINPERSID`` reference (in torch checkpoints: a tensor storage)."""

    pid: Any


@dataclass(frozen=True)
class PickleProgram:
    """What a pickle stream would do: its imports, its calls, its opcode counts and its value.

    ``complete`` is True only when the stream was interpreted to its ``STOP``; ``end`` is the offset
    just past it (or where interpretation stopped); ``nested`` holds streams found inside (joblib arrays).
    """

    stream: str
    globals: tuple[PickleGlobal, ...]
    calls: tuple[PickleCall, ...]
    opcode_counts: dict[str, int]
    value: Any = None
    error: str | None = None
    end: int = 0
    protocol: int = 0
    nested: tuple[PickleProgram, ...] = ()

    @property
    def complete(self) -> bool:
        return self.error is None


class PickleStop(Exception):
    """Where CPython's unpickler would raise: the stream cannot be followed further."""


_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING",
             "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "UNICODE", "BINUNICODE",
             "SHORT_BINUNICODE", "BINUNICODE8", "BYTEARRAY8"}  # fmt: skip
_CONST = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
# After BUILD, a loader may read raw bytes from the file (joblib's arrays): (call, data, offset) -> hook result.
RawHook = Callable[[PickleCall, bytes, int], "tuple[int, tuple[PickleProgram, ...]] | None"]


def _key(obj: Any) -> Any:
    try:
        hash(obj)
    except TypeError:
        return ("<unhashable>", id(obj))
    return obj


def _lines(data: bytes, pos: int, count: int) -> list[bytes]:
    out, at = [], pos + 1
    for _ in range(count):
        nl = data.find(b"\n", at)
        if nl < 0:
            raise PickleStop("pickle data was truncated (no newline)")
        out.append(data[at:nl])
        at = nl + 1
    return out


_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)


def _check_callable(func: Any, args: Any, message: str = "object is not callable") -> None:
    """CPython's checks before a call: a plain value is not callable (nor a type), arguments are a tuple."""
    if isinstance(func, _PLAIN):
        raise PickleStop(f"{message} ({type(func).__name__})")
    if not isinstance(args, tuple | PickleCall):
        raise PickleStop("argument list must be a tuple")


def _map_name(module: str, name: str, proto: int) -> tuple[str, str]:
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        return _compat_pickle.IMPORT_MAPPING.get(module, module), name
    return module, name


class _Machine:
    def __init__(self, data: bytes, stream: str, start: int, raw_hook: RawHook | None):
        self.data, self.stream, self.start, self.raw_hook = data, stream, start, raw_hook
        self.stack: list[Any] = []
        self.meta: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.imports: list[PickleGlobal] = []
        self.calls: list[PickleCall] = []
        self.nested: list[PickleProgram] = []
        self.counts: Counter[str] = Counter()
        self.proto = 0
        self.end = start

    # stack helpers with CPython's underflow rules
    def pop(self) -> Any:
        if not self.stack:
            raise PickleStop("unpickling stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise PickleStop("unpickling stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.meta:
            raise PickleStop("could not find MARK")
        items = self.stack
        self.stack = self.meta.pop()
        return items

    def record(self, module: str, name: str, opcode: str, pos: int) -> PickleGlobal:
        mapped = _map_name(module, name, self.proto)
        raw = f"{module}.{name}" if mapped != (module, name) else ""
        g = PickleGlobal(mapped[0], mapped[1], opcode, pos, self.stream, raw)
        self.imports.append(g)
        return g

    def call(self, func: Any, args: Any, opcode: str, pos: int) -> PickleCall:
        c = PickleCall(func, tuple(args) if isinstance(args, list | tuple) else (args,), opcode, pos)
        self.calls.append(c)
        return c

    def method_call(self, target: Any, method: str, items: list, pos: int, opcode: str) -> None:
        """APPEND/SETITEM/ADDITEMS on something that is not a plain container calls one of its methods."""
        if isinstance(target, PickleCall):
            if method == "__setitem__":
                for i in range(0, len(items) - 1, 2):
                    target.items[_key(items[i])] = items[i + 1]
            else:
                target.appended.extend(items)
        elif isinstance(target, PickleGlobal | PersistentId):
            self.attribute_call(target, method, items, opcode, pos)
        else:
            raise PickleStop(f"{opcode} on a {type(target).__name__} value")

    def attribute_call(self, target: Any, method: str, args: list, opcode: str, pos: int) -> None:
        """A method of an imported object (or a storage) is called: recorded as an import of its own."""
        owner = target.qualname if isinstance(target, PickleGlobal) else "<persistent id>"
        g = PickleGlobal("<attribute>", f"{owner}.{method}", opcode, pos, self.stream)
        self.imports.append(g)
        self.call(g, (target, *args), opcode, pos)

    def run(self) -> Any:
        buf = io.BytesIO(self.data)
        buf.seek(self.start)
        ops = pickletools.genops(buf)
        for op, arg, pos in ops:
            name = op.name
            self.counts[name] += 1
            self.end = pos + 1
            if name in _PUSH_ARG:
                self.stack.append(arg)
            elif name in _CONST:
                self.stack.append(_CONST[name])
            elif name == "PROTO":
                if not 0 <= arg <= HIGHEST_PROTOCOL:
                    raise PickleStop(f"unsupported pickle protocol: {arg}")
                self.proto = arg
            elif name == "FRAME":
                if pos + 9 + arg > len(self.data):
                    raise PickleStop("pickle exhausted before end of frame")
            elif name == "STOP":
                return self.pop()
            elif name == "MARK":
                self.meta.append(self.stack)
                self.stack = []
            elif name == "POP":
                if self.stack:
                    self.stack.pop()
                else:
                    self.pop_mark()
            elif name == "POP_MARK":
                self.pop_mark()
            elif name == "DUP":
                self.stack.append(self.top())
            elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_SET"):
                self.stack.append({"EMPTY_LIST": [], "EMPTY_DICT": {}, "EMPTY_TUPLE": (), "EMPTY_SET": set()}[name])
            elif name in ("LIST", "TUPLE"):
                items = self.pop_mark()
                self.stack.append(tuple(items) if name == "TUPLE" else items)
            elif name == "FROZENSET":
                items = self.pop_mark()
                self.stack.append(frozenset(_key(i) for i in items))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                if len(self.stack) < n:
                    raise PickleStop("unpickling stack underflow")
                items = self.stack[-n:]
                del self.stack[-n:]
                self.stack.append(tuple(items))
            elif name == "DICT":
                items = self.pop_mark()
                if len(items) % 2:
                    raise PickleStop("odd number of items for DICT")
                self.stack.append({_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})
            elif name in ("APPEND", "APPENDS", "ADDITEMS"):
                items = [self.pop()] if name == "APPEND" else self.pop_mark()
                target = self.top()
                if isinstance(target, list) and name != "ADDITEMS":
                    target.extend(items)
                elif isinstance(target, set) and name == "ADDITEMS":
                    target.update(_key(i) for i in items)
                else:
                    self.method_call(target, "add" if name == "ADDITEMS" else "append", items, pos, name)
            elif name in ("SETITEM", "SETITEMS"):
                if name == "SETITEM":
                    value, key = self.pop(), self.pop()
                    items = [key, value]
                else:
                    items = self.pop_mark()
                    if len(items) % 2:
                        raise PickleStop("odd number of items for SETITEMS")
                target = self.top()
                if isinstance(target, dict):
                    for i in range(0, len(items), 2):
                        target[_key(items[i])] = items[i + 1]
                else:
                    self.method_call(target, "__setitem__", items, pos, name)
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                index = int(arg)
                if index not in self.memo:
                    raise PickleStop(f"Memo value not found at index {index}")
                self.stack.append(self.memo[index])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                if int(arg) < 0:
                    raise PickleStop("negative PUT argument")
                self.memo[int(arg)] = self.top()
            elif name == "MEMOIZE":
                self.memo[len(self.memo)] = self.top()
            elif name == "GLOBAL":
                module, attr = (line.decode("utf-8") for line in _lines(self.data, pos, 2))
                self.stack.append(self.record(module, attr, name, pos))
            elif name == "INST":
                args = self.pop_mark()
                module, attr = (line.decode("ascii") for line in _lines(self.data, pos, 2))
                g = self.record(module, attr, name, pos)
                self.stack.append(self.call(g, args, name, pos))
            elif name == "STACK_GLOBAL":
                attr, module = self.pop(), self.pop()
                if type(attr) is not str or type(module) is not str:
                    raise PickleStop("STACK_GLOBAL requires str")
                self.stack.append(self.record(module, attr, name, pos))
            elif name in ("EXT1", "EXT2", "EXT4"):
                code = int(arg)
                if code <= 0:
                    raise PickleStop("EXT specifies code <= 0")
                known = copyreg._inverted_registry.get(code)
                if known is None:  # unregistered here; a loader's process may have registered it
                    g = PickleGlobal("<copyreg extension>", str(code), name, pos, self.stream)
                    self.imports.append(g)
                else:
                    g = self.record(known[0], known[1], name, pos)
                self.stack.append(g)
            elif name == "REDUCE":
                args, func = self.pop(), self.pop()
                _check_callable(func, args)
                self.stack.append(self.call(func, args, name, pos))
            elif name == "NEWOBJ":
                args, cls = self.pop(), self.pop()
                _check_callable(cls, args, "NEWOBJ class argument must be a type")
                self.stack.append(self.call(cls, args, name, pos))
            elif name == "NEWOBJ_EX":
                kwargs, args, cls = self.pop(), self.pop(), self.pop()
                _check_callable(cls, args, "NEWOBJ_EX class argument must be a type")
                if not isinstance(kwargs, dict | PickleCall):
                    raise PickleStop("NEWOBJ_EX kwargs argument must be a dict")
                self.stack.append(self.call(cls, (*args, kwargs), name, pos))
            elif name == "OBJ":
                items = self.pop_mark()
                if not items:
                    raise PickleStop("unpickling stack underflow")
                _check_callable(items[0], ())
                self.stack.append(self.call(items[0], items[1:], name, pos))
            elif name == "BUILD":
                state = self.pop()
                target = self.top()
                if isinstance(target, PickleCall):
                    target.state = state
                    if self.raw_hook is not None:
                        hooked = self.raw_hook(target, self.data, pos + 1)
                        if hooked is not None:
                            offset, inner = hooked
                            self.nested.extend(inner)
                            buf.seek(offset)
                elif isinstance(target, PickleGlobal | PersistentId):  # sets attributes of an imported object
                    self.attribute_call(target, "__setstate__", [state], name, pos)
                else:  # a plain value has neither __setstate__ nor __dict__: CPython raises
                    raise PickleStop(f"BUILD on a {type(target).__name__} value")
            elif name == "PERSID":
                self.stack.append(PersistentId(arg))
            elif name == "BINPERSID":
                self.stack.append(PersistentId(self.pop()))
            elif name == "NEXT_BUFFER":  # file loaders (pickle.load, torch.load, np.load) pass no buffers
                raise PickleStop("pickle stream refers to out-of-band data but no buffers were given")
            elif name == "READONLY_BUFFER":
                self.top()
            else:  # pragma: no cover - pickletools knows only the opcodes handled above
                raise PickleStop(f"opcode {name} not handled")
        raise PickleStop("pickle data was truncated (no STOP)")  # pragma: no cover - genops raises first


def interpret_pickle(
    data: bytes, stream: str = "pickle", *, start: int = 0, raw_hook: RawHook | None = None
) -> PickleProgram:
    """Run the pickle stream starting at ``start`` of ``data`` on a symbolic stack, as CPython would.

    Returns the imports (with opcode and byte position), the calls and the resulting value (dicts,
    lists and tuples are real; what a call builds is a :class:`PickleCall`). Anything CPython would
    reject, and any malformed or truncated stream, stops the interpretation with ``error`` set.
    """
    machine = _Machine(data, stream, start, raw_hook)
    value, error = None, None
    try:
        value = machine.run()
    except PickleStop as exc:
        error = f"stopped at byte {machine.end - 1}: {exc}"
    except Exception as exc:
        error = f"stopped at byte {machine.end - 1}: {type(exc).__name__}: {exc}"
    return PickleProgram(
        stream,
        tuple(machine.imports),
        tuple(machine.calls),
        dict(machine.counts),
        value,
        error,
        machine.end,
        machine.proto,
        tuple(machine.nested),
    )
