"""Alias history: every move of a model alias (who, when, why), and "which version held it at T".

A registry keeps only where an alias points now. opskit appends each move to a history kept twice,
as JSON lines in a file and as a registered-model tag, so that either can be lost; this module
parses both, merges them and answers questions about time. Pure: no registry access here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

FIELDS = ("model", "alias", "from_version", "to_version", "who", "at", "reason", "action")


@dataclass(frozen=True)
class AliasMove:
    """One move of ``alias`` of ``model`` from ``from_version`` (None: it was unset) to ``to_version``."""

    model: str
    alias: str
    from_version: str | None
    to_version: str
    who: str
    at: str  # ISO 8601, UTC, "Z"
    reason: str
    action: str = "promote"  # promote | rollback

    @property
    def time(self) -> datetime:
        return parse_time(self.at)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class HistoryProblem:
    """A history line that could not be used: where it is and why."""

    source: str
    line: int
    message: str


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC. Raises ValueError when unreadable."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def utc_stamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _move(record: object) -> AliasMove:
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    missing = [f for f in ("model", "alias", "to_version", "at") if not record.get(f)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    parse_time(str(record["at"]))
    from_version = record.get("from_version")
    return AliasMove(
        model=str(record["model"]),
        alias=str(record["alias"]),
        from_version=None if from_version in (None, "") else str(from_version),
        to_version=str(record["to_version"]),
        who=str(record.get("who") or "unknown"),
        at=str(record["at"]),
        reason=str(record.get("reason") or ""),
        action=str(record.get("action") or "promote"),
    )


def parse_history_lines(lines: Iterable[str], source: str) -> tuple[list[AliasMove], list[HistoryProblem]]:
    """Moves from JSON lines; a line that is not a valid move is reported with its number, the rest used."""
    moves, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            moves.append(_move(json.loads(line)))
        except (ValueError, TypeError) as exc:
            problems.append(HistoryProblem(source, number, str(exc)))
    return moves, problems


def parse_history_tag(
    value: str | None, source: str = "registered-model tag"
) -> tuple[list[AliasMove], list[HistoryProblem]]:
    """Moves from the tag's JSON list (an empty or absent tag holds none)."""
    if not value:
        return [], []
    try:
        records = json.loads(value)
    except ValueError as exc:
        return [], [HistoryProblem(source, 1, f"not JSON: {exc}")]
    if not isinstance(records, list):
        return [], [HistoryProblem(source, 1, "not a JSON list")]
    return parse_history_lines((json.dumps(r) for r in records), source)


def merge_histories(*histories: Iterable[AliasMove]) -> list[AliasMove]:
    """One history in time order; a move found in both copies counts once."""
    seen: dict[tuple, AliasMove] = {}
    for history in histories:
        for move in history:
            seen.setdefault((move.model, move.alias, move.to_version, move.time), move)
    return sorted(seen.values(), key=lambda m: m.time)


def holder_at(history: Iterable[AliasMove], model: str, alias: str, at: datetime) -> AliasMove | None:
    """The move that put ``alias`` where it pointed at ``at`` (None: the alias was not set by then)."""
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    held = None
    for move in sorted((m for m in history if m.model == model and m.alias == alias), key=lambda m: m.time):
        if move.time > at:
            break
        held = move
    return held


def previous_version(history: Iterable[AliasMove], model: str, alias: str, current: str) -> str | None:
    """The version ``alias`` held before it moved to ``current`` most recently: the default rollback target."""
    for move in reversed(merge_histories(history)):
        if move.model == model and move.alias == alias and move.to_version == current and move.from_version:
            return move.from_version
    return None


def tag_value(history: Iterable[AliasMove], limit: int = 5000) -> str:
    """The newest moves as a JSON list that fits a tag of ``limit`` characters (older ones stay in the file)."""
    records = [asdict(m) for m in history]
    while records:
        text = json.dumps(records, sort_keys=True, separators=(",", ":"))
        if len(text) <= limit:
            return text
        records = records[1:]
    return "[]"
