"""The ``parameters`` cell of a runbook: read it, document it, validate values against it.

A parameter line is ``name: type = literal  # help``. The literal is read with ``ast.literal_eval``:
parameters are data, never code. A default of ``None`` under a type that does not admit ``None``
marks a required parameter. Values from the command line arrive as text and are converted by type;
values from Python or a YAML file are checked by type.

Fixed choices are a ``Literal["a", "b"]`` annotation (the cell may start with
``from typing import Literal``, the one import it allows). A number's range is stated at the end of
its help comment: ``(> 0)``, ``(>= 1)``, ``(0 to 100)``, ``(> 0 and < 1)``. Both are checked before
anything runs, beside the rules by name of :func:`check_value`.
"""

from __future__ import annotations

import ast
import difflib
import io
import math
import os
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from opskit.errors import ParameterError
from opskit.parameter_rules import (
    POSITIVE_SUFFIXES,
    RANGE_AT_END,
    ValueRange,
    literal_choices,
    parse_range,
    rules_in_words,
)

_BASE_TYPES = {"str", "int", "float", "bool", "list", "dict"}
_TYPING = {"Literal", "Optional"}
_TRUE = {"true", "yes", "on", "1", "y"}
_FALSE = {"false", "no", "off", "0", "n"}


@dataclass(frozen=True)
class Parameter:
    """One runbook parameter as declared in its ``parameters`` cell."""

    name: str
    type: str  # the annotation as written, e.g. "int" or "str | None"
    default: Any
    help: str
    line: int

    @property
    def base_type(self) -> str:
        """``int`` for ``int | None``, ``list`` for ``list[str]``, ``str`` for ``Literal["a", "b"]``."""
        if self.choices:
            return type(self.choices[0]).__name__
        parts = [p.strip() for p in self.type.split("|") if p.strip() != "None"]
        base = parts[0].split("[", 1)[0] if parts else "str"
        return base if base in _BASE_TYPES else "str"

    @property
    def choices(self) -> tuple[Any, ...]:
        """The values of a ``Literal[...]`` annotation, in their order; ``()`` for a free value."""
        return literal_choices(self.type)

    @property
    def value_range(self) -> ValueRange | None:
        """The range stated at the end of the help comment, e.g. ``(> 0 and < 1)``; None when there is none."""
        return parse_range(self.help)

    @property
    def description(self) -> str:
        """The help comment without its range (``opskit describe`` shows the range on its own)."""
        return RANGE_AT_END.sub("", self.help).rstrip() if self.value_range else self.help

    @property
    def optional(self) -> bool:
        return "None" in [p.strip() for p in self.type.split("|")] or self.type.startswith("Optional[")

    @property
    def required(self) -> bool:
        return self.default is None and not self.optional


def parse_parameters_cell(source: str, *, where: str = "parameters cell") -> list[Parameter]:
    """Parameters declared in ``source``; raises ParameterError for a line that is not a literal."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ParameterError(f"{where}: line {exc.lineno} is not valid Python: {exc.msg}") from exc
    comments = _line_comments(source)
    params: list[Parameter] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "typing" and {a.name for a in node.names} <= _TYPING:
            continue  # the names a Literal or Optional annotation needs when the cell runs
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            # normalized as Python keeps a run() signature's annotations as text: Literal['a', 'b']
            name, annotation = node.target.id, ast.unparse(node.annotation)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name, annotation = node.targets[0].id, None
        else:
            raise ParameterError(
                f"{where}: line {node.lineno} is not 'name: type = literal'",
                hint="keep the parameters cell to one literal assignment per line",
            )
        try:
            default = ast.literal_eval(node.value)
        except ValueError as exc:
            raise ParameterError(
                f"{where}: the default of {name!r} (line {node.lineno}) is not a literal",
                name=name,
                hint="parameters are data: use a string, number, bool, list, dict or None",
            ) from exc
        if annotation is None:
            annotation = _infer_type(default)
        param = Parameter(name, annotation, default, comments.get(node.lineno, ""), node.lineno)
        _check_declaration(param, where)
        params.append(param)
    return params


def _check_declaration(param: Parameter, where: str) -> None:
    """A Literal whose default is not one of its choices, or a range on a value that is not a number, is a
    mistake in the runbook itself: refuse it when the cell is read, not when a user passes a value."""
    try:
        choices, bounds = param.choices, param.value_range
    except ValueError as exc:
        raise ParameterError(f"{where}: line {param.line}: {param.name!r}: {exc}", name=param.name) from None
    if choices and param.default not in choices and not (param.default is None and param.optional):
        raise ParameterError(
            f"{where}: line {param.line}: the default of {param.name!r}, {param.default!r}, is not one of its choices",
            name=param.name,
            hint="make the default one of the Literal's values",
        )
    if bounds is not None and (choices or param.base_type not in ("int", "float")):
        raise ParameterError(
            f"{where}: line {param.line}: {param.name!r} states a range ({bounds}) but is not a number",
            name=param.name,
            hint="a range applies to int and float parameters; drop it from the help comment",
        )


def _line_comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError):
        pass
    return comments


def _infer_type(value: Any) -> str:
    for t in (bool, int, float, str, list, dict):
        if isinstance(value, t):
            return t.__name__
    return "str | None"


def validate_parameters(
    declared: list[Parameter],
    given: Mapping[str, Any],
    *,
    runbook: str = "runbook",
) -> dict[str, Any]:
    """Check ``given`` against ``declared``; return the converted values (only those given).

    Text values (from ``-p name value``) are converted to the declared type; other values must
    already be of that type. Raises ParameterError for an unknown name (with a suggestion), a
    missing required value, or a value of the wrong type.
    """
    by_name = {p.name: p for p in declared}
    unknown = [k for k in given if k not in by_name]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, by_name, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else None
        known = ", ".join(by_name) or "none"
        raise ParameterError(
            f"{runbook} has no parameter {name!r} (its parameters: {known})",
            name=name,
            hint=hint or f"see: opskit describe {runbook}",
        )
    values = {name: convert_value(by_name[name], value, runbook=runbook) for name, value in given.items()}
    missing = [p.name for p in declared if p.required and values.get(p.name) is None]
    if missing:
        raise ParameterError(
            f"{runbook} needs a value for {', '.join(repr(m) for m in missing)}",
            name=missing[0],
            hint=f"pass it with -p {missing[0]} VALUE (see: opskit describe {runbook})",
        )
    return values


def convert_value(param: Parameter, value: Any, *, runbook: str = "runbook") -> Any:
    """``value`` as the declared type of ``param``, or a ParameterError that says what was expected."""
    base = param.base_type

    def wrong(detail: str = "") -> ParameterError:
        return ParameterError(
            f"{runbook}: parameter {param.name!r} expects {param.type}, got {value!r}{detail}",
            name=param.name,
            hint=f"e.g. -p {param.name} {_example(param)}",
        )

    if value is None:
        if param.optional or param.default is None:
            return None
        raise wrong()
    if isinstance(value, str):
        text = value.strip()
        if param.optional and text.lower() in {"none", "null"}:
            return None
        if base == "str":
            return check_value(param, value, runbook=runbook)
        if base == "int":
            try:
                return check_value(param, int(text), runbook=runbook)
            except ValueError:
                raise wrong() from None
        if base == "float":
            try:
                return check_value(param, float(text), runbook=runbook)
            except ValueError:
                raise wrong() from None
        if base == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise wrong(" (use true or false)")
        if base in ("list", "dict"):
            if base == "list" and not text.startswith("["):
                return [item.strip() for item in text.split(",") if item.strip()]
            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError:
                raise wrong(" (not valid YAML/JSON)") from None
            if not isinstance(loaded, list if base == "list" else dict):
                raise wrong()
            return loaded
    expected = {
        "str": (str,),
        "int": (int,),
        "float": (int, float),
        "bool": (bool,),
        "list": (list, tuple),
        "dict": (dict,),
    }[base]
    if isinstance(value, bool) and base != "bool":
        raise wrong()
    if not isinstance(value, expected):
        raise wrong()
    if base == "float":
        return check_value(param, float(value), runbook=runbook)
    if base == "int":
        return check_value(param, value, runbook=runbook)
    if base == "str":
        return check_value(param, value, runbook=runbook)
    if base == "list":
        return list(value)
    return value


# Value rules by name, checked before anything runs: a number that is not finite is never a
# setting; sizes, durations and factors named like these are positive; shares in percent are
# 0..100; versions and digests must parse. A runbook's own code checks what is specific to it.
_VERSION = re.compile(r"^v?\d+(\.\d+){0,3}([.+-][0-9A-Za-z.+-]+)?$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def check_value(param: Parameter, value: Any, *, runbook: str = "runbook") -> Any:
    """``value`` when it is in range for ``param``, else a ParameterError naming it and the range."""

    def bad(why: str, example: str) -> ParameterError:
        return ParameterError(
            f"{runbook}: parameter {param.name!r} {why}, got {value!r}",
            name=param.name,
            hint=f"e.g. -p {param.name} {example}",
        )

    name = param.name
    check_choice(param, value, runbook=runbook)
    if value == param.default:  # the default is the runbook's own ("0 = detect it")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise bad("must be a finite number", _example(param))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name.endswith("_pct") and not 0 <= value <= 100:
            raise bad("is a percentage: 0 to 100", "85")
        if name.endswith(POSITIVE_SUFFIXES) and value <= 0 and not (name.endswith("_lines") and value == 0):
            raise bad("must be greater than 0", _example(param))
        declared = param.value_range
        if declared is not None and value not in declared:
            raise bad(f"must be {declared}", _example(param))
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if name.endswith("_version") and not _VERSION.match(text):
            raise bad("must be a version like 2.4.1 or 12.4", "12.4" if "cuda" in name or "driver" in name else "2.4.1")
        if name.endswith("_sha256"):
            digest = text.removeprefix("sha256:")
            if len(digest) != 64 or not _HEX.match(digest):
                raise bad("must be a SHA-256 digest: 64 hexadecimal characters", "$(sha256sum FILE | cut -c1-64)")
    return value


def check_choice(param: Parameter, value: Any, *, runbook: str = "runbook") -> Any:
    """``value`` when it is one of ``param``'s choices, else a ParameterError listing them with a "did you mean"."""
    choices = param.choices
    if not choices or value in choices or (value is None and param.optional):
        return value
    listed = ", ".join(str(c) for c in choices)
    by_text = {str(c).lower(): c for c in choices}
    close = difflib.get_close_matches(str(value).strip().lower(), list(by_text), n=1, cutoff=0.5)
    hint = f"did you mean {by_text[close[0]]!r}? (-p {param.name} {by_text[close[0]]})" if close else None
    raise ParameterError(
        f"{runbook}: parameter {param.name!r} must be one of: {listed}; got {value!r}",
        name=param.name,
        hint=hint or f"e.g. -p {param.name} {param.default if param.default in choices else choices[0]}",
    )


def value_rules(param: Parameter) -> list[str]:
    """What is checked beyond the type, in words: choices, ranges by name or declared, formats by name.

    ``opskit describe``, the README catalogue and the launcher's forms show these; :func:`check_value`
    enforces them.
    """
    return rules_in_words(param.name, param.base_type, param.choices, param.value_range)


def _example(param: Parameter) -> str:
    if param.default not in (None, "", [], {}):
        return (
            str(param.default)
            if not isinstance(param.default, list | dict)
            else yaml.safe_dump(param.default, default_flow_style=True).strip()
        )
    return {"int": "10", "float": "0.5", "bool": "true", "list": "a,b", "dict": "'{k: v}'"}.get(
        param.base_type, "VALUE"
    )


def load_parameter_file(path: str) -> dict[str, Any]:
    """Parameters from a YAML (or JSON) file with one mapping at the top."""
    from opskit.errors import InputError
    from opskit.sources.encodings import read_text

    if not os.path.exists(path):
        raise InputError("parameter file not found", path=path, hint="check the path given to -f")
    try:
        data = yaml.safe_load(read_text(path).text)
    except InputError as exc:
        raise InputError(
            f"not a parameter file: {exc.reason}", path=path, hint="give -f a YAML file of 'name: value' lines"
        ) from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(
            f"not valid YAML: {exc}",
            path=path,
            line=None if line is None else line + 1,
            hint="write one 'name: value' per line",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("expected a mapping of parameter names to values", path=path, hint="write 'name: value' lines")
    return data
