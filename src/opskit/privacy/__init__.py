"""Masking of PII and secrets in anything a report shows: the one policy.

Every excerpt of a log, a config or a data set that reaches a report goes through :func:`mask`.
Masking keeps the shape of the evidence (which key held a secret, which subnet a host was in,
``138****5678``) so the excerpt still helps the reader, while the value never leaves the machine.

The policy (kinds, operator, salt) is set once with :func:`use_policy`; every call counts what it
hid per kind, read with :func:`masking_counts` (for a report's footer and ``summary.json``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import hmac
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from opskit.privacy.detectors import KINDS, RULES, Fixed, Rule
from opskit.privacy.screen import regions

__all__ = [
    "KINDS",
    "MASKING_ENV",
    "OPERATORS",
    "RULE_NAMES",
    "MaskingPolicy",
    "counting",
    "find_sensitive",
    "mask",
    "mask_frame",
    "masking_counts",
    "use_policy",
]

RULE_NAMES: tuple[str, ...] = KINDS
OPERATORS: tuple[str, ...] = ("mask", "redact", "hash")


@dataclass(frozen=True)
class MaskingPolicy:
    """What to hide and how: ``operator`` is mask (keep a shape), redact or hash (salted, stable).

    ``salt`` is random per policy, so a hash token correlates within one report only; it is never
    written anywhere. ``network=False`` leaves IP addresses in clear (a report kept in the team).
    """

    kinds: frozenset[str] = frozenset(KINDS)
    operator: str = "mask"
    network: bool = True
    enabled: bool = True
    salt: bytes = field(default_factory=lambda: secrets.token_bytes(16), repr=False)

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(f"unknown masking operator {self.operator!r}; known: {', '.join(OPERATORS)}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown masking kinds {sorted(unknown)}; known: {', '.join(KINDS)}")


MASKING_ENV = "OPSKIT_MASKING"  # "off" (set by ``opskit run --no-masking``) turns the default policy off
_POLICY: contextvars.ContextVar[MaskingPolicy] = contextvars.ContextVar("opskit_masking_policy")
_DEFAULTS = {True: MaskingPolicy(), False: MaskingPolicy(enabled=False)}
_COUNTS: contextvars.ContextVar[Counter[str]] = contextvars.ContextVar("opskit_masking_counts")
_GLOBAL_COUNTS: Counter[str] = Counter()


def current_policy() -> MaskingPolicy:
    """The policy of the enclosing :func:`use_policy`, else the default: on unless ``OPSKIT_MASKING=off``."""
    return _POLICY.get(_DEFAULTS[os.environ.get(MASKING_ENV, "on").strip().lower() != "off"])


@contextlib.contextmanager
def use_policy(policy: MaskingPolicy) -> Iterator[MaskingPolicy]:
    """Apply ``policy`` to every :func:`mask` call inside the block."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


@contextlib.contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count what :func:`mask` hides inside the block, per kind (a fresh counter)."""
    counts: Counter[str] = Counter()
    token = _COUNTS.set(counts)
    try:
        yield counts
    finally:
        _COUNTS.reset(token)


def masking_counts() -> dict[str, int]:
    """Per-kind counts of the current :func:`counting` block, else of this process so far."""
    return dict(sorted(_COUNTS.get(_GLOBAL_COUNTS).items()))


def _replacement(rule: Rule, match, policy: MaskingPolicy) -> str:
    if policy.operator == "redact":
        return f"[{rule.name}]"
    if policy.operator == "hash":
        digest = hmac.new(policy.salt, match.group(rule.group).encode(), hashlib.sha256).hexdigest()[:12]
        return f"<{rule.name}:{digest}>"
    return rule.shape(match)


def _constant(rule: Rule, operator: str) -> str | None:
    """The replacement when it does not depend on the value (redact, or a fixed mask), else None."""
    if operator == "redact":
        return f"[{rule.name}]"
    if operator == "mask" and isinstance(rule.shape, Fixed):
        return rule.shape.text
    return None


@functools.cache
def _constants(operator: str) -> tuple[str | None, ...]:
    """:func:`_constant` of every rule, by index: worked out once, not per line."""
    return tuple(_constant(rule, operator) for rule in RULES)


# what the operators leave: a value already masked is kept as it is and not counted again
_MASKED = re.compile(r"[\"']?(?:\*{3}|\[[a-z0-9_]+\]|<[a-z0-9_ -]+(?::[0-9a-f]{12})?>)[\"']?")
_MASKED_FIRST = "\"'*[<"  # the characters a value _MASKED matches can start with: a cheap test first


def _apply(
    rule: Rule, text: str, policy: MaskingPolicy, counts: Counter[str], pos: int = 0, shrunk: list[int] | None = None
) -> str:
    """``rule`` over ``text``, its matches tried from ``pos`` on (none may start before it, lookbehinds
    still see before it); ``shrunk[0]`` grows by the characters each replacement took out."""
    text, taken = _run(rule, _constant(rule, policy.operator), text, policy, counts, pos)
    if shrunk is not None:
        shrunk[0] += taken
    return text


def _run(
    rule: Rule, constant: str | None, text: str, policy: MaskingPolicy, counts: Counter[str], pos: int
) -> tuple[str, int]:
    """:func:`_apply` given the rule's :func:`_constant`: the masked text and the characters taken out.

    A match that fails its validator may be cut short (see :func:`_shorter`); a group that holds a
    value already masked is kept. One pass, no closures, no object per match but the match: this
    runs once per rule per line.
    """
    pieces: list[str] = []
    done = found = taken = 0
    group, validate, needs, holds, search = rule.group, rule.validate, rule.needs, rule.holds, rule.pattern.search
    at = pos if pos > 0 else 0
    while True:
        if needs:  # every match holds one of them: none left, no match left (the scan would be in vain)
            for need in needs:
                if text.find(need, at) >= 0:
                    break
            else:
                break
        if holds is not None and holds.search(text, at) is None:
            break
        match = search(text, at)
        if match is None:
            break
        at = match.end()
        if validate is not None and not validate(match.group(0)):
            replaced = _shorter(rule, text, match, policy)
            if replaced is not None:
                start = match.start()
                pieces += (text[done:start], replaced)
                done = at
                found += 1
                taken += max(at - start - len(replaced), 0)
            continue
        if group:
            value = match.group(group)
            if value[:1] in _MASKED_FIRST and _MASKED.fullmatch(value):
                continue
            start, end = match.span(group)
        else:
            start, end = match.start(), at
        if constant is not None:
            new = constant
        elif policy.operator == "mask":
            new = rule.shape(match)
        else:
            new = _replacement(rule, match, policy)
        pieces += (text[done:start], new)
        done = end
        found += 1
        if len(new) < end - start:
            taken += end - start - len(new)
    if not found:
        return text, 0
    counts[rule.name] += found
    pieces.append(text[done:])
    return "".join(pieces), taken


def _shorter(rule: Rule, text: str, match, policy: MaskingPolicy) -> str | None:
    """A match that fails its validator may have run on into the next number ("+1 650-253-0000 2026"):
    the longest valid match that ends before one of its spaces, the rest as it was; None: none is valid."""
    if rule.group != 0:
        return None
    whole, base = match.group(0), match.start(0)
    for cut in sorted((base + i for i, ch in enumerate(whole) if ch == " "), reverse=True):
        short = rule.pattern.fullmatch(text, base, cut)
        if short is not None and rule.validate(short.group(0)):
            return _replacement(rule, short, policy) + text[cut : match.end(0)]
    return None


def _active(policy: MaskingPolicy, skip: Iterable[str]) -> frozenset[int]:
    skipped = set(skip)
    return frozenset(
        i
        for i, rule in enumerate(RULES)
        if rule.name not in skipped and rule.name in policy.kinds and not (rule.network and not policy.network)
    )


def _mask_all(text: str, rule_ids: Iterable[int], policy: MaskingPolicy, counts: Counter[str]) -> str:
    """The rules ``rule_ids`` one after the other over the whole of ``text``: the reference algorithm."""
    for i in sorted(rule_ids):
        rule = RULES[i]
        if rule.needs and not any(n in text for n in rule.needs):
            continue
        text = _apply(rule, text, policy, counts)
    return text


def _mask_hits(text: str, firsts: dict[int, int], offset: int, policy: MaskingPolicy, counts: Counter[str]) -> str:
    """The rules of ``firsts`` over one region (at ``offset`` in the text), each tried from its first
    hit less its ``lead`` and less what earlier replacements took out (so never past a match)."""
    constants = _constants(policy.operator)
    shrunk = 0
    for i in sorted(firsts) if len(firsts) > 1 else firsts:
        rule = RULES[i]
        pos = 0 if rule.lead is None else firsts[i] - offset - rule.lead - shrunk
        text, taken = _run(rule, constants[i], text, policy, counts, pos)
        shrunk += taken
    return text


def mask(text: str | None, *, skip: Iterable[str] = (), policy: MaskingPolicy | None = None) -> str | None:
    """Return ``text`` with secrets and PII replaced according to the policy.

    ``skip`` names kinds to leave out (see :data:`KINDS`), e.g. ``{"ipv4"}`` where the addresses
    are the evidence and the report stays inside the team. Values already masked (``***``,
    ``<email>``, a hash token) are kept and not counted again, so masking twice changes nothing.
    Only the lines the combined screen (:mod:`opskit.privacy.screen`) picks go through the rules;
    the result is the same as running every rule over the whole text.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    policy = policy or current_policy()
    if not policy.enabled:
        return text
    counts = _COUNTS.get(_GLOBAL_COUNTS)
    active = _active(policy, skip)
    if 0 in active and "PRIVATE KEY" in text:  # the one rule whose match spans lines freely: whole text
        text = _apply(RULES[0], text, policy, counts)
    found = regions(text, active - {0})
    if not found:
        return text
    pieces, done = [], 0
    for start, end, rule_ids in found:
        pieces.append(text[done:start])
        region = text[start:end]
        if rule_ids is None:
            pieces.append(_mask_all(region, active - {0}, policy, counts))
        else:
            pieces.append(_mask_hits(region, rule_ids, start, policy, counts))
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def find_sensitive(text: str) -> list[str]:
    """Names of the kinds found in ``text``: what :func:`mask` would hide."""
    with counting() as counts:
        mask(text, policy=MaskingPolicy())
    return [kind for kind in KINDS if counts.get(kind)]


def mask_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy of ``frame`` with every text column (or the named ones) masked."""
    out = frame.copy()
    names = (
        list(columns)
        if columns is not None
        else [c for c in out.columns if out[c].dtype == object or pd.api.types.is_string_dtype(out[c])]
    )
    for name in names:
        out[name] = out[name].map(lambda v: mask(v) if isinstance(v, str) else v)
    return out
