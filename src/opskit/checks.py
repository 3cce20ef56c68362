"""Statuses, verdicts and the verdict table every runbook shows first.

A runbook judges its evidence as a list of :class:`Verdict` rows. :func:`run_checks` turns an
exception inside one check into an ERROR row, so the other checks still run and the report still
renders. :func:`publish_summary` hands the machine-readable result to ``opskit run``.
"""

from __future__ import annotations

import html
import json
import math
import os
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from opskit.errors import OpskitError
from opskit.privacy import mask

SUMMARY_MIMETYPE = "application/vnd.opskit.summary+json"


class Status(StrEnum):
    """Outcome of a check. Severity order, worst first: ERROR, FAIL, WARN, PASS, SKIP.

    ERROR ranks above FAIL: a row that could not be judged (an input that could not be used) must
    never hide behind verdicts on the inputs that could, so it heads the table and sets exit 2."""

    ERROR = "ERROR"
    FAIL = "FAIL"
    WARN = "WARN"
    PASS = "PASS"
    SKIP = "SKIP"

    @property
    def severity(self) -> int:
        """Higher is worse: ERROR 4, FAIL 3, WARN 2, PASS 1, SKIP 0."""
        return _SEVERITY[self]

    @property
    def colour(self) -> str:
        return _COLOURS[self]

    def reaches(self, level: Status) -> bool:
        """True when this status is at least as severe as ``level``."""
        return self.severity >= level.severity

    @classmethod
    def worst(cls, statuses: Iterable[Status | str], default: Status | None = None) -> Status:
        """The most severe status; ``default`` (SKIP) when there is none."""
        found = [cls(s) for s in statuses]
        if not found:
            return default or cls.SKIP
        return max(found, key=lambda s: s.severity)

    def __str__(self) -> str:
        return self.value


_SEVERITY = {Status.ERROR: 4, Status.FAIL: 3, Status.WARN: 2, Status.PASS: 1, Status.SKIP: 0}
_COLOURS = {
    Status.FAIL: "#c62828",
    Status.ERROR: "#6a1b9a",
    Status.WARN: "#e65100",
    Status.PASS: "#2e7d32",
    Status.SKIP: "#616161",
}


@dataclass(frozen=True)
class Verdict:
    """One judged fact: what was observed, against which threshold, the evidence and what next.

    ``subject`` names what the check is about (a feature, a team, a GPU, a file, a rank).
    Its texts (``subject``, ``evidence``, ``next_step``, ``message``, an ``observed`` text) are masked for PII
    and secrets on creation, so a notebook run live in JupyterLab shows them masked as the report does.
    """

    name: str
    status: Status
    subject: str | None = None
    observed: Any = None
    threshold: Any = None
    unit: str | None = None
    evidence: str | None = None
    next_step: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        for text in ("subject", "evidence", "next_step", "message"):  # what a live notebook shows, too
            object.__setattr__(self, text, mask(getattr(self, text)))
        if isinstance(self.observed, str):
            object.__setattr__(self, "observed", mask(self.observed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: numpy scalars become Python numbers, NaN becomes None."""
        out = asdict(self)
        out["status"] = self.status.value
        out["observed"] = to_jsonable(self.observed)
        out["threshold"] = to_jsonable(self.threshold)
        return out


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars, timestamps and containers to plain JSON values.

    Raises TypeError for anything else, so a runbook learns at once what it cannot publish.
    """
    if value is None or isinstance(value, str):
        return str(value) if value is not None else None
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):  # numpy scalar
        return to_jsonable(value.item())
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot publish a value of type {type(value).__name__}: use numbers, text, lists or dicts")


CheckFn = Callable[[], "Verdict | Iterable[Verdict]"]


def run_checks(checks: Iterable[tuple[str, CheckFn]] | Mapping[str, CheckFn]) -> VerdictTable:
    """Run each ``(name, fn)``; an exception becomes an ERROR row and the rest still run.

    ``fn`` returns one :class:`Verdict` or an iterable of them (one per subject).
    """
    items = checks.items() if isinstance(checks, Mapping) else checks
    rows: list[Verdict] = []
    for name, fn in items:
        try:
            result = fn()
            rows.extend([result] if isinstance(result, Verdict) else list(result))
        except Exception as exc:  # every failure becomes a visible ERROR row
            rows.append(error_verdict(name, exc))
    return VerdictTable(rows)


def error_verdict(name: str, exc: BaseException, subject: str | None = None) -> Verdict:
    """The ERROR row for a check that raised: its message, and the hint when opskit gave one."""
    if isinstance(exc, OpskitError):
        message, hint = exc.message, exc.hint
    else:
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" (at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})" if frame else ""
        message, hint = f"{type(exc).__name__}: {exc}{where}", None
    return Verdict(
        name=name,
        status=Status.ERROR,
        subject=subject,
        message=message,
        next_step=hint or "the check could not be evaluated: fix the input named above and rerun",
    )


@dataclass
class VerdictTable:
    """Verdict rows, worst first. Shows itself as an HTML table in JupyterLab and nbconvert."""

    rows: list[Verdict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = sorted(self.rows, key=lambda v: -v.status.severity)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __add__(self, other: VerdictTable | Iterable[Verdict]) -> VerdictTable:
        return VerdictTable([*self.rows, *other])

    @property
    def worst(self) -> Status:
        return Status.worst(v.status for v in self.rows)

    def counts(self) -> dict[str, int]:
        """Rows per status, worst first, statuses with no rows left out."""
        counts = {s.value: 0 for s in Status}
        for v in self.rows:
            counts[v.status.value] += 1
        return {k: n for k, n in counts.items() if n}

    def by_status(self, *statuses: Status | str) -> list[Verdict]:
        wanted = {Status(s) for s in statuses}
        return [v for v in self.rows if v.status in wanted]

    def find(self, name: str | None = None, subject: str | None = None) -> list[Verdict]:
        """Rows matching a check name and/or subject."""
        return [v for v in self.rows if (name is None or v.name == name) and (subject is None or v.subject == subject)]

    def to_records(self) -> list[dict[str, Any]]:
        return [v.to_dict() for v in self.rows]

    def to_frame(self) -> pd.DataFrame:
        columns = [f for f in Verdict.__dataclass_fields__]
        return pd.DataFrame(self.to_records(), columns=columns)

    def with_next_step(self, status: Status, next_step: str) -> VerdictTable:
        """A copy where rows of ``status`` without a next step get ``next_step``."""
        return VerdictTable(
            [replace(v, next_step=next_step) if v.status == status and not v.next_step else v for v in self.rows]
        )

    def _repr_html_(self) -> str:
        return render_verdict_html(self)

    def __repr__(self) -> str:
        lines = [f"VerdictTable(worst={self.worst.value}, {self.counts()})"]
        for v in self.rows:
            subject = f" [{v.subject}]" if v.subject else ""
            lines.append(f"  {v.status.value:<5} {v.name}{subject}: {_format_observed(v)}")
        return "\n".join(lines)


def _format_number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if hasattr(value, "item"):
        return _format_number(value.item())
    return str(value)


def _format_observed(v: Verdict) -> str:
    text = _format_number(v.observed)
    if text and v.unit:
        text += f" {v.unit}"
    if v.message:
        text = f"{text} — {v.message}" if text else v.message
    return text


def _format_threshold(v: Verdict) -> str:
    text = _format_number(v.threshold)
    return f"{text} {v.unit}" if text and v.unit and not isinstance(v.threshold, str) else text


_WIDTHS = (7, 12, 11, 14, 9, 28, 19)  # status, check, subject, observed, threshold, evidence, next step
# The one table style (opskit.runbooks.tables uses it for every section table): inline, nothing fetched.
TABLE_FONT = "font-family:system-ui,sans-serif;font-size:13px"
TABLE_CELL = "padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;overflow-wrap:break-word"
TABLE_HEAD = "padding:4px 8px;border-bottom:2px solid #999;vertical-align:bottom;font-weight:600"
# fixed column widths here, so long paths and log lines may break anywhere inside their cell
_CELL = f"{TABLE_CELL};text-align:left;overflow-wrap:anywhere;word-break:break-word"


def render_verdict_html(table: VerdictTable, title: str = "Verdict") -> str:
    """Self-contained HTML (inline styles only) so JupyterLab and the HTML report look the same."""
    worst = table.worst
    counts = ", ".join(f"{n} {s}" for s, n in table.counts().items()) or "no checks"
    esc = html.escape
    head = (
        f'<div class="opskit-verdict" style="{TABLE_FONT}">'
        f'<div style="font-size:16px;font-weight:600;margin:4px 0">{esc(title)}: '
        f'<span style="color:#fff;background:{worst.colour};padding:2px 8px;border-radius:3px">'
        f'{worst.value}</span> <span style="font-weight:400;color:#444">{esc(counts)}</span></div>'
        f'<table style="border-collapse:collapse;width:100%;table-layout:fixed">'
        + "<colgroup>"
        + "".join(f'<col style="width:{w}%">' for w in _WIDTHS)
        + "</colgroup>"
        "<thead><tr>"
        + "".join(
            f'<th style="{TABLE_HEAD};text-align:left">{h}</th>'
            for h in ("Status", "Check", "Subject", "Observed", "Threshold", "Evidence", "Next step")
        )
        + "</tr></thead><tbody>"
    )
    body = []
    for v in table.rows:
        badge = (
            f'<span style="color:#fff;background:{v.status.colour};padding:1px 6px;'
            f'border-radius:3px;font-weight:600;white-space:nowrap">{v.status.value}</span>'
        )
        evidence = (
            f'<code style="white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;display:block">'
            f"{esc(v.evidence)}</code>"
            if v.evidence
            else ""
        )
        cells = [
            badge,
            esc(v.name),
            esc(v.subject or ""),
            esc(_format_observed(v)),
            esc(_format_threshold(v)),
            evidence,
            esc(v.next_step or ""),
        ]
        body.append("<tr>" + "".join(f'<td style="{_CELL}">{c}</td>' for c in cells) + "</tr>")
    return head + "".join(body) + "</tbody></table></div>"


class PublishedSummary(dict):
    """The summary dict; shows nothing more when it is the value of a notebook's last line."""

    def _ipython_display_(self) -> None:
        return None


def publish_summary(
    result: Any,
    figures: Mapping[str, Any] | None = None,
) -> PublishedSummary:
    """Hand the runbook's result to ``opskit run``: call it once, in the last cell of a runbook.

    ``result`` is a runbook result (``verdicts``, ``figures``, optionally ``headline``, the at most
    :data:`HEADLINE_MAX` figures the report's header shows, label in words -> value, and ``attachments``,
    a mapping of file name to text written into the run's report folder, e.g. ``chat_summary.md``), or a
    plain :class:`VerdictTable` / list of verdicts with ``figures``. Displays a small output with the
    :data:`SUMMARY_MIMETYPE` that the runner reads from the executed notebook (plus a one-line text
    fallback). Returns the summary dict.
    """
    headline: Mapping[str, Any] = {}
    if hasattr(result, "verdicts"):
        table, figures = result.verdicts, {**getattr(result, "figures", {}), **(figures or {})}
        headline = getattr(result, "headline", None) or {}
        _write_attachments(getattr(result, "attachments", {}))
    else:
        table = result if isinstance(result, VerdictTable) else VerdictTable(list(result))
    if len(headline) > HEADLINE_MAX:
        raise ValueError(f"a headline holds at most {HEADLINE_MAX} figures, not {len(headline)}: {list(headline)}")
    summary = {
        "status": table.worst.value,
        "checks": table.to_records(),
        "figures": to_jsonable(dict(figures or {})),
        "headline": to_jsonable(dict(headline)),
        "headline_order": [str(k) for k in headline],  # the notebook stores JSON with its keys sorted
        "masking": _masking(),
    }
    json.dumps(summary)  # fail here, in the runbook, if something is not serialisable
    try:
        from IPython.display import display

        counts = ", ".join(f"{n} {s}" for s, n in table.counts().items()) or "no checks"
        display(
            {SUMMARY_MIMETYPE: summary, "text/plain": f"opskit summary: {table.worst.value} ({counts})"},
            raw=True,
        )
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        pass
    return PublishedSummary(summary)


REPORT_DIR_ENV = "OPSKIT_REPORT_DIR"
HEADLINE_MAX = 5


def _masking() -> dict[str, Any]:
    """What the one masking policy hid in this kernel, per kind, for the report's header and summary."""
    from opskit.privacy import current_policy, masking_counts

    policy = current_policy()
    return {"enabled": policy.enabled, "operator": policy.operator, "counts": masking_counts()}


def _write_attachments(attachments: Mapping[str, str]) -> None:
    """Write each attachment into the report folder ``opskit run`` names; outside a run, nothing."""
    folder = os.environ.get(REPORT_DIR_ENV)
    if not folder:
        return
    for name, text in attachments.items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"attachment name {name!r} must be a plain file name")
        (Path(folder) / name).write_text(text, encoding="utf-8")
