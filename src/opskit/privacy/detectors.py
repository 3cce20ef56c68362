"""The detectors: one named rule per kind of PII or secret, each a regex with an optional validator.

A regex finds candidates; a validator (Luhn, the resident-ID check digit, ``phonenumbers``, the IBAN
checksum, :mod:`ipaddress`) keeps look-alikes (order numbers, checksums, timestamps) unmasked.
``needs`` is a cheap prefilter: every match holds one of those substrings, so the rule only runs on
text containing one, and stops looking once the rest of the text holds none. ``holds`` is the same
as a regex, quicker to search than the rule's own (the rest of a line after an address is often long).

``trigger`` is the rule's part in the combined screen (:mod:`opskit.privacy.screen`): a byte pattern
for ASCII text that matches on every line the rule could change (a superset of the rule: no
lookarounds, ``\\d`` as ``[0-9]``, counts at their minimum). ``lead`` bounds how far before the last
character of its first trigger hit a match can start (the trigger's offset in a match plus its
longest length, minus one; None: unbounded), so the rule is tried from there, not from the start
of the line. Validators are pure, so their answers are cached: a log repeats its numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from opskit.privacy.validators import (
    cn_mobile_shape,
    digits,
    iban_shape,
    ipv6_shape,
    keep,
    valid_card,
    valid_cn_mobile,
    valid_iban,
    valid_ipv4,
    valid_ipv6,
    valid_phone,
    valid_ric,
)

# the characters that ``re`` matches, ignoring case, for an ASCII letter: its two cases, and for
# i, k and s also a non-ASCII one (tests derive the table from ``re`` itself)
_CASE_EXTRA = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}


def caseless(literal_pattern: str, *, ascii_only: bool = False) -> str:
    """``literal_pattern`` (letters only as literals) matching as under ``(?i)``, spelt as classes.

    ``re`` cannot skip ahead on the first letter of an ``(?i)`` pattern; with ``[Pp]`` it can,
    which makes the secret-key rules several times faster with the same matches. ``ascii_only``:
    the two cases alone, as ``(?i)`` reads a byte pattern.
    """
    return "".join(
        f"[{c.lower()}{c.upper()}{'' if ascii_only else _CASE_EXTRA.get(c.lower(), '')}]"
        if c.isascii() and c.isalpha()
        else c
        for c in literal_pattern
    )


_SECRET_KEYS = (
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "api[_-]?key",
    "access[_-]?key",
    "account[_-]?key",
    "secret[_-]?key",
    "private[_-]?key",
    "client[_-]?secret",
    "credentials?",
)
_SECRET_KEY = "(?:" + "|".join(_SECRET_KEYS) + ")"


def caseless_by_first_letter(alternatives: tuple[str, ...], *, ascii_only: bool = False) -> str:
    """``(?:a|b|...)`` of :func:`caseless` alternatives, spelt to start with one character class.

    The alternatives are grouped by their first letter (in their order, so the same one wins) and the
    class of all first letters comes first, a lookbehind telling the groups apart: ``re`` then skips
    ahead to those letters instead of trying every alternative at every position (five times faster
    on a log, the same matches).
    """
    groups: dict[str, list[str]] = {}
    for alternative in alternatives:
        groups.setdefault(alternative[0].lower(), []).append(alternative[1:])

    def spelt(text: str) -> str:
        return caseless(text, ascii_only=ascii_only)

    firsts = "".join(spelt(letter)[1:-1] for letter in groups)
    return (
        f"[{firsts}](?:"
        + "|".join(f"(?<={spelt(letter)})(?:{'|'.join(map(spelt, rest))})" for letter, rest in groups.items())
        + ")"
    )


@dataclass(frozen=True)
class Rule:
    """A kind of sensitive value: ``group`` is the part replaced (0: the whole match)."""

    name: str
    pattern: re.Pattern[str]
    shape: Callable[[re.Match[str]], str]
    group: int = 0
    validate: Callable[[str], bool] | None = None
    needs: tuple[str, ...] = ()
    network: bool = False
    trigger: str = ""
    lead: int | None = None
    holds: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Fixed:
    """A shape that is the same text whatever the value (``***``, ``<email>``): no call per match needed."""

    text: str

    def __call__(self, m: re.Match[str]) -> str:
        return self.text


# a key the secret rules need, then what must follow it: a quote, whitespace, ":" or "="
_SECRET_KEY_CASELESS = caseless_by_first_letter(_SECRET_KEYS)
_KEY_TRIGGER = "(?i)" + _SECRET_KEY + r"[\"'\s\x1c-\x1f:=]"
_KEY_SPACE_TRIGGER = "(?i)" + _SECRET_KEY + r"[\s\x1c-\x1f]"  # "token=abc" is no line for key_space_secret
_KEY_BYTES = caseless_by_first_letter(_SECRET_KEYS, ascii_only=True)
# triggers spelt as Python's ``re`` reads them fastest where that differs (Hyperscan has no lookbehind):
# the same byte patterns, for the plain engine of the screen
RE_TRIGGERS: dict[str, str] = {
    _KEY_TRIGGER: _KEY_BYTES + r"[\"'\s\x1c-\x1f:=]",
    _KEY_SPACE_TRIGGER: _KEY_BYTES + r"[\s\x1c-\x1f]",
}

# the lookarounds of the digit rules as the screen can say them: what comes before and after. A "/" is an
# edge: a number that is a path segment (/users/13812345678/orders) is still a number, the validators decide
_EDGE = r"(?:^|[^\w.+-])"
_EDGE_END = r"(?:[^\w-]|$)"

_NOT_IN_WORD = r"(?<![\w.+-])"
_END = r"(?![\w-]|\.\d)"

RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        lambda m: f"<{m.group(1).strip().lower() + ' ' if m.group(1).strip() else ''}private-key>",
        needs=("PRIVATE KEY",),
        trigger="PRIVATE KEY",
    ),
    Rule(
        "url_credentials",
        re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@"),
        Fixed("***"),
        group=1,
        needs=("://",),
        trigger=r"://[^/\s:@]+:[^/\s@]+@",
    ),
    Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        Fixed("<jwt>"),
        needs=("eyJ",),
        trigger=r"eyJ[A-Za-z0-9_-]{8}",
        lead=10,
    ),
    Rule(
        "bearer",
        re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)"),
        Fixed("***"),
        1,
        trigger=r"(?i)bearer[\s\x1c-\x1f]",
        lead=6,
    ),
    Rule(
        "aws_key_id",
        re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        Fixed("<aws-key-id>"),
        needs=("AKIA", "ASIA"),
        trigger=r"(?:AKIA|ASIA)[0-9A-Z]{16}",
        lead=19,
    ),
    Rule(
        "gcp_api_key",
        re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![\w-])"),
        Fixed("<gcp-api-key>"),
        needs=("AIza",),
        trigger=r"AIza[0-9A-Za-z_-]{35}",
        lead=38,
    ),
    Rule(
        "azure_client_secret",
        re.compile(r"(?<![\w~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])"),
        Fixed("<azure-secret>"),
        needs=("Q~",),
        trigger=r"[0-9]Q~[A-Za-z0-9_~.-]{31}",
        lead=36,
    ),
    Rule(
        "hf_token",
        re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),
        Fixed("<hf-token>"),
        needs=("hf_",),
        trigger=r"hf_[A-Za-z0-9]{20}",
        lead=22,
    ),
    Rule(
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b"),
        Fixed("<github-token>"),
        needs=("gh", "github_pat_"),
        trigger=r"gh[pousr]_[A-Za-z0-9]{30}|github_pat_[A-Za-z0-9_]{30}",
        lead=40,
    ),
    Rule(
        "api_key",
        re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"),
        Fixed("<api-key>"),
        needs=("sk-",),
        trigger=r"sk-[A-Za-z0-9_-]{20}",
        lead=22,
    ),
    Rule(
        "slack_token",
        re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
        Fixed("<slack-token>"),
        needs=("xox",),
        trigger=r"xox[abprs]-[A-Za-z0-9-]{10}",
        lead=14,
    ),
    Rule(
        "slack_webhook",
        re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]+"),
        Fixed("hooks.slack.com/services/***"),
        needs=("hooks.slack",),
        trigger=r"hooks\.slack\.com/services/[A-Za-z0-9/]",
        lead=25,
    ),
    Rule(
        "key_value_secret",
        # a quoted value is masked inside its quotes, so the text stays valid JSON/YAML and a second pass is a no-op
        re.compile(rf"{_SECRET_KEY_CASELESS}[\"']?\s*[:=]\s*[\"']?((?<=\")[^\"]+(?=\")|(?<=')[^']+(?=')|[^\s,;&\"']+)"),
        Fixed("***"),
        group=1,
        trigger=_KEY_TRIGGER,
        lead=13,
    ),
    Rule(
        # "password hunter2x": a key, a space, then a value that looks like a secret (8+ chars with a digit)
        "key_space_secret",
        re.compile(rf"{_SECRET_KEY_CASELESS}\s+(?=[^\s]*\d)([^\s,;&]{{8,}})"),
        Fixed("***"),
        group=1,
        trigger=_KEY_SPACE_TRIGGER,
        lead=13,
    ),
    Rule(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
        Fixed("<email>"),
        needs=("@",),
        trigger=r"[A-Za-z0-9._%+-]@[A-Za-z0-9.-]+\.[A-Za-z]{2}",
    ),
    Rule(
        "home_dir",
        re.compile(r"(?:/home/|/Users/)([^/\s]+)"),
        Fixed("<user>"),
        group=1,
        needs=("/home/", "/Users/"),
        trigger=r"/(?:home|Users)/[^/\s]",
        lead=7,
    ),
    Rule(
        "cn_resident_id",
        re.compile(_NOT_IN_WORD + r"[1-9]\d{16}[\dXx]" + _END),
        keep(3, 4),
        validate=valid_ric,
        trigger=_EDGE + r"[1-9][0-9]{16}[0-9Xx]" + _EDGE_END,
        lead=18,
    ),
    Rule(
        "payment_card",
        re.compile(_NOT_IN_WORD + r"[3-6]\d{3}(?:[ -]?\d{4}){2}[ -]?\d{1,7}" + _END),
        lambda m: "****-" + digits(m.group(0))[-4:],
        validate=valid_card,
        trigger=_EDGE + r"[3-6][0-9]{3}(?:[ -]?[0-9]{4}){2}[ -]?[0-9]",
        lead=15,
    ),
    Rule(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        iban_shape,
        validate=valid_iban,
        trigger=r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2}",
        lead=13,
    ),
    Rule(
        "phone",
        re.compile(_NOT_IN_WORD + r"(?:\+86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _END),
        cn_mobile_shape,
        validate=valid_cn_mobile,
        trigger=r"(?:^|[^\w.+-]|\+86[ -]?)1[3-9][0-9](?:[ -]?[0-9]{4}){2}" + _EDGE_END,
        lead=17,
    ),
    Rule(
        "phone",
        re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}" + _END),
        lambda m: "+" + "*" * max(len(digits(m.group(0))) - 4, 1) + digits(m.group(0))[-4:],
        validate=valid_phone,
        needs=("+",),
        trigger=r"\+[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2}",
        lead=17,
    ),
    Rule(
        "ipv6",
        re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::?){2,8}[0-9A-Fa-f]{0,4}(?![\w:])"),
        ipv6_shape,
        validate=valid_ipv6,
        needs=(":",),
        network=True,
        trigger=r"::|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]",
        lead=44,
    ),
    Rule(
        "ipv4",
        re.compile(
            r"\b((?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d))(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){2}\b"
        ),
        lambda m: m.group(1) + ".x.x",
        validate=valid_ipv4,
        needs=(".",),
        holds=re.compile(r"\d\.\d{1,3}\.\d"),  # the end of a first octet to the start of a third
        network=True,
        trigger=r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",
        lead=12,
    ),
)

KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.name for rule in RULES))
