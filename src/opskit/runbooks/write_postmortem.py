"""write_postmortem: the postmortem of one incident folder, pre-filled from its evidence.

Reads ``incident.yaml``, ``events.jsonl``, the runs kept in ``reports/`` and the evidence sums, merges the
timeline, marks the key moments, derives the times, and judges the acknowledgement and the review's
completeness. Headings and fixed sentences come in ``lang`` (en or zh).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from opskit.analyses.incidents import moments as mo
from opskit.analyses.incidents import review as rv
from opskit.analyses.incidents import timeline as tl
from opskit.analyses.incidents import verdicts as vd
from opskit.checks import Status, Verdict, VerdictTable, run_checks
from opskit.runbooks.write_postmortem_inputs import postmortem_text, read_incident_folder, sibling_folders
from opskit.runbooks.write_postmortem_result import WritePostmortemResult
from opskit.samples import resolve


def run(incident: str = "sample:incident", lang: Literal["en", "zh"] = "en") -> WritePostmortemResult:
    """Compose the postmortem of ``incident`` (a folder path, or ``sample:incident``)."""
    text = postmortem_text(lang)
    path = resolve(incident)
    folder = read_incident_folder(path)
    settings = rv.IncidentSettings(owner_by_class={**rv.DEFAULT_OWNERS, **(folder.record.get("owner_by_class") or {})})
    merged, moments, times, cause, actions = _compose(folder, settings)
    impact = mo.impact_figures(folder.record, moments, [s for _, s in folder.summaries])
    severity = folder.record.get("severity")
    problems = [
        Verdict(
            "events", Status.WARN, subject=f"{Path(p.path or '').name}:{p.line}", message=p.reason, next_step=p.hint
        )
        for p in folder.problems
    ]
    checks = run_checks(
        [
            ("acknowledgement", lambda: vd.acknowledgement_verdict(severity, times, settings)),
            ("completeness", lambda: vd.completeness_verdicts(moments, cause, actions)),
            ("evidence checksums", lambda: vd.evidence_verdicts(folder.checksums)),
        ]
    )
    dup = Verdict("duplicate events", Status.PASS, observed=merged.duplicates, message="dropped from the timeline")
    index = index_frame([folder.path, *sibling_folders(folder.path)], settings)
    return WritePostmortemResult(
        incident_dir=str(path),
        lang=lang,
        text=text,
        record=folder.record,
        timeline=merged.events,
        moments=moments.frame,
        times=times,
        impact=impact,
        cause=cause,
        actions=actions,
        index=index,
        verdicts=VerdictTable([*checks, *problems, dup]),
    )


def _compose(folder, settings: rv.IncidentSettings):
    tz = str(folder.record.get("timezone") or "UTC")
    merged = tl.merge_timeline(folder.events, tl.findings_as_events(folder.summaries))
    moments = mo.key_moments(merged.events, folder.record.get("times") or {}, timezone=tz)
    times = mo.derive_times(moments)
    cause = rv.root_cause(folder.record, folder.summaries)
    actions = rv.action_items(folder.record, cause, settings, today=datetime.now(UTC).date())
    return merged, moments, times, cause, actions


def index_frame(paths: list[Path], settings: rv.IncidentSettings | None = None) -> pd.DataFrame:
    """One row per incident folder: severity, status, root-cause class, derived times, open/overdue actions."""
    from opskit.analyses.incidents.index import INDEX_COLUMNS

    settings = settings or rv.IncidentSettings()
    rows = []
    for path in paths:
        folder = read_incident_folder(path)
        _, _, times, cause, actions = _compose(folder, settings)
        open_ = actions[~actions["status"].isin(["done", "closed"])] if len(actions) else actions
        rows.append(
            {
                "id": path.name,
                "title": folder.record.get("title"),
                "severity": folder.record.get("severity"),
                "status": folder.record.get("status"),
                "root_cause_class": cause.cause_class if cause else None,
                "time_to_detect_min": times.time_to_detect_min,
                "time_to_resolve_min": times.time_to_resolve_min,
                "open_actions": len(open_),
                "overdue_actions": int(actions["overdue"].sum()) if len(actions) else 0,
            }
        )
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)
