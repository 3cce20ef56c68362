"""The detectors: one named rule per kind of PII or secret, each a regex with an optional validator.

A regex finds candidates; a validator (Luhn, the resident-ID check digit, ``phonenumbers``, the IBAN
checksum, :mod:`ipaddress`) keeps look-alikes (order numbers, checksums, timestamps) unmasked.
``needs`` is a cheap prefilter: the rule only runs on text containing one of those substrings.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.cn import ric as _ric

_SECRET_KEY = (
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|account[_-]?key"
    r"|secret[_-]?key|private[_-]?key|client[_-]?secret|credentials?)"
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


def _fixed(text: str) -> Callable[[re.Match[str]], str]:
    return lambda m: text


def _keep(first: int, last: int) -> Callable[[re.Match[str]], str]:
    """Keep the first and last digits, star the middle: the field's ``138****5678``."""

    def shape(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return digits[:first] + "*" * max(len(digits) - first - last, 1) + digits[len(digits) - last :]

    return shape


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _valid_card(value: str) -> bool:
    d = _digits(value)
    return 13 <= len(d) <= 19 and d[0] in "3456" and _luhn.is_valid(d)


def _valid_phone(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False


def _valid_cn_mobile(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(_digits(value)[-11:], "CN"))
    except phonenumbers.NumberParseException:
        return False


def _valid_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _ipv6_shape(m: re.Match[str]) -> str:
    head = ipaddress.IPv6Address(m.group(0)).exploded.split(":")[:2]
    return ":".join(g.lstrip("0") or "0" for g in head) + ":x:x"


def _iban_shape(m: re.Match[str]) -> str:
    compact = m.group(0).replace(" ", "")
    return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]


_NOT_IN_WORD = r"(?<![\w.+/-])"
_END = r"(?![\w/-]|\.\d)"

RULES: tuple[Rule, ...] = (
    Rule(
        "private_key",
        re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
        lambda m: f"<{m.group(1).strip().lower() + ' ' if m.group(1).strip() else ''}private-key>",
        needs=("PRIVATE KEY",),
    ),
    Rule(
        "url_credentials",
        re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s@]+)@"),
        _fixed("***"),
        group=1,
        needs=("://",),
    ),
    Rule(
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        _fixed("<jwt>"),
        needs=("eyJ",),
    ),
    Rule("bearer", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)"), _fixed("***"), 1, needs=("earer", "EARER")),
    Rule("aws_key_id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), _fixed("<aws-key-id>"), needs=("AKIA", "ASIA")),
    Rule("gcp_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![\w-])"), _fixed("<gcp-api-key>"), needs=("AIza",)),
    Rule(
        "azure_client_secret",
        re.compile(r"(?<![\w~.-])[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])"),
        _fixed("<azure-secret>"),
        needs=("Q~",),
    ),
    Rule("hf_token", re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"), _fixed("<hf-token>"), needs=("hf_",)),
    Rule(
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b"),
        _fixed("<github-token>"),
        needs=("gh", "github_pat_"),
    ),
    Rule("api_key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b"), _fixed("<api-key>"), needs=("sk-",)),
    Rule("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), _fixed("<slack-token>"), needs=("xox",)),
    Rule(
        "slack_webhook",
        re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]+"),
        _fixed("hooks.slack.com/services/***"),
        needs=("hooks.slack",),
    ),
    Rule(
        "key_value_secret",
        re.compile(rf"(?i){_SECRET_KEY}[\"']?\s*[:=]\s*(\"[^\"]*\"|'[^']*'|[^\s,;&\"']+)"),
        _fixed("***"),
        group=1,
    ),
    Rule(
        # "password hunter2x": a key, a space, then a value that looks like a secret (8+ chars with a digit)
        "key_space_secret",
        re.compile(rf"(?i){_SECRET_KEY}\s+(?=[^\s]*\d)([^\s,;&]{{8,}})"),
        _fixed("***"),
        group=1,
    ),
    Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), _fixed("<email>"), needs=("@",)),
    Rule(
        "home_dir", re.compile(r"(?:/home/|/Users/)([^/\s]+)"), _fixed("<user>"), group=1, needs=("/home/", "/Users/")
    ),
    Rule(
        "cn_resident_id",
        re.compile(_NOT_IN_WORD + r"[1-9]\d{16}[\dXx]" + _END),
        _keep(3, 4),
        validate=_ric.is_valid,
    ),
    Rule(
        "payment_card",
        re.compile(_NOT_IN_WORD + r"[3-6]\d{3}(?:[ -]?\d{4}){2}[ -]?\d{1,7}" + _END),
        lambda m: "****-" + _digits(m.group(0))[-4:],
        validate=_valid_card,
    ),
    Rule(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        _iban_shape,
        validate=_iban.is_valid,
    ),
    Rule(
        "phone",
        re.compile(_NOT_IN_WORD + r"(?:\+86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _END),
        lambda m: (
            ("+86 " if m.group(0).startswith("+") else "") + _keep(3, 4)(re.match(r"\d{11}", _digits(m.group(0))[-11:]))
        ),
        validate=_valid_cn_mobile,
    ),
    Rule(
        "phone",
        re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,5}" + _END),
        lambda m: "+" + "*" * max(len(_digits(m.group(0))) - 4, 1) + _digits(m.group(0))[-4:],
        validate=_valid_phone,
        needs=("+",),
    ),
    Rule(
        "ipv6",
        re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::?){2,8}[0-9A-Fa-f]{0,4}(?![\w:])"),
        _ipv6_shape,
        validate=_valid_ipv6,
        needs=(":",),
        network=True,
    ),
    Rule(
        "ipv4",
        re.compile(
            r"\b((?:25[0-5]|2[0-4]\d|1?\d?\d)\.(?:25[0-5]|2[0-4]\d|1?\d?\d))(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){2}\b"
        ),
        lambda m: m.group(1) + ".x.x",
        needs=(".",),
        network=True,
    ),
)

KINDS: tuple[str, ...] = tuple(dict.fromkeys(rule.name for rule in RULES))
