"""The combined screen changes speed, never results: the masked text and the counts are those of
every rule run over the whole text (the reference algorithm), on both engines."""

import random
import re
from collections import Counter

import pytest

from opskit.privacy import RULES, MaskingPolicy, _active, _apply, _mask_all, mask
from opskit.privacy import screen as screen_module
from opskit.privacy.detectors import _CASE_EXTRA, caseless

PIECES = [
    "alice.smith@example.com",
    "a@b.io",
    "13812345678",
    "+86 138 1234 5678",
    "+1 650-253-0000",
    "+44 20 7946 0958",
    "11010519491231002X",
    "110105194912310021",
    "4111 1111 1111 1111",
    "4111111111111111",
    "4111 1111 1111 1112",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "2001:db8:85a3::8a2e:370:7334",
    "fe80::1",
    "1:2:3:4:5:6:7:8",
    "10.23.45.67",
    "192.168.1.20",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk",
    "bearer abcdefgh12345678",
    "BeaRer\nabcdefghijkl",
    "AKIAIOSFODNN7EXAMPLE",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "abc8Q~abcdefghijklmnopqrstuvwxyz0123456",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
    "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "xoxb-1234567890-abcdefghij",
    "https://hooks.slack.com/services/T0/B0/XX",
    "https://bob:pa55word@minio.internal/x",
    "postgres://u:p@db:5432/x",
    "password=hunter22",
    "PASSWORD: 'x y'",
    "db_password:\n  s3cr3t",
    '"api_key": "abc\ndef"',
    "token hunter2x9x",
    "client_secret =\n\n value1",
    "secret",
    "credentials",
    "/home/jdoe/x",
    "/Users/ann/y",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----",
    "550e8400-e29b-41d4-a716-446655440000",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "2.5.1+cu124",
    "2026-11-28T10:00:01.123Z",
    "loss 1.2345",
    "step 138123",
    "tokens/s 51234",
    "0000:3b:00.0",
    "std::vector",
    "10:00:01",
    "***",
    "<email>",
    "password=***",
    "１３８１２３４５６７８",
    "pass\u00a0word",
    "pa\u017f\u017fword=abc",
    "\u212aey",
    "密码=中文值",
    "日志 13812345678 完",
    "\u00e9t\u00e9",
    "'",
    '"',
    ":",
    "=",
]
SEPARATORS = [" ", " ", "\n", "\t", ", ", "=", ": ", "", "\n\n", " | ", "\u3000", "/"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(SEPARATORS) for _ in range(rng.randrange(1, 14)))


def reference(text: str, policy: MaskingPolicy) -> tuple[str, Counter]:
    counts: Counter = Counter()
    return _mask_all(text, _active(policy, ()), policy, counts), counts


@pytest.fixture(params=["hyperscan", "re"])
def engine(request, monkeypatch):
    if request.param == "hyperscan":
        pytest.importorskip("hyperscan")
    monkeypatch.setenv(screen_module.ENGINE_ENV, request.param)
    screen_module.engine.cache_clear()
    yield screen_module.engine()
    screen_module.engine.cache_clear()


def test_the_screen_gives_the_reference_result_on_random_mixes(engine):
    rng = random.Random(20261202)
    policy = MaskingPolicy()
    from opskit.privacy import counting

    for _ in range(1500):
        text = random_text(rng)
        expected, expected_counts = reference(text, policy)
        with counting() as counts:
            got = mask(text, policy=policy)
        assert got == expected, (engine.name, text)
        assert counts == expected_counts, (engine.name, text)


def test_each_trigger_matches_wherever_its_rule_changes_a_line(engine):
    """The superset property itself, rule by rule: a line its rule changes always has its trigger."""
    rng = random.Random(7)
    policy = MaskingPolicy()
    for _ in range(800):
        for line in random_text(rng).split("\n"):
            if not line.isascii():
                continue
            for rule in RULES:
                if not rule.trigger or _apply(rule, line, policy, Counter()) == line:
                    continue
                flags = re.I if rule.trigger.startswith("(?i)") else 0
                assert re.search(rule.trigger.removeprefix("(?i)").encode(), line.encode(), flags), (rule.name, line)


def test_masking_twice_changes_nothing_and_counts_nothing_more():
    from opskit.privacy import counting

    text = "password=hunter22 url https://bob:pa55@h/x a@b.io 13812345678 token: 'x y z'"
    for operator in ("mask", "redact", "hash"):
        policy = MaskingPolicy(operator=operator)
        once = mask(text, policy=policy)
        with counting() as counts:
            assert mask(once, policy=policy) == once
        assert not counts, (operator, once, dict(counts))


def test_the_case_table_is_what_re_itself_matches_ignoring_case():
    chars = "".join(map(chr, range(0x80, 0x110000)))
    for letter in "abcdefghijklmnopqrstuvwxyz":
        assert "".join(re.findall("(?i)" + letter, chars)) == _CASE_EXTRA.get(letter, "")
    assert re.fullmatch(caseless("password"), "PA\u017fSWORD")
