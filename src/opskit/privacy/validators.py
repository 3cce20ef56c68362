"""What the detectors check and what they show: validators that keep look-alikes unmasked (Luhn, the resident-ID
check digit, ``phonenumbers``, :mod:`ipaddress`, the IBAN checksum) and the shapes a masked value keeps
(``138****5678``, ``2001:db8:x:x``). Validators are pure, so their answers are cached: a log repeats its numbers.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable

import phonenumbers
from stdnum import iban as _iban
from stdnum import luhn as _luhn
from stdnum.cn import ric as _ric

_NON_DIGIT = re.compile(r"\D")


def digits(value: str) -> str:
    return _NON_DIGIT.sub("", value)


def _starred(digits: str, first: int, last: int) -> str:
    return digits[:first] + "*" * max(len(digits) - first - last, 1) + digits[len(digits) - last :]


def keep(first: int, last: int) -> Callable[[re.Match[str]], str]:
    """Keep the first and last digits, star the middle: the field's ``138****5678``."""

    def shape(m: re.Match[str]) -> str:
        return _starred(digits(m.group(0)), first, last)

    return shape


@functools.lru_cache(maxsize=1 << 14)
def _cn_mobile_masked(value: str) -> str:
    return ("+86 " if value.startswith("+") else "") + _starred(digits(value)[-11:], 3, 4)


def cn_mobile_shape(m: re.Match[str]) -> str:
    return _cn_mobile_masked(m.group(0))


@functools.lru_cache(maxsize=1 << 14)
def valid_card(value: str) -> bool:
    d = digits(value)
    return 13 <= len(d) <= 19 and d[0] in "3456" and _luhn.is_valid(d)


@functools.lru_cache(maxsize=1 << 14)
def valid_phone(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return False


@functools.lru_cache(maxsize=1 << 14)
def valid_cn_mobile(value: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(digits(value)[-11:], "CN"))
    except phonenumbers.NumberParseException:
        return False


def valid_ipv4(value: str) -> bool:
    """Any address but the loopback (127.0.0.0/8) and 0.0.0.0: those name no host, so they stay readable."""
    return not value.startswith("127.") and value != "0.0.0.0"


@functools.lru_cache(maxsize=1 << 14)
def valid_ipv6(value: str) -> bool:
    """A real IPv6 address other than the loopback ``::1`` and the unspecified ``::``."""
    if "::" not in value and value.count(":") != 7:  # eight groups or a "::": what IPv6Address needs
        return False
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


@functools.lru_cache(maxsize=1 << 14)
def valid_ric(value: str) -> bool:
    """A Chinese resident ID: python-stdnum's rule; where its own region table fails on a number (it raises on
    some region codes), the check digit alone decides, so a real ID is still masked (fail closed)."""
    try:
        return _ric.is_valid(value)
    except Exception:
        try:
            return _ric.calc_check_digit(value[:17]) == value[17:].upper()
        except Exception:
            return True


valid_iban = functools.lru_cache(maxsize=1 << 14)(_iban.is_valid)


def ipv6_shape(m: re.Match[str]) -> str:
    head = ipaddress.IPv6Address(m.group(0)).exploded.split(":")[:2]
    return ":".join(g.lstrip("0") or "0" for g in head) + ":x:x"


def iban_shape(m: re.Match[str]) -> str:
    compact = m.group(0).replace(" ", "")
    return compact[:2] + "*" * (len(compact) - 6) + compact[-4:]
