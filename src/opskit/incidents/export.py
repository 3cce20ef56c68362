"""Exports of a postmortem: Markdown (wiki page or ticket), action items as Jira CSV, HTML for the meeting."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from opskit.incidents.notebook import NOTEBOOK, read_postmortem
from opskit.privacy import mask
from opskit.report import extract_summary, render_html
from opskit.runbooks.write_postmortem import run
from opskit.runbooks.write_postmortem_result import SECTIONS, WritePostmortemResult

JIRA_COLUMNS = ["Summary", "Issue Type", "Description", "Assignee", "Team", "Due date", "Labels", "Labels", "Labels"]


def _section_key(source: str) -> str | None:
    key = source.strip().removeprefix('result.section("').removesuffix('")')
    return key if key in SECTIONS else None


def export_markdown(folder: str | Path, *, lang: str = "en") -> str:
    """The postmortem as Markdown: reviewers' cells as written, evidence sections rendered from the folder now."""
    folder = Path(folder)
    result = run(incident=str(folder), lang=lang)
    parts: list[str] = []
    cells = read_postmortem(folder).cells if (folder / NOTEBOOK).exists() else None
    if cells is None:
        parts += [f"# {result.title()}", *(result.section_markdown(k) for k in SECTIONS)]
    else:
        for cell in cells:
            if cell.cell_type == "markdown":
                parts.append(cell.source)
            elif key := _section_key(cell.source):
                parts.append(result.section_markdown(key))
    return mask("\n\n".join(p.strip() for p in parts) + "\n") or ""


def jira_csv(result: WritePostmortemResult) -> str:
    """Action items in the shape Jira's CSV import maps: Summary, Issue Type, Description, Assignee, Team,
    Due date (ISO; set the importer's date format to yyyy-MM-dd), one Labels column per label."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(JIRA_COLUMNS)
    incident = Path(result.incident_dir).name
    cause = result.cause.summary if result.cause else "no root cause yet"
    for item in result.actions.itertuples():
        description = (
            f"Action item ({item.type}) of incident {incident}: {result.record.get('title', '')}. Root cause: {cause}"
        )
        writer.writerow(
            [
                mask(item.summary),
                "Task",
                mask(description),
                "",
                item.owner or "",
                item.due.isoformat() if item.due else "",
                "postmortem",
                incident,
                item.type or "untyped",
            ]
        )
    return out.getvalue()


def export_html(folder: str | Path) -> str:
    """The executed postmortem.ipynb as one HTML page, through opskit's report rendering."""
    folder = Path(folder)
    nb = read_postmortem(folder)
    summary = extract_summary(nb) or {"status": "SKIP", "checks": []}
    summary = {
        "runbook": "postmortem",
        "started_at": "",
        "duration_s": 0.0,
        "opskit_version": "",
        "parameters": {},
        **summary,
    }
    return render_html(nb, summary, f"Postmortem {folder.name}", show_code=False)
