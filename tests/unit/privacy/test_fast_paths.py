"""The fast paths change speed, never results: each is checked against the plain way of doing the same.

* the secret-key regexes and the plain engine's key triggers, spelt by first letter, find what the
  plain caseless alternation finds;
* one rule's pass (:func:`_apply`) gives what ``re.sub`` with a per-match function gives;
* stopping a rule once the rest of a line lacks its ``needs`` (or ``holds``) loses no match, from any start.
"""

import hashlib
import hmac
import random
import re
from collections import Counter

import pytest

from opskit.privacy import _MASKED, RULES, MaskingPolicy, _apply
from opskit.privacy.detectors import _SECRET_KEY, _SECRET_KEYS, RE_TRIGGERS, caseless, caseless_by_first_letter

PIECES = [  # one of each kind, a look-alike of each, and what sits between them in a log
    "bob@corp.example.com",
    "13812345678",
    "+86 138 1234 5678",
    "+1 650-253-0000 2026",
    "+44 20 7946 0958",
    "11010519491231002X",
    "110105194912310021",
    "4111 1111 1111 1111",
    "4111 1111 1111 1112",
    "DE89 3704 0044 0532 0130 00",
    "2001:db8:85a3::8a2e:370:7334",
    "fe80::1",
    "std::vector",
    "10.23.45.67",
    "550.54.15",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "abc8Q~abcdefghijklmnopqrstuvwxyz0123456",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "xoxb-1234567890-abcdefghij",
    "https://hooks.slack.com/services/T0/B0/XX",
    "https://bob:pa55word@minio.internal/x",
    "password=hunter22",
    "token hunter2x9x",
    "api_key: ***",
    "/home/jdoe/x",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----",
    "\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
    "<email>",
    "step 138123 loss 1.2345",
]
SEPARATORS = [" ", "\n", ", ", "=", ": ", "", "/", "\u3000"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(SEPARATORS) for _ in range(rng.randrange(1, 10)))


KEYS = [
    "password",
    "PASSWD",
    "pwd",
    "Secret",
    "secret_key",
    "SECRET-KEY",
    "token",
    "api_key",
    "apikey",
    "Access-Key",
    "account_key",
    "private_key",
    "client_secret",
    "credential",
    "credentials",
    "pa\u017f\u017fword",
    "\u017fECRET",
    "to\u212aen",
    "AP\u0130_KEY",
    "secre",
    "tok",
    "x",
]
AFTER = ["=", ": ", " ", '"', "'", "\n", " = ", "_", "-", "s", "=***", ": 'v'", '"abc def"', " hunter2x9", "=v1"]


def _key_text(rng: random.Random) -> str:
    return "".join(rng.choice(KEYS) + rng.choice(AFTER) + rng.choice(["", " ", "\n", ", "]) for _ in range(6))


def test_the_key_spelt_by_first_letter_matches_as_the_plain_alternation():
    plain = caseless(_SECRET_KEY)
    fast = caseless_by_first_letter(_SECRET_KEYS)
    rules = [rule for rule in RULES if rule.name in {"key_value_secret", "key_space_secret"}]
    rng = random.Random(11)
    for _ in range(3000):
        text = _key_text(rng)
        for rule in rules:
            reference = re.compile(rule.pattern.pattern.replace(fast, plain))
            assert reference.pattern != rule.pattern.pattern
            got = [(m.span(), m.groups()) for m in rule.pattern.finditer(text)]
            assert got == [(m.span(), m.groups()) for m in reference.finditer(text)], (rule.name, text)


def test_the_plain_engine_spells_the_key_triggers_to_find_the_same_hits():
    assert set(RE_TRIGGERS) == {rule.trigger for rule in RULES if rule.name.startswith("key_")}
    rng = random.Random(12)
    for _ in range(2000):
        data = _key_text(rng).encode("ascii", "replace")
        for trigger, spelt in RE_TRIGGERS.items():
            plain, fast = re.compile(trigger.encode(), re.M), re.compile(spelt.encode(), re.M)
            assert [m.span() for m in fast.finditer(data)] == [m.span() for m in plain.finditer(data)], data


def _plain_apply(rule, text: str, policy: MaskingPolicy, counts: Counter, pos: int = 0) -> str:
    """One rule the plain way: a function per match over ``re.sub`` (or ``finditer`` from ``pos``)."""

    def replacement(match) -> str:
        if policy.operator == "redact":
            return f"[{rule.name}]"
        if policy.operator == "hash":
            digest = hmac.new(policy.salt, match.group(rule.group).encode(), hashlib.sha256).hexdigest()[:12]
            return f"<{rule.name}:{digest}>"
        return rule.shape(match)

    def sub(match) -> str:
        whole, base = match.group(0), match.start()
        if rule.validate is not None and not rule.validate(whole):
            for cut in sorted((base + i for i, ch in enumerate(whole) if ch == " "), reverse=True):
                short = rule.pattern.fullmatch(text, base, cut)
                if short is not None and rule.validate(short.group(0)):
                    counts[rule.name] += 1
                    return replacement(short) + text[cut : match.end()]
            return whole
        if rule.group and _MASKED.fullmatch(match.group(rule.group)):
            return whole
        counts[rule.name] += 1
        start, end = match.span(rule.group)
        return whole[: start - base] + replacement(match) + whole[end - base :]

    if pos <= 0:
        return rule.pattern.sub(sub, text)
    pieces, done = [], 0
    for match in rule.pattern.finditer(text, pos):
        pieces += (text[done : match.start()], sub(match))
        done = match.end()
    return "".join(pieces) + text[done:] if pieces else text


@pytest.mark.parametrize("operator", ["mask", "redact", "hash"])
def test_one_rule_pass_gives_what_re_sub_gives(operator):
    policy = MaskingPolicy(operator=operator)
    rng = random.Random(3)
    changed = Counter()
    for _ in range(600):
        text = random_text(rng)
        for rule in RULES:
            pos = rng.choice([0, 0, rng.randrange(len(text) + 1)])
            expected_counts, counts = Counter(), Counter()
            expected = _plain_apply(rule, text, policy, expected_counts, pos)
            shrunk = [0]
            assert _apply(rule, text, policy, counts, pos, shrunk) == expected, (rule.name, text, pos)
            assert counts == expected_counts, (rule.name, text, pos)
            assert shrunk[0] >= len(text) - len(expected)
            changed[rule.name] += expected != text
    assert set(changed) == {rule.name for rule in RULES} and all(changed.values()), changed


def test_a_pass_started_late_still_sees_before_its_start_and_stops_only_where_no_match_can_be():
    policy = MaskingPolicy()
    phone = next(rule for rule in RULES if rule.name == "phone")
    assert _apply(phone, "x13812345678", policy, Counter(), 1) == "x13812345678"  # inside a word: no phone
    email = next(rule for rule in RULES if rule.name == "email")
    text = "a@b.io " * 3 + "and a tail without an at sign"
    with_counts = Counter()
    assert _apply(email, text, policy, with_counts, 3) == "a@b.io <email> <email> and a tail without an at sign"
    assert with_counts == {"email": 2}
    rng = random.Random(5)
    for _ in range(1500):  # texts dense in needs ("@", ".", ":", "+"), cut anywhere
        text = "".join(rng.choice(PIECES) + rng.choice(SEPARATORS) for _ in range(5))
        pos = rng.randrange(len(text) + 1)
        for rule in RULES:
            if rule.needs:
                assert _apply(rule, text, policy, Counter(), pos) == _plain_apply(rule, text, policy, Counter(), pos)


def test_no_rule_can_match_empty_text():
    """A pass goes on from the end of each match, so a rule that could match nothing would never end."""
    from re import _parser  # the parser's own minimum width: the check, not a sample of texts

    for rule in RULES:
        assert _parser.parse(rule.pattern.pattern, rule.pattern.flags).getwidth()[0] > 0, rule.name
    assert _parser.parse("a?", 0).getwidth()[0] == 0  # what the check would catch
