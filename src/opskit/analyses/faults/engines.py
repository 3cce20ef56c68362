"""The engines that find candidate lines in a block of log bytes: Hyperscan, or Python's ``re``.

Both return the end offsets of possible matches; the scanner then classifies each candidate line
with :func:`opskit.analyses.faults.catalogue.classify_line`, so both engines give the same findings.
Hyperscan (the ``fast`` extra) searches all patterns in one pass; without it, each pattern's
required literal is found with ``bytes.find`` (see :func:`required_literal`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

try:  # the regular-expression parser, to find each pattern's required literal
    import re._parser as _sre_parser
    from re._constants import LITERAL as _LITERAL
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre_parser  # type: ignore[no-redef]
    from sre_constants import LITERAL as _LITERAL  # type: ignore[no-redef]

# Words on nearly every line of a training log: a poor prefilter when a pattern has a rarer literal.
_COMMON_WORDS = {b"loss", b"info", b"inf", b"step", b"error", b"rank", b"warn"}


def required_literal(pattern: str) -> bytes:
    """A run of plain ASCII characters every match of ``pattern`` contains, lowercased: the longest
    one that is not a word found on nearly every log line. Empty when no run has 3 characters."""
    runs, run = [], bytearray()
    for op, arg in [*_sre_parser.parse(pattern), (None, None)]:
        if op == _LITERAL and arg < 128:
            run.append(arg)
            continue
        if len(run) >= 3:
            runs.append(bytes(run).lower())
        run = bytearray()
    if not runs:
        return b""
    rare = [r for r in runs if r.strip() not in _COMMON_WORDS]
    return max(rare or runs, key=len)


class ReEngine:
    """The fallback without Hyperscan: each pattern's required literal found with ``bytes.find`` in the
    lowercased block (the whole line is then checked with Python's ``re`` by :func:`classify_line`);
    patterns without such a literal, or whose literal is on nearly every line, are searched with ``re``."""

    name = "re"

    def __init__(self, patterns: list[str]):
        literals = {p: required_literal(p) for p in patterns}
        literals = {p: b"" if lit.strip() in _COMMON_WORDS else lit for p, lit in literals.items()}
        self._literals = sorted({lit for lit in literals.values() if lit})
        rest = [p for p, lit in literals.items() if not lit]
        flags = re.IGNORECASE | re.MULTILINE
        self._rest = re.compile("|".join(f"(?:{p})" for p in rest).encode(), flags) if rest else None

    def match_ends(self, data: bytes, start: int, end: int) -> list[int]:
        low = data[start:end].lower()
        ends: list[int] = []
        for lit in self._literals:
            i = low.find(lit)
            while i >= 0:
                ends.append(start + i + len(lit))
                nl = low.find(b"\n", i)
                if nl < 0:
                    break
                i = low.find(lit, nl)
        if self._rest is not None:
            ends.extend(m.end() for m in self._rest.finditer(data, start, end))
        ends.sort()
        return ends


def _db_cache_path(patterns: list[str]) -> Path:
    import hashlib

    import hyperscan

    key = hashlib.sha256("\n".join([getattr(hyperscan, "__version__", ""), *patterns]).encode()).hexdigest()[:20]
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "opskit" / "hyperscan"
    return root / f"faults-{key}.db"


def _load_cached_db(patterns: list[str]):
    """The compiled database from an earlier run (compiling takes a few tenths of a second), or None."""
    try:
        import hyperscan

        return hyperscan.loadb(_db_cache_path(patterns).read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
    except Exception:  # absent, unreadable, or built for another CPU: compile instead
        return None


def _store_cached_db(patterns: list[str], db) -> None:
    try:
        import hyperscan

        path = _db_cache_path(patterns)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(hyperscan.dumpb(db))
        os.replace(tmp, path)
    except Exception:  # a cache only: a read-only home must not stop a scan
        pass


class HyperscanEngine:
    """All patterns compiled into one Hyperscan block-mode database."""

    name = "hyperscan"

    def __init__(self, patterns: list[str]):
        import hyperscan

        self._hs = hyperscan
        cached = _load_cached_db(patterns)
        try:
            self._db = cached or self._compile(patterns)
            self._scratch = hyperscan.Scratch(self._db)
        except hyperscan.error:  # a cached database this CPU cannot run: compile afresh
            if cached is None:
                raise
            self._db = self._compile(patterns)
            self._scratch = hyperscan.Scratch(self._db)

    def _compile(self, patterns: list[str]):
        hs = self._hs
        db = hs.Database(mode=hs.HS_MODE_BLOCK)
        db.compile(
            expressions=[p.encode() for p in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[hs.HS_FLAG_CASELESS | hs.HS_FLAG_MULTILINE] * len(patterns),
        )
        _store_cached_db(patterns, db)
        return db

    def match_ends(self, data: bytes, start: int, end: int) -> list[int]:
        ends: list[int] = []
        append = ends.append

        def on_match(_id: int, _from: int, to: int, _flags: int, _ctx: Any) -> None:
            append(to)

        self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        if start or end != len(data):
            ends = [e for e in ends if start < e <= end]
        ends.sort()
        return ends


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
