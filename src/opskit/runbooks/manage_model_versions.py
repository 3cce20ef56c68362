"""Registered model versions in MLflow: aliases, naming convention, recorded checksums and alias history.

``runbooks/manage_model_versions.ipynb`` narrates this module. It only reads: :func:`run` lists the
registry's models and versions (every page, so a listing is never judged as complete when it was
not), checks names and version labels against the naming convention, flags versions without the
recorded SHA-256 tag, verifies the artifacts of every version an alias points at
(:mod:`opskit.model_verify`) and reads the alias history kept by ``opskit model promote|rollback``.
An unreachable tracking server is an ERROR row naming the URI, within the short timeouts of
:mod:`opskit.tracking`. Moving an alias is the CLI's job (``opskit model promote|rollback``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.analyses.models.alias_history import AliasMove, HistoryProblem, holder_at, parse_time
from opskit.analyses.models.naming import DEFAULT_PATTERN, NamingSettings, naming_verdicts
from opskit.checks import Status, Verdict, VerdictTable, error_verdict
from opskit.errors import InputError
from opskit.model_registry import HISTORY_TAG, Registry, history_path
from opskit.model_verify import CHECKSUM_TAG
from opskit.runbooks.display import Markdown, table, unavailable
from opskit.samples import SAMPLE_PREFIX, resolve
from opskit.samples.model_registry import build_registry
from opskit.tracking import MAX_RETRIES, TIMEOUT_S, short_http_timeouts

HIDDEN_TAGS = (CHECKSUM_TAG, HISTORY_TAG)  # long JSON values: shown as columns of their own


@dataclass(frozen=True)
class ManageModelVersionsResult:
    """The verdicts and what was read (empty when the registry could not be read)."""

    verdicts: VerdictTable
    uri: str = ""
    versions: pd.DataFrame = field(default_factory=pd.DataFrame)
    history: tuple[AliasMove, ...] = ()
    problems: tuple[HistoryProblem, ...] = ()
    at: datetime | None = None
    read: bool = False

    @property
    def figures(self) -> dict[str, Any]:
        """Models, versions, aliases, history moves and the rows that need attention, for ``summary.json``."""
        if not self.read:
            return {}
        rows = self.verdicts.rows
        return {
            "models": int(self.versions["model"].nunique()) if len(self.versions) else 0,
            "versions": len(self.versions),
            "aliases": int(self.versions["aliases"].map(lambda a: len(a.split(", ")) if a else 0).sum())
            if len(self.versions)
            else 0,
            "history_moves": len(self.history),
            "history_lines_skipped": len(self.problems),
            "versions_without_checksums": sum(
                1 for v in rows if v.name == "checksums recorded" and v.status != Status.PASS
            ),
            "naming_violations": sum(1 for v in rows if v.name == "naming" and v.status != Status.PASS),
            "alias_targets_failed": sum(1 for v in rows if v.name == "alias target" and v.status == Status.FAIL),
        }

    @property
    def headline(self) -> dict[str, Any]:
        """The report header's figures: what the registry holds and how many rows need a look."""
        if not self.read:
            return {}
        figures = self.figures
        attention = sum(1 for v in self.verdicts if v.status in (Status.ERROR, Status.FAIL, Status.WARN))
        return {
            "models": figures["models"],
            "versions": figures["versions"],
            "aliases": figures["aliases"],
            "alias targets failed": figures["alias_targets_failed"],
            "rows to look at": attention,
        }

    def versions_table(self) -> pd.DataFrame | Markdown:
        """Every version: aliases, version tags, stage, source run, whether checksums are recorded."""
        if not self.read:
            return unavailable("The list of versions")
        return table(self.versions.drop(columns=["labels"], errors="ignore"), empty="The registry has no versions.")

    def history_table(self) -> pd.DataFrame | Markdown:
        """Every alias move in time order (UTC): from, to, promote or rollback, who and why."""
        if not self.read:
            return unavailable("The alias history")
        frame = pd.DataFrame(
            [
                (m.at, m.model, m.alias, m.from_version or "-", m.to_version, m.action, m.who, m.reason)
                for m in self.history
            ],
            columns=["at (UTC)", "model", "alias", "from", "to", "action", "who", "reason"],
        )
        return table(frame, empty="No alias move is recorded: `opskit model promote` starts the history.")

    def holders_at(self) -> pd.DataFrame | Markdown:
        """Which version each alias pointed at, at the time ``at`` (from the history)."""
        if not self.read:
            return unavailable("Which version held each alias")
        if self.at is None:
            return Markdown("Set the parameter `at` (ISO 8601, UTC) to see which version held each alias then.")
        rows = []
        for model, alias in sorted({(m.model, m.alias) for m in self.history}):
            held = holder_at(self.history, model, alias, self.at)
            rows.append(
                (model, alias, "not set" if held is None else held.to_version)
                + (("-", "-", "no move before that time") if held is None else (held.at, held.who, held.reason))
            )
        frame = pd.DataFrame(rows, columns=["model", "alias", "version", "since (UTC)", "moved by", "reason"])
        stamp = self.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return table(frame, empty=f"No alias move is recorded, so nothing is known about {stamp}.")


def _paged(search, **kwargs) -> list:
    """Every page of an MLflow search (a listing cut at the first page would look complete)."""
    out, token = [], None
    while True:
        page = search(page_token=token, **kwargs)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def _registry_location(tracking_uri: str) -> tuple[str, Path | None]:
    """The URI to read and the history file beside it: a sample's own file, else opskit's default."""
    if tracking_uri.startswith(SAMPLE_PREFIX):
        db = build_registry(resolve(tracking_uri))  # the sample's description, built into a store once
        return f"sqlite:///{db.resolve().as_posix()}", db.parent / "model_history.jsonl"
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri.removeprefix("sqlite:///")).is_file():
        raise InputError(  # MLflow would create an empty registry there: a read-only runbook must not
            f"no registry database at {tracking_uri.removeprefix('sqlite:///')}",
            column="tracking_uri",
            hint="name an existing MLflow SQLite store (sqlite:////abs/path/mlflow.db) or an http(s) server",
        )
    return tracking_uri, history_path()


def _version_rows(reg, models: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name in models:
        aliases: dict[str, list[str]] = {}
        for alias, version in (reg.model(name).aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in sorted(
            _paged(reg.client.search_model_versions, filter_string=f"name='{name}'"), key=lambda m: int(m.version)
        ):
            tags = dict(mv.tags or {})
            created = pd.to_datetime(mv.creation_timestamp, unit="ms", utc=True) if mv.creation_timestamp else None
            rows.append(
                {
                    "model": name,
                    "version": str(mv.version),
                    "aliases": ", ".join(sorted(aliases.get(str(mv.version), []))),
                    "tags": "; ".join(f"{k}={v}" for k, v in sorted(tags.items()) if k not in HIDDEN_TAGS),
                    "stage": mv.current_stage or "None",
                    "source run": mv.run_id or "-",
                    "checksums recorded": CHECKSUM_TAG in tags,
                    "created (UTC)": created.strftime("%Y-%m-%d %H:%M") if created is not None else "-",
                    "source": str(mv.source),
                    "labels": tags,
                }
            )
    return rows


def _checksum_rows(rows: list[dict[str, Any]]) -> list[Verdict]:
    return [
        Verdict("checksums recorded", Status.PASS, subject=f"{r['model']} v{r['version']}", observed=CHECKSUM_TAG)
        if r["checksums recorded"]
        else Verdict(
            "checksums recorded",
            Status.WARN,
            subject=f"{r['model']} v{r['version']}",
            message=f"no {CHECKSUM_TAG} tag: its artifacts cannot be shown to be the ones registered",
            next_step=f"from a copy known to be good: opskit model verify {r['model']} {r['version']} --record",
        )
        for r in rows
    ]


def _alias_rows(reg, rows: list[dict[str, Any]]) -> list[Verdict]:
    """Verify the artifacts of every version an alias points at (only those: they are what is served)."""
    out = []
    for r in rows:
        for alias in filter(None, r["aliases"].split(", ")):
            subject = f"{r['model']}@{alias} -> v{r['version']}"
            try:
                check = reg.verify(r["model"], r["version"])
            except Exception as exc:  # fails closed: a target that cannot be checked is never a PASS
                out.append(error_verdict("alias target", exc, subject=subject))
                continue
            if check.refused:
                out.append(
                    Verdict(
                        "alias target",
                        Status.FAIL,
                        subject=subject,
                        observed=len(check.reasons),
                        message="; ".join(check.reasons),
                        next_step=f"restore the artifacts, or move {alias!r}: opskit model rollback {r['model']} "
                        f"--alias {alias} --reason TEXT",
                    )
                )
            elif not check.checksums_recorded:
                out.append(
                    Verdict(
                        "alias target",
                        Status.WARN,
                        subject=subject,
                        message="format and pickle checks passed, but no recorded checksums to compare with",
                        next_step=f"from a good copy: opskit model verify {r['model']} {r['version']} --record",
                    )
                )
            else:
                files = sum(1 for v in check.verdicts if v.name == "checksum")
                out.append(
                    Verdict(
                        "alias target",
                        Status.PASS,
                        subject=subject,
                        observed=files,
                        unit="files",
                        evidence="every recorded SHA-256 matches; format and pickle checks passed",
                    )
                )
    return out


def _history_rows(
    history: list[AliasMove], problems: list[HistoryProblem], rows: list[dict[str, Any]]
) -> list[Verdict]:
    out = [
        Verdict(
            "alias history",
            Status.WARN,
            subject=f"{p.source}:{p.line}",
            message=f"line {p.line} skipped: {p.message}",
            next_step="fix or remove the line; the other moves were used",
        )
        for p in problems
    ]
    for r in rows:
        for alias in filter(None, r["aliases"].split(", ")):
            last = [m for m in history if m.model == r["model"] and m.alias == alias]
            if not last or last[-1].to_version != r["version"]:
                out.append(
                    Verdict(
                        "alias history",
                        Status.WARN,
                        subject=f"{r['model']}@{alias}",
                        observed=last[-1].to_version if last else None,
                        threshold=r["version"],
                        message=f"{alias!r} points at v{r['version']} but the history "
                        + (f"ends at v{last[-1].to_version}" if last else "has no move of it")
                        + ": it was moved outside opskit, so 'which version at T' may be wrong",
                        next_step=f"move aliases with opskit model promote/rollback (history {r['model']!r})",
                    )
                )
    return out


def _unreachable(uri: str, exc: Exception) -> Verdict:
    return Verdict(
        "tracking server",
        Status.ERROR,
        subject=uri,
        message=f"cannot read the model registry at {uri} (timeout {TIMEOUT_S} s, {MAX_RETRIES} retry): "
        f"{type(exc).__name__}: {str(exc)[:300]}",
        next_step="check that the server is up and the URI is right (tracking_uri); nothing was judged",
    )


def run(
    *,
    tracking_uri: str = "sample:model_registry",
    model: str | None = None,
    name_pattern: str | None = None,
    at: str | None = None,
) -> ManageModelVersionsResult:
    """Read the registry at ``tracking_uri`` (``sample:NAME``, ``sqlite:///...`` or ``http(s)://``) and judge it.

    Never raises on bad input: a setting, a model or a server that cannot be used is an ERROR row.
    """
    try:
        settings = NamingSettings(version_pattern=name_pattern or DEFAULT_PATTERN)
    except ValueError as exc:
        return ManageModelVersionsResult(
            VerdictTable([error_verdict("settings", InputError(str(exc), column="name_pattern"))]), uri=tracking_uri
        )
    when = None
    if at:
        try:
            when = parse_time(at)
        except ValueError:
            bad = InputError(f"unreadable time {at!r}", column="at", hint="ISO 8601, e.g. 2026-11-24T14:00:00Z")
            return ManageModelVersionsResult(VerdictTable([error_verdict("settings", bad)]), uri=tracking_uri)
    try:
        uri, history_file = _registry_location(tracking_uri)
    except Exception as exc:  # a sample that cannot be built or a missing database: a visible ERROR row
        return ManageModelVersionsResult(VerdictTable([error_verdict("tracking server", exc, subject=tracking_uri)]))
    try:
        reg = Registry(uri, history_file)
        with short_http_timeouts():
            models = [model] if model else sorted(m.name for m in _paged(reg.client.search_registered_models))
            rows = _version_rows(reg, models)
    except InputError as exc:  # an unknown model: the message lists the known ones
        unknown = InputError(f"unknown model {model!r} at {uri}", column="model", hint=exc.hint)
        return ManageModelVersionsResult(VerdictTable([error_verdict("model", unknown, subject=model)]), uri=uri)
    except Exception as exc:  # unreachable, slow or refusing server
        return ManageModelVersionsResult(VerdictTable([_unreachable(uri, exc)]), uri=uri)
    history: list[AliasMove] = []
    problems: list[HistoryProblem] = []
    verdicts: list[Verdict] = []
    try:
        with short_http_timeouts():
            for name in models:
                moves, found = reg.history(name)
                history.extend(moves)
                problems.extend(p for p in found if p not in problems)
    except Exception as exc:  # the history could not be read: said, and the rest still judged
        verdicts.append(error_verdict("alias history", exc))
    history.sort(key=lambda m: m.time)
    verdicts += naming_verdicts([(r["model"], r["version"], r["labels"].get(settings.tag)) for r in rows], settings)
    verdicts += _checksum_rows(rows)
    verdicts += _alias_rows(reg, rows)
    verdicts += _history_rows(history, problems, rows)
    if not rows:  # nothing to judge is said, never shown as an empty, clean table
        verdicts.append(
            Verdict(
                "registry",
                Status.WARN,
                subject=uri,
                message=f"no registered model version {'of ' + repr(model) + ' ' if model else ''}at {uri}",
                next_step="check tracking_uri (and model): is it the registry the models are served from?",
            )
        )
    versions = pd.DataFrame(rows).drop(columns=["labels"]) if rows else pd.DataFrame()
    return ManageModelVersionsResult(
        VerdictTable(verdicts),
        uri=uri,
        versions=versions,
        history=tuple(history),
        problems=tuple(problems),
        at=when,
        read=True,
    )
