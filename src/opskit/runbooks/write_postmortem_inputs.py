"""write_postmortem's inputs: the incident folder read in full (record, events, runs, evidence sums)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from opskit.errors import InputError, ParameterError
from opskit.sources import incidents as src

LANGS = ("en", "zh")
TEXT_TABLE = "postmortem_text.yaml"


def postmortem_text(lang: str) -> dict[str, Any]:
    """The headings and fixed sentences in ``lang`` (en or zh)."""
    table = yaml.safe_load((resources.files("opskit") / "data" / TEXT_TABLE).read_text(encoding="utf-8"))
    if lang not in table:
        raise ParameterError(f"unknown lang {lang!r}", name="lang", hint="use one of: " + ", ".join(LANGS))
    return table[lang]


@dataclass(frozen=True)
class IncidentFolder:
    """Everything read from ``incidents/<ID>/``; ``problems`` are the lines that could not be used."""

    path: Path
    record: dict[str, Any]
    events: pd.DataFrame
    summaries: list[tuple[str, dict[str, Any]]]
    checksums: pd.DataFrame
    problems: tuple[InputError, ...] = field(default=())


def read_incident_folder(path: Path) -> IncidentFolder:
    """Read the folder; a missing ``incident.yaml`` or ``events.jsonl`` leaves those parts empty (a blank template)."""
    if not path.is_dir():
        raise InputError("incident folder not found", path=path, hint="create it with: opskit incident new ID")
    record = src.read_incident_yaml(path / "incident.yaml") if (path / "incident.yaml").exists() else {}
    tz = str(record.get("timezone") or "UTC")
    events = src.read_events_jsonl(path / "events.jsonl", timezone=tz)
    summaries = [(str(p.relative_to(path)), s) for p, s in src.read_summaries(path / "reports")]
    return IncidentFolder(path, record, events.frame, summaries, src.read_checksums(path / "evidence"), events.problems)


def sibling_folders(path: Path) -> list[Path]:
    """The other incident folders beside this one (for the index)."""
    return sorted(p for p in path.parent.iterdir() if p.is_dir() and p != path and (p / "incident.yaml").exists())
