"""The combined prefilter: which lines of a text a rule could change, found in one pass.

Every rule has a ``trigger`` (see :mod:`opskit.privacy.detectors`): a byte pattern that matches on
every line the rule could change. All triggers are scanned at once, by Hyperscan where it installs
(the ``fast`` extra) and else by Python's ``re``, over an ASCII image of the text in which each
non-ASCII character stands as ``?`` (so offsets are the text's own). Only the lines a trigger hit
are handed to the detectors and their validators; the rest, most of a log, is copied as it is.

Two kinds of lines need more than their own triggers:

* a line with a non-ASCII character that ``re`` treats as a digit, a space or a letter in
  case-insensitive patterns (full-width digits, no-break spaces, the Kelvin sign): every rule runs
  on it, since the ASCII triggers cannot speak for it;
* a line where a key or ``Bearer`` is still waiting for its value at the end of the line
  (``password:`` then the value on the next line, an open quote): it is merged with the following
  lines until the value is complete, so a match never crosses a region's edge.

Replacements never create a trigger (they are ``***``, ``<kind>`` or digits kept in place with
``*`` between), which is why one scan of the original text is enough.
"""

from __future__ import annotations

import functools
import os
import re

from opskit.privacy.detectors import _SECRET_KEY, RE_TRIGGERS, RULES, caseless

ENGINE_ENV = "OPSKIT_MASK_ENGINE"  # "re" forces the plain-Python engine (tests compare the two)
SPANNING = frozenset(
    i for i, rule in enumerate(RULES) if rule.name in {"bearer", "key_value_secret", "key_space_secret"}
)
# a key (or Bearer) whose value has not ended when the region does
_CONTINUES = re.compile("(?:" + caseless("bearer|" + _SECRET_KEY) + r")[\"']?\s*(?:[:=]\s*(?:\"[^\"]*|'[^']*)?)?\Z")

Region = tuple[int, int, dict[int, int] | None]  # start, end (after its newline), {rule: first hit} or None: all
# the last character of a key, of Bearer, or of "key:" (what a line ends with when its value is on the next)
_LAST_OF_KEY = frozenset("dDyYtTnNsSlLrR:=\u017f")


class _ReEngine:
    """Each trigger as a compiled byte pattern (as :data:`RE_TRIGGERS` spells it, where it does); positions
    of the last byte of each hit."""

    name = "re"

    def __init__(self) -> None:
        self._patterns = [
            (i, re.compile(RE_TRIGGERS.get(rule.trigger, rule.trigger).encode(), re.M))
            for i, rule in enumerate(RULES)
            if rule.trigger
        ]

    def hits(self, data: bytes, rule_ids: frozenset[int]) -> list[tuple[int, int]]:
        found = []
        for i, pattern in self._patterns:
            if i in rule_ids:
                found.extend((m.end() - 1, i) for m in pattern.finditer(data))
        found.sort()
        return found


class _HyperscanEngine:
    """All triggers in one Hyperscan block-mode database: one pass over the text for every rule."""

    name = "hyperscan"

    def __init__(self) -> None:
        import hyperscan

        ids, expressions, flags = [], [], []
        for i, rule in enumerate(RULES):
            if not rule.trigger:
                continue
            caseless = rule.trigger.startswith("(?i)")
            ids.append(i)
            expressions.append(rule.trigger.removeprefix("(?i)").encode())
            flags.append(hyperscan.HS_FLAG_MULTILINE | (hyperscan.HS_FLAG_CASELESS if caseless else 0))
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        self._scratch = hyperscan.Scratch(self._db)

    def hits(self, data: bytes, rule_ids: frozenset[int]) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        add = found.append

        def on_match(rule_id: int, start: int, end: int, flags: int, context: object) -> None:
            if rule_id in rule_ids:
                add((end - 1, rule_id))

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        found.sort()
        return found


@functools.cache
def engine() -> _ReEngine | _HyperscanEngine:
    """Hyperscan when it installs and is not turned off with ``OPSKIT_MASK_ENGINE=re``, else ``re``."""
    if os.environ.get(ENGINE_ENV, "").lower() != "re":
        try:
            return _HyperscanEngine()
        except Exception:  # not installed, or no build for this CPU: the plain engine gives the same lines
            pass
    return _ReEngine()


@functools.cache
def _significant() -> re.Pattern[str]:
    """Non-ASCII characters that ``re`` reads as a digit, a space or (ignoring case) an ASCII letter."""
    chars = "".join(map(chr, range(0x80, 0x110000)))
    found = set(re.findall(r"[\d\s]", chars)) | set(caseless("iks")) - set("iksIKS[]")
    return re.compile("[" + "".join(re.escape(c) for c in sorted(found)) + "]")


def regions(text: str, rule_ids: frozenset[int]) -> list[Region]:
    """The spans of ``text`` that the rules ``rule_ids`` must see: whole lines, in order, apart.

    Each span comes with the rules it needs and where each first hit (the last character of its
    trigger), or None where every rule must run over all of it.
    """
    data = text.encode("ascii", "replace")  # one byte per character: offsets stay the text's
    size = len(data)
    lines: list[list] = []  # [start, end (after its newline), {rule: first hit} or None], in order
    end = -1
    firsts: dict[int, int] = {}
    find, rfind = data.find, data.rfind
    for pos, rule_id in engine().hits(data, rule_ids):
        if pos >= end:
            nl = find(b"\n", pos)
            end = size if nl < 0 else nl + 1
            firsts = {rule_id: pos}
            lines.append([rfind(b"\n", 0, pos) + 1, end, firsts])
        elif rule_id not in firsts:
            firsts[rule_id] = pos
    if not text.isascii():
        by_start = {line[0]: line for line in lines}
        for m in _significant().finditer(text):
            start = rfind(b"\n", 0, m.start()) + 1
            by_start[start] = [start, _line_end(data, m.start()), None]
        lines = sorted(by_start.values())
    if not lines:
        return []
    spanning = rule_ids & SPANNING
    return _merge(text, lines, spanning)


def _line_end(data: bytes, pos: int) -> int:
    nl = data.find(b"\n", pos)
    return len(data) if nl < 0 else nl + 1


def _waits(text: str, start: int, end: int) -> bool:
    """Whether a key or Bearer in ``text[start:end]`` is still waiting for (the end of) its value."""
    tail = text[start:end].rstrip()
    if not ('"' in tail or "'" in tail or tail[-1:] in _LAST_OF_KEY):
        return False  # quick answer: no open quote, and the span does not end like a key or ":"
    return _CONTINUES.search(text, start, end) is not None


def _merge(text: str, lines: list[list], spanning: frozenset[int]) -> list[Region]:
    """Join a line whose key still waits for its value with the lines after it (see the module doc)."""
    if not spanning:
        return [(start, end, firsts) for start, end, firsts in lines]
    out: list[Region] = []
    k = 0
    size = len(text)
    isdisjoint = spanning.isdisjoint
    while k < len(lines):
        start, end, firsts = lines[k]
        k += 1
        if firsts is None or not isdisjoint(firsts):
            while end < size and _waits(text, start, end):
                nl = text.find("\n", end)
                end = size if nl < 0 else nl + 1
                while k < len(lines) and lines[k][0] < end:  # the hit lines now inside
                    more = lines[k][2]
                    firsts = None if firsts is None or more is None else {**more, **firsts}
                    end = max(end, lines[k][1])
                    k += 1
        out.append((start, end, firsts))
    return out
