"""``opskit describe NAME``: a runbook's parameters with their types, defaults, choices, ranges and help.

Not registered as a subcommand of its own: :mod:`opskit.cli` defines ``describe`` and calls
:func:`describe` (this module has no ``register``).
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import TYPE_CHECKING, Any

from opskit.parameter_rules import is_range_rule
from opskit.parameters import Parameter, value_rules

if TYPE_CHECKING:  # the catalogue reads notebooks (nbformat): `describe` needs it, not every command at start
    from opskit.catalog import Runbook


def shown_type(param: Parameter) -> str:
    """``str`` for ``Literal['a', 'b']`` (the choices are listed apart), ``str | None`` when None is allowed."""
    if not param.choices:
        return param.type
    return f"{param.base_type} | None" if param.optional else param.base_type


def parameter_record(param: Parameter) -> dict[str, Any]:
    """One parameter as ``opskit describe --json`` shows it: ``choices`` is null for a free value."""
    value_range = param.value_range
    return {
        "name": param.name,
        "type": param.type,
        "default": param.default,
        "required": param.required,
        "help": param.help,
        "choices": list(param.choices) if param.choices else None,
        "range": None
        if value_range is None
        else {
            "min": value_range.low,
            "max": value_range.high,
            "min_inclusive": value_range.low_inclusive,
            "max_inclusive": value_range.high_inclusive,
            "text": str(value_range),
        },
        "rules": value_rules(param),
    }


def describe_record(book: Runbook) -> dict[str, Any]:
    """The runbook and its parameters as one JSON-ready mapping."""
    return {
        "name": book.name,
        "title": book.title,
        "purpose": book.purpose,
        "parameters": [parameter_record(p) for p in book.parameters],
    }


def describe_text(book: Runbook) -> str:
    """The text ``opskit describe`` prints: one entry per parameter, its help indented below it."""
    lines = [f"{book.name}: {book.title}", ""]
    if book.purpose:
        lines += [textwrap.fill(book.purpose, 100), ""]
    lines += [f"file: {book.path}", "", "parameters:"]
    if not book.parameters:
        lines.append("  (none)")
    for p in book.parameters:
        default = "REQUIRED" if p.required else f"default {p.default!r}"
        lines.append(f"  {p.name} ({shown_type(p)}, {default})")
        for rule in value_rules(p):
            rule = f"range: {rule}" if is_range_rule(rule) else rule
            lines.append(textwrap.fill(rule, 92, initial_indent="      ", subsequent_indent="        "))
        if p.description:
            lines.append(textwrap.indent(textwrap.fill(p.description, 92), "      "))
    lines += [
        "",
        f"run: opskit run {book.name}" + "".join(f" -p {p.name} VALUE" for p in book.parameters if p.required),
    ]
    return "\n".join(lines)


def describe(args: argparse.Namespace) -> int:
    """Print the runbook ``args.name`` as text, or as JSON with ``args.json``."""
    from opskit.catalog import get_runbook

    book = get_runbook(args.name)
    print(json.dumps(describe_record(book)) if args.json else describe_text(book))
    return 0
