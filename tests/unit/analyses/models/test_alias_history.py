"""Alias history: parsing both copies, merging, and which version held an alias at a time."""

import json
from datetime import UTC, datetime

from opskit.analyses.models.alias_history import (
    AliasMove,
    holder_at,
    merge_histories,
    parse_history_lines,
    parse_history_tag,
    previous_version,
    tag_value,
)


def _move(to, at, frm=None, alias="champion"):
    return AliasMove("fraud", alias, frm, to, "ana", at, "why")


HISTORY = [
    _move("1", "2026-11-20T10:00:00Z"),
    _move("2", "2026-11-22T09:00:00Z", "1"),
    _move("1", "2026-11-23T18:30:00Z", "2"),
    _move("3", "2026-11-21T00:00:00Z", alias="challenger"),
]


def test_holder_at_answers_before_between_and_after_moves():
    at = lambda s: datetime.fromisoformat(s).replace(tzinfo=UTC)  # noqa: E731
    assert holder_at(HISTORY, "fraud", "champion", at("2026-11-19T00:00:00")) is None
    assert holder_at(HISTORY, "fraud", "champion", at("2026-11-21T12:00:00")).to_version == "1"
    assert holder_at(HISTORY, "fraud", "champion", at("2026-11-22T09:00:00")).to_version == "2"
    assert holder_at(HISTORY, "fraud", "champion", at("2026-11-24T00:00:00")).to_version == "1"
    assert holder_at(HISTORY, "fraud", "challenger", at("2026-11-24T00:00:00")).to_version == "3"


def test_edited_lines_are_reported_by_number_and_the_rest_used():
    lines = [
        HISTORY[0].to_json(),
        "{not json",
        json.dumps({"model": "fraud", "alias": "champion"}),
        "",
        json.dumps({**json.loads(HISTORY[1].to_json()), "at": "last tuesday"}),
        HISTORY[2].to_json(),
    ]
    moves, problems = parse_history_lines(lines, "h.jsonl")
    assert [m.to_version for m in moves] == ["1", "1"]
    assert [(p.line, p.source) for p in problems] == [(2, "h.jsonl"), (3, "h.jsonl"), (5, "h.jsonl")]
    assert "to_version" in problems[1].message and "at" in problems[1].message


def test_either_copy_restores_the_history_and_duplicates_count_once():
    tag_moves, problems = parse_history_tag(tag_value(HISTORY[:3]))
    assert not problems and tag_moves == HISTORY[:3]
    merged = merge_histories(HISTORY[:2], tag_moves, HISTORY[3:])
    assert len(merged) == 4 and merged == sorted(HISTORY, key=lambda m: m.time)
    assert parse_history_tag("{oops")[1][0].line == 1


def test_tag_keeps_the_newest_moves_that_fit():
    many = [_move(str(i), f"2026-11-{1 + i % 28:02d}T00:00:{i % 60:02d}Z") for i in range(200)]
    value = tag_value(many, limit=2000)
    kept = parse_history_tag(value)[0]
    assert len(value) <= 2000 and 0 < len(kept) < 200 and kept[-1] == many[-1]


def test_previous_version_is_where_the_alias_came_from():
    assert previous_version(HISTORY, "fraud", "champion", "1") == "2"
    assert previous_version(HISTORY[:2], "fraud", "champion", "2") == "1"
    assert previous_version(HISTORY[:1], "fraud", "champion", "1") is None
