"""An expected dataset schema from a YAML (or JSON) file in the Frictionless Table Schema shape.

The file lists ``fields``, each with a ``name``, a ``type`` (integer, number, string, boolean,
datetime; Table Schema's ``date`` and ``any`` are read as datetime and string) and optional
``constraints`` (``required``, ``unique``, ``minimum``, ``maximum``, ``enum``), plus ``primaryKey``
(one name or a list). opskit adds ``pii: true`` on a field where personal data is expected (a
contact column); every other column must hold none::

    fields:
      - {name: id, type: integer, constraints: {required: true, unique: true}}
      - {name: age, type: integer, constraints: {minimum: 0, maximum: 120}}
      - {name: email, type: string, pii: true}
    primaryKey: id
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opskit.errors import InputError

TYPES = ("integer", "number", "string", "boolean", "datetime")
_ALIASES = {"date": "datetime", "time": "datetime", "any": "string", "year": "integer"}
_HINT = "see the schema format in opskit.sources.dataset_schema (fields: [{name, type, constraints}])"


@dataclass(frozen=True)
class ExpectedField:
    """One expected column: its type and hard constraints (None: not constrained)."""

    name: str
    type: str = "string"
    required: bool = False
    unique: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None
    pii: bool = False


@dataclass(frozen=True)
class ExpectedSchema:
    """The expected columns in order, the key columns, and where the schema came from."""

    fields: tuple[ExpectedField, ...]
    primary_key: tuple[str, ...] = ()
    source: str = "schema file"

    def field(self, name: str) -> ExpectedField | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def read_schema(path: str | Path) -> ExpectedSchema:
    """Read an expected schema; InputError names the file, the field and what is wrong."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"schema cannot be read: {exc.strerror or exc}", path=p, hint=_HINT) from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else getattr(exc, "lineno", None)
        raise InputError(f"schema is not valid YAML/JSON: {exc}", path=p, line=line, hint=_HINT) from exc
    if not isinstance(data, dict) or not isinstance(data.get("fields"), list) or not data["fields"]:
        raise InputError("schema has no 'fields' list", path=p, column="fields", hint=_HINT)
    fields = tuple(_field(item, i, p) for i, item in enumerate(data["fields"], 1))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise InputError("a field name is listed twice", path=p, column="fields", hint=_HINT)
    key = data.get("primaryKey") or ()
    key = (key,) if isinstance(key, str) else tuple(key)
    unknown = [k for k in key if k not in names]
    if unknown:
        raise InputError(f"primaryKey names unknown fields {unknown}", path=p, column="primaryKey", hint=_HINT)
    return ExpectedSchema(fields, key, source=p.name)


def _number(value: Any, where: str, p: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where} must be a number, not {value!r}", path=p, column=where, hint=_HINT)
    return float(value)


def _field(item: Any, index: int, p: Path) -> ExpectedField:
    where = f"fields[{index}]"
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
        raise InputError(f"{where} needs a 'name'", path=p, column=where, hint=_HINT)
    name = item["name"]
    kind = _ALIASES.get(str(item.get("type", "string")), str(item.get("type", "string")))
    if kind not in TYPES:
        raise InputError(
            f"field {name!r}: unknown type {item.get('type')!r}; known: {', '.join(TYPES)}",
            path=p,
            column=f"{where}.type",
            hint=_HINT,
        )
    constraints = item.get("constraints") or {}
    if not isinstance(constraints, dict):
        raise InputError(f"field {name!r}: 'constraints' must be a mapping", path=p, column=where, hint=_HINT)
    enum = constraints.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise InputError(f"field {name!r}: 'enum' must be a list", path=p, column=f"{where}.enum", hint=_HINT)
    return ExpectedField(
        name=name,
        type=kind,
        required=bool(constraints.get("required", False)),
        unique=bool(constraints.get("unique", False)),
        minimum=_number(constraints.get("minimum"), f"{where}.minimum", p),
        maximum=_number(constraints.get("maximum"), f"{where}.maximum", p),
        enum=tuple(enum) if enum is not None else None,
        pii=bool(item.get("pii", False)),
    )
