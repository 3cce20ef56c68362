"""What a parameter declares beyond its type: fixed choices and the range of a number.

Choices are the values of a ``Literal[...]`` annotation, ``pricing: Literal["on_demand", "spot"] = "spot"``.
A range ends the help comment, in one of four forms: ``(> 0)``, ``(>= 1)``, ``(0 to 100)`` (both ends
included) or ``(> 0 and < 1)``. Anything else in parentheses at the end, like ``(%)``, is prose.
:mod:`opskit.parameters` checks values against both.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

# sizes, durations and factors named like these are positive (a count of ``_lines`` may be 0); ``_pct`` is 0..100
POSITIVE_SUFFIXES = ("_gib", "_gb", "_mb", "_ms", "_s", "_hours", "_minutes", "_factor", "_ratio", "_rows", "_lines")


def literal_choices(annotation: str) -> tuple[Any, ...]:
    """The values of ``Literal[...]`` in an annotation (``Literal["a", "b"] | None`` too); ``()`` without one.

    Raises ValueError when the Literal holds something other than str, int or float values of one kind.
    """
    if "Literal" not in annotation:
        return ()
    try:
        node = ast.parse(annotation, mode="eval").body
    except SyntaxError:
        return ()
    parts = [node]
    while any(isinstance(p, ast.BinOp) and isinstance(p.op, ast.BitOr) for p in parts):
        parts = [q for p in parts for q in ((p.left, p.right) if isinstance(p, ast.BinOp) else (p,))]
    for part in parts:
        if isinstance(part, ast.Subscript) and ast.unparse(part.value) in ("Optional", "typing.Optional"):
            part = part.slice
        if isinstance(part, ast.Subscript) and ast.unparse(part.value) in ("Literal", "typing.Literal"):
            items = part.slice.elts if isinstance(part.slice, ast.Tuple) else [part.slice]
            try:
                values = tuple(ast.literal_eval(item) for item in items)
            except ValueError:
                raise ValueError("a Literal holds literal values only") from None
            kinds = {type(v) for v in values}
            if not values or len(kinds) > 1 or not kinds <= {str, int, float}:
                raise ValueError("a Literal's choices are strings, or numbers, of one kind")
            return values
    return ()


@dataclass(frozen=True)
class ValueRange:
    """Bounds of a number, as stated at the end of its help comment: ``(> 0)``, ``(0 to 100)``, ``(>= 1 and < 10)``."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)))

    def within(self, other: ValueRange) -> bool:
        """Whether every value in this range is also in ``other``."""
        low_ok = other.low is None or (
            self.low is not None
            and (self.low > other.low or (self.low == other.low and (other.low_inclusive or not self.low_inclusive)))
        )
        high_ok = other.high is None or (
            self.high is not None
            and (
                self.high < other.high
                or (self.high == other.high and (other.high_inclusive or not self.high_inclusive))
            )
        )
        return low_ok and high_ok

    def __str__(self) -> str:
        if self.low is not None and self.high is not None and self.low_inclusive and self.high_inclusive:
            return f"{self.low:g} to {self.high:g}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.low_inclusive else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self.high_inclusive else '<'} {self.high:g}")
        return " and ".join(parts)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
RANGE_AT_END = re.compile(r"\s*\(([^()]*)\)\s*$")
_SPAN = re.compile(rf"^({_NUMBER})\s+to\s+({_NUMBER})$")
_BOUND = re.compile(rf"^(>=|<=|>|<)\s*({_NUMBER})$")
_LOOKS_LIKE_RANGE = re.compile(rf"^(?:[<>]|{_NUMBER}\s+to\b)")


def parse_range(help_text: str) -> ValueRange | None:
    """The range at the end of ``help_text``, or None when it ends otherwise (``(%)`` is not a range).

    Raises ValueError for a group that starts like a range but is not one (``(> zero)``), so a typo in a
    runbook is found when its cell is read instead of leaving the value unchecked.
    """
    found = RANGE_AT_END.search(help_text or "")
    body = found.group(1).strip() if found else ""
    if not _LOOKS_LIKE_RANGE.match(body):
        return None
    span = _SPAN.match(body)
    if span:
        low, high = float(span.group(1)), float(span.group(2))
        if low > high:
            raise ValueError(f"range ({body}) is empty")
        return ValueRange(low, high)
    bounds: dict[str, Any] = {}
    for piece in re.split(r"\s*(?:,|\band\b)\s*", body):
        bound = _BOUND.match(piece.strip())
        if not bound:
            raise ValueError(f"({body}) is not a range: write (> 0), (>= 1), (0 to 100) or (> 0 and < 1)")
        op, number = bound.group(1), float(bound.group(2))
        side = "low" if op.startswith(">") else "high"
        if side in bounds:
            raise ValueError(f"range ({body}) states two {'lower' if side == 'low' else 'upper'} bounds")
        bounds[side], bounds[f"{side}_inclusive"] = number, op.endswith("=")
    value_range = ValueRange(**bounds)
    if value_range.low is not None and value_range.high is not None and value_range.low > value_range.high:
        raise ValueError(f"range ({body}) is empty")
    return value_range


def rules_in_words(name: str, base_type: str, choices: tuple[Any, ...], declared: ValueRange | None) -> list[str]:
    """The checks on a parameter beyond its type, in words: ``one of: a, b``, ``0 to 100``, ``> 1``, a format."""
    if choices:
        return ["one of: " + ", ".join(str(c) for c in choices)]
    rules = []
    if base_type in ("int", "float"):
        by_name = None
        if name.endswith("_pct"):
            by_name = ValueRange(0, 100)
        elif name.endswith("_lines"):
            by_name = ValueRange(0)
        elif name.endswith(POSITIVE_SUFFIXES):
            by_name = ValueRange(0, low_inclusive=False)
        if by_name is not None and not (declared is not None and declared.within(by_name)):
            rules.append(str(by_name))
        if declared is not None:
            rules.append(str(declared))
    elif base_type == "str" and name.endswith("_version"):
        rules.append("a version like 2.4.1")
    elif base_type == "str" and name.endswith("_sha256"):
        rules.append("a SHA-256 digest: 64 hexadecimal characters")
    return rules


def is_range_rule(rule: str) -> bool:
    """Whether a rule from :func:`rules_in_words` is a range (``> 0``, ``0 to 100``), not choices or a format."""
    return rule[:1] in set("<>-+.0123456789")
