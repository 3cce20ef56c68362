"""Incident folders (engine level): create, add events and evidence, attach reports, write, refresh and export
the postmortem. Layout of ``incidents/<ID>/``: ``incident.yaml``, ``events.jsonl``, ``evidence/``,
``reports/`` and ``postmortem.ipynb``."""

from opskit.incidents.folder import (
    add_event,
    add_evidence,
    attach_report,
    evidence_dir_for,
    import_events,
    incident_dir,
    new_incident,
)
from opskit.incidents.notebook import refresh_postmortem, write_postmortem

__all__ = [
    "add_event",
    "add_evidence",
    "attach_report",
    "evidence_dir_for",
    "import_events",
    "incident_dir",
    "new_incident",
    "refresh_postmortem",
    "write_postmortem",
]
