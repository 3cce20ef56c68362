"""The fault catalogue (``data/fault_signatures.yaml``): classes, patterns, meaning, next step; one line classified."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from opskit.analyses.faults.engines import HyperscanEngine, ReEngine, required_literal
from opskit.errors import InputError
from opskit.sources.fault_catalogue import read_fault_catalogue

FAULT_CLASSES = (
    "cuda_oom",
    "host_oom",
    "nccl_timeout",
    "nccl_error",
    "cuda_version_mismatch",
    "corrupt_checkpoint",
    "state_dict_mismatch",
    "nan_loss",
    "cuda_illegal_access",
    "gpu_hardware",
    "data_error",
    "disk_full",
    "killed_preempted",
)


@dataclass(frozen=True)
class FaultClass:
    """One fault class of the catalogue."""

    name: str
    title: str
    severity: str
    tier: int
    meaning: str
    next_step: str
    runbook: str | None
    patterns: tuple[str, ...]
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    """Fault classes in match order, the harmless patterns, and the compiled matchers."""

    classes: tuple[FaultClass, ...]
    harmless: tuple[str, ...]
    version: str = ""
    words: tuple[tuple[str, tuple[str, ...]], ...] = ()  # the catalogue's named word lists (``<<name>>``)

    def word_list(self, name: str) -> tuple[str, ...]:
        """The words of list ``name`` (empty when the catalogue has no such list)."""
        return dict(self.words).get(name, ())

    def __getitem__(self, name: str) -> FaultClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def all_patterns(self) -> list[str]:
        """Every fault pattern, in class order (what the scanner searches for)."""
        return [p for c in self.classes for p in c.patterns]


_Matcher = tuple[str, "re.Pattern[str]"]  # (required literal, lowercased; the pattern)


def _literal_matchers(patterns: Iterable[str]) -> list[_Matcher]:
    return [(required_literal(p).decode(), re.compile(p, re.IGNORECASE)) for p in patterns]


def _any(matchers: list[_Matcher], text: str, low: str) -> bool:
    return any((not lit or lit in low) and rx.search(text) for lit, rx in matchers)


def _matchers(catalogue: Catalogue) -> tuple[list[_Matcher], list[tuple[str, FaultClass, re.Pattern[str]]], dict]:
    """Compiled once per catalogue and kept on it: a cheap literal test guards each regex search."""
    compiled = catalogue.__dict__.get("_compiled")
    if compiled is None:
        faults = [(lit, c, rx) for c in catalogue.classes for lit, rx in _literal_matchers(c.patterns)]
        ignores = {c.name: _literal_matchers(c.ignore) for c in catalogue.classes if c.ignore}
        compiled = (_literal_matchers(catalogue.harmless), faults, ignores)
        object.__setattr__(catalogue, "_compiled", compiled)
    return compiled


def load_catalogue(path: str | os.PathLike[str] | None = None) -> Catalogue:
    """Read a catalogue YAML (the bundled one by default) and check every pattern compiles."""
    if path is None:
        return _default_catalogue()
    return _build_catalogue(*read_fault_catalogue(path))


@cache
def _default_catalogue() -> Catalogue:
    return _build_catalogue(*read_fault_catalogue())


_WORD_LIST = re.compile(r"<<([a-z_]+)>>")


def word_alternation(words: Iterable[str]) -> str:
    """``(?:w1|w2|...)``: the words escaped, longest first so that ``Terminado (killed)`` wins over ``Terminado``."""
    return "(?:" + "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w))) + ")"


def _word_lists(doc: dict[str, Any], path: Path) -> dict[str, tuple[str, ...]]:
    raw = doc.get("words") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, list) and v for v in raw.values()):
        raise InputError("'words' must map a name to a list of words", path=path, hint="words: {killed: [Killed]}")
    return {str(k): tuple(str(w) for w in v) for k, v in raw.items()}


def _expand(pattern: str, words: dict[str, tuple[str, ...]], name: str, path: Path) -> str:
    """A pattern with each ``<<list>>`` replaced by the alternation of that word list."""

    def one(m: re.Match) -> str:
        if m.group(1) not in words:
            raise InputError(f"pattern {pattern!r} in {name} names an unknown word list <<{m.group(1)}>>", path=path)
        return word_alternation(words[m.group(1)])

    return _WORD_LIST.sub(one, pattern)


def _build_catalogue(doc: dict[str, Any], path: Path) -> Catalogue:
    """Fault classes from a catalogue document; ``path`` names the file in errors."""
    classes = []
    words = _word_lists(doc, path)
    for name, spec in (doc.get("classes") or {}).items():
        try:
            fc = FaultClass(
                name=name,
                title=spec.get("title", name),
                severity=spec.get("severity", "error"),
                tier=int(spec.get("tier", 5)),
                meaning=" ".join(str(spec["meaning"]).split()),
                next_step=" ".join(str(spec["next_step"]).split()),
                runbook=spec.get("runbook"),
                patterns=tuple(_expand(str(p), words, name, path) for p in spec["patterns"]),
                ignore=tuple(_expand(str(p), words, name, path) for p in spec.get("ignore") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"fault class {name!r} lacks {exc}", path=path, hint="see the comment at the top") from exc
        for pattern in (*fc.patterns, *fc.ignore):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InputError(f"bad pattern {pattern!r} in {name}: {exc}", path=path) from exc
        classes.append(fc)
    harmless = tuple(_expand(str(p), words, "harmless", path) for p in doc.get("harmless") or ())
    return Catalogue(tuple(classes), harmless, str(doc.get("version", "")), tuple(words.items()))


def classify_line(text: str, catalogue: Catalogue | None = None) -> FaultClass | None:
    """The fault class of one log line, or None (no pattern, or a harmless line).

    The first class in catalogue order with a matching pattern wins, unless the line is harmless
    or matches one of that class's ``ignore`` patterns.
    """
    cat = catalogue or _default_catalogue()
    harmless, faults, ignores = _matchers(cat)
    low = text.lower()
    skipped = set()
    for lit, fc, rx in faults:
        if fc.name in skipped or (lit and lit not in low) or not rx.search(text):
            continue
        if fc.name in ignores and _any(ignores[fc.name], text, low):
            skipped.add(fc.name)
            continue
        return None if _any(harmless, text, low) else fc
    return None


@cache
def engine_for(catalogue: Catalogue, kind: str) -> ReEngine | HyperscanEngine:
    """The ``"hyperscan"`` or ``"re"`` engine over every pattern of ``catalogue``, built once per pair."""
    patterns = catalogue.all_patterns()
    if kind == "hyperscan":
        return HyperscanEngine(patterns)
    return ReEngine(patterns)
