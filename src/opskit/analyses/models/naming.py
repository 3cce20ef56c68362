"""Naming rules for registered models and version tags: a configurable pattern, violations as WARN rows.

The default follows ``<name>_v<major>.<minor>[.<patch>]_<YYYYMMDD>`` (e.g. ``model_v2.1_20240601``):
a lowercase name, a semantic version and a release date that must be a real calendar day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from opskit.checks import Status, Verdict

DEFAULT_PATTERN = r"(?P<name>[a-z][a-z0-9_-]*)_v(?P<version>\d+\.\d+(?:\.\d+)?)_(?P<date>\d{8})"
NAME_PATTERN = r"[a-z][a-z0-9_-]*"


@dataclass(frozen=True)
class NamingSettings:
    """``version_pattern`` for version labels (a ``date`` group is checked as YYYYMMDD); ``name_pattern`` for
    registered names; ``tag`` is the version tag holding the label."""

    version_pattern: str = DEFAULT_PATTERN
    name_pattern: str = NAME_PATTERN
    tag: str = "version_label"

    def __post_init__(self) -> None:
        for field in ("version_pattern", "name_pattern"):
            try:
                re.compile(getattr(self, field))
            except re.error as exc:
                raise ValueError(f"{field} is not a regular expression: {exc}") from exc


def _date_problem(match: re.Match) -> str | None:
    date = match.groupdict().get("date")
    if date is None:
        return None
    try:
        datetime.strptime(date, "%Y%m%d")
    except ValueError:
        return f"{date} is not a calendar date (YYYYMMDD)"
    return None


def check_label(label: str, settings: NamingSettings, subject: str) -> Verdict:
    """PASS when ``label`` matches the pattern in full and its date is real; WARN otherwise."""
    match = re.fullmatch(settings.version_pattern, label)
    problem = "does not match the naming pattern" if match is None else _date_problem(match)
    if problem is None:
        return Verdict("naming", Status.PASS, subject=subject, observed=label, threshold=settings.version_pattern)
    return Verdict(
        "naming",
        Status.WARN,
        subject=subject,
        observed=label,
        threshold=settings.version_pattern,
        message=f"{label!r} {problem}",
        next_step=f"set the {settings.tag!r} tag like model_v2.1_20240601",
    )


def naming_verdicts(models: Iterable[tuple[str, str, str | None]], settings: NamingSettings) -> list[Verdict]:
    """Rows for ``(model name, version, version label or None)`` triples: one per name, one per version."""
    out, names = [], set()
    for name, version, label in models:
        if name not in names:
            names.add(name)
            ok = re.fullmatch(settings.name_pattern, name) is not None
            out.append(
                Verdict(
                    "naming",
                    Status.PASS if ok else Status.WARN,
                    subject=name,
                    observed=name,
                    threshold=settings.name_pattern,
                    message=None if ok else f"registered name {name!r} does not match the pattern",
                )
            )
        subject = f"{name} v{version}"
        if label is None:
            out.append(
                Verdict(
                    "naming",
                    Status.WARN,
                    subject=subject,
                    message=f"no {settings.tag!r} tag",
                    next_step=f"tag the version: {settings.tag}=<name>_v<semver>_<YYYYMMDD>",
                )
            )
        else:
            out.append(check_label(label, settings, subject))
    return out
