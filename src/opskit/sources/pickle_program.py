"""A symbolic pickle interpreter: what a pickle stream would import and call, without doing either.

Pickles (``data.pkl`` inside a PyTorch zip checkpoint, legacy ``torch.save`` files, plain pickles) are
read opcode by opcode with :func:`pickletools.genops` and run on a symbolic stack by
:func:`interpret_pickle`: imports become :class:`PickleGlobal` stubs, calls become :class:`PickleCall`
records, storages :class:`PersistentId` references. Nothing is imported or called. The equivalent by
hand: ``python -m pickletools FILE``.
"""

from __future__ import annotations

import pickletools
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, eq=False)
class PickleGlobal:
    """An import the pickle asks for (``GLOBAL``, ``STACK_GLOBAL``, ``INST``), never performed."""

    module: str
    name: str
    opcode: str
    position: int
    stream: str = ""

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


@dataclass(eq=False)
class PickleCall:
    """A call the pickle asks for (``REDUCE``, ``NEWOBJ``, ``INST``, ``OBJ``), never performed."""

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
    """What a pickle stream would do: its imports, its calls, its opcode counts and its value."""

    stream: str
    globals: tuple[PickleGlobal, ...]
    calls: tuple[PickleCall, ...]
    opcode_counts: dict[str, int]
    value: Any = None
    error: str | None = None


class _Mark:
    pass


_MARK = _Mark()
_PUSH_ARG = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING",
             "BINSTRING", "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "UNICODE", "BINUNICODE",
             "SHORT_BINUNICODE", "BINUNICODE8", "BYTEARRAY8"}  # fmt: skip
_CONST = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}


def _key(obj: Any) -> Any:
    try:
        hash(obj)
    except TypeError:
        return ("<unhashable>", id(obj))
    return obj


def interpret_pickle(data: bytes, stream: str = "pickle") -> PickleProgram:
    """Run a pickle on a symbolic stack: imports and calls are recorded, never performed.

    Returns the imports (with their opcode and byte position), the calls and the resulting value
    (dicts, lists and tuples are real; everything built by a call is a :class:`PickleCall`).
    A malformed or truncated stream stops the interpretation; ``error`` says where.
    """
    stack: list[Any] = []
    marks: list[int] = []
    memo: dict[int, Any] = {}
    imports: list[PickleGlobal] = []
    calls: list[PickleCall] = []
    counts: Counter[str] = Counter()

    def pop_mark() -> list[Any]:
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def call(func: Any, args: Any, opcode: str, pos: int) -> PickleCall:
        c = PickleCall(func, tuple(args) if isinstance(args, list | tuple) else (args,), opcode, pos)
        calls.append(c)
        return c

    try:
        for op, arg, pos in pickletools.genops(data):
            name = op.name
            counts[name] += 1
            if name in _PUSH_ARG:
                stack.append(arg)
            elif name in _CONST:
                stack.append(_CONST[name])
            elif name in ("PROTO", "FRAME"):
                pass
            elif name == "STOP":
                break
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "POP":
                stack.pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_TUPLE", "EMPTY_SET"):
                stack.append({"EMPTY_LIST": [], "EMPTY_DICT": {}, "EMPTY_TUPLE": (), "EMPTY_SET": []}[name])
            elif name in ("LIST", "TUPLE", "FROZENSET"):
                items = pop_mark()
                stack.append(tuple(items) if name == "TUPLE" else items)
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = stack[-n:]
                del stack[-n:]
                stack.append(tuple(items))
            elif name == "DICT":
                items = pop_mark()
                stack.append({_key(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)})
            elif name in ("APPEND", "APPENDS", "ADDITEMS"):
                items = [stack.pop()] if name == "APPEND" else pop_mark()
                target = stack[-1]
                (target.appended if isinstance(target, PickleCall) else target).extend(items)
            elif name in ("SETITEM", "SETITEMS"):
                items = stack[-2:] if name == "SETITEM" else pop_mark()
                if name == "SETITEM":
                    del stack[-2:]
                target = stack[-1]
                store = target.items if isinstance(target, PickleCall) else target
                for i in range(0, len(items) - 1, 2):
                    store[_key(items[i])] = items[i + 1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                g = PickleGlobal(module, attr, name, pos, stream)
                imports.append(g)
                if name == "GLOBAL":
                    stack.append(g)
                else:
                    stack.append(call(g, pop_mark(), name, pos))
            elif name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                g = PickleGlobal(
                    module if isinstance(module, str) else "<unresolved>",
                    attr if isinstance(attr, str) else "<unresolved>",
                    name,
                    pos,
                    stream,
                )
                imports.append(g)
                stack.append(g)
            elif name in ("EXT1", "EXT2", "EXT4"):
                g = PickleGlobal("<copyreg extension>", str(arg), name, pos, stream)
                imports.append(g)
                stack.append(g)
            elif name == "REDUCE":
                args, func = stack.pop(), stack.pop()
                stack.append(call(func, args, name, pos))
            elif name == "NEWOBJ":
                args, cls = stack.pop(), stack.pop()
                stack.append(call(cls, args, name, pos))
            elif name == "NEWOBJ_EX":
                kwargs, args, cls = stack.pop(), stack.pop(), stack.pop()
                stack.append(call(cls, (*args, kwargs), name, pos))
            elif name == "OBJ":
                items = pop_mark()
                stack.append(call(items[0], items[1:], name, pos))
            elif name == "BUILD":
                state = stack.pop()
                target = stack[-1]
                if isinstance(target, PickleCall):
                    target.state = state
                else:  # BUILD on a plain value calls __setstate__ of its class: record it as a call
                    call(PickleGlobal("<object>", "__setstate__", name, pos, stream), (target, state), name, pos)
            elif name == "PERSID":
                stack.append(PersistentId(arg))
            elif name == "BINPERSID":
                stack.append(PersistentId(stack.pop()))
            elif name in ("NEXT_BUFFER", "READONLY_BUFFER"):
                stack.append(PersistentId(("out-of-band buffer",)))
            else:  # pragma: no cover - every opcode of protocols 0-5 is handled above
                raise ValueError(f"opcode {name} not handled")
    except (ValueError, IndexError, KeyError, TypeError, struct.error) as exc:
        return PickleProgram(
            stream,
            tuple(imports),
            tuple(calls),
            dict(counts),
            None,
            f"stopped at opcode {sum(counts.values())}: {type(exc).__name__}: {exc}",
        )
    return PickleProgram(stream, tuple(imports), tuple(calls), dict(counts), stack[-1] if stack else None)
