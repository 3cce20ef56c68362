"""Masking of PII and secrets in anything a report shows.

Every excerpt of a log, a config or a data set that reaches a report goes through :func:`mask`.
Masking keeps the shape of the evidence (which key held a secret, which subnet a host was in)
so the excerpt still helps the reader, while the value itself never leaves the machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

_SECRET_KEY = (
    r"(?:[a-z0-9_]*[_-])?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|secret[_-]?key|private[_-]?key|credentials?)"
)

# Order matters: credentials inside URLs before e-mails, tokens before generic key=value.
_RULES: list[tuple[str, re.Pattern[str], str]] = [
    ("url_credentials", re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+):([^/\s@]+)@"), r"\1\2:***@"),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "<jwt>"),
    ("bearer", re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"), r"\1 ***"),
    ("aws_key_id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "<aws-key-id>"),
    ("hf_token", re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"), "<hf-token>"),
    ("github_token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b"), "<github-token>"),
    ("api_key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), "<api-key>"),
    ("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), "<slack-token>"),
    (
        "key_value_secret",
        re.compile(rf"(?i)\b({_SECRET_KEY})([\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)"),
        r"\1\2***",
    ),
    (
        # "password hunter2x": a key, a space, then a value that looks like a secret (8+ chars with a digit)
        "key_space_secret",
        re.compile(rf"(?i)\b({_SECRET_KEY})(\s+)(?=[^\s]*\d)([^\s,;&]{{8,}})"),
        r"\1\2***",
    ),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), "<email>"),
    ("home_dir", re.compile(r"(/home/|/Users/)[^/\s]+"), r"\1<user>"),
    (
        "ipv4",
        re.compile(
            r"\b((?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d))\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
        ),
        r"\1.x.x",
    ),
]

RULE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _RULES)


def mask(text: str | None, *, skip: Iterable[str] = ()) -> str | None:
    """Return ``text`` with secrets and PII replaced by placeholders.

    ``skip`` names rules to leave out (see :data:`RULE_NAMES`), e.g. ``{"ipv4"}`` where the
    addresses are the evidence and the report stays inside the team.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        text = str(text)
    skipped = set(skip)
    for name, pattern, replacement in _RULES:
        if name not in skipped:
            text = pattern.sub(replacement, text)
    return text


def find_sensitive(text: str) -> list[str]:
    """Names of the rules that match ``text``: what :func:`mask` would hide."""
    return [name for name, pattern, _ in _RULES if pattern.search(text)]


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
