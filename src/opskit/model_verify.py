"""Verify a model version's artifacts before it is served again: checksums, format, pickle safety.

opskit records the SHA-256 of every artifact file as the version tag ``opskit.sha256`` (a JSON
object ``{relative path: hex digest}``) when it registers or verifies a version. A rollback target
is checked against that record and with the checks of ``diagnose_model_load`` (format sniffing and
pickle safety, from ``opskit.analyses.model_load``); nothing is unpickled. Fails closed: a file
that cannot be proven intact and safe is a FAIL row with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from opskit.analyses.model_load.integrity import format_verdicts, hash_file
from opskit.analyses.model_load.pickle_safety import pickle_safety_verdict, scan_model_file
from opskit.checks import Status, Verdict
from opskit.errors import InputError
from opskit.sources.model_files import inspect_model_file, list_model_files

CHECKSUM_TAG = "opskit.sha256"


def artifact_files(root: Path) -> dict[str, Path]:
    """Every file under ``root`` by its relative POSIX path (a single file: by its name)."""
    if root.is_file():
        return {root.name: root}
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def checksums(root: Path) -> dict[str, str]:
    """SHA-256 per artifact file, streamed (files are never read whole into memory)."""
    return {name: hash_file(path, ("sha256",))["sha256"] for name, path in artifact_files(root).items()}


def parse_checksum_tag(value: str | None) -> dict[str, str] | None:
    """The recorded checksums, or None when the version has none; a damaged tag is an error."""
    if not value:
        return None
    try:
        record = json.loads(value)
    except ValueError as exc:
        raise InputError(
            f"tag {CHECKSUM_TAG} is not JSON: {exc}",
            column=CHECKSUM_TAG,
            hint="run `opskit model verify NAME VERSION --record` on a copy known to be good",
        ) from exc
    if not isinstance(record, dict) or not all(isinstance(v, str) for v in record.values()):
        raise InputError(f"tag {CHECKSUM_TAG} is not an object of file -> SHA-256", column=CHECKSUM_TAG)
    return record


@dataclass(frozen=True)
class VersionCheck:
    """The verdicts on one version's artifacts; ``refused`` when any is FAIL or ERROR."""

    model: str
    version: str
    verdicts: list[Verdict] = field(default_factory=list)
    checksums_recorded: bool = False

    @property
    def refused(self) -> bool:
        return any(v.status in (Status.FAIL, Status.ERROR) for v in self.verdicts)

    @property
    def reasons(self) -> list[str]:
        return [
            f"{v.name} {v.subject}: {v.message or v.evidence}"
            for v in self.verdicts
            if v.status in (Status.FAIL, Status.ERROR)
        ]


def checksum_verdicts(recorded: dict[str, str], actual: dict[str, str]) -> list[Verdict]:
    """One row per file: PASS when its digest matches; FAIL when changed, missing or not recorded."""
    out = []
    for name in sorted(set(recorded) | set(actual)):
        want, got = recorded.get(name), actual.get(name)
        if want == got:
            out.append(Verdict("checksum", Status.PASS, subject=name, observed=got[:12], threshold="recorded"))
            continue
        message = (
            "missing: recorded at registration, not in the artifacts"
            if got is None
            else "not recorded: a file added after registration"
            if want is None
            else f"changed: SHA-256 {got[:12]}… differs from the recorded {want[:12]}…"
        )
        out.append(
            Verdict(
                "checksum",
                Status.FAIL,
                subject=name,
                observed=(got or "")[:12],
                threshold=(want or "")[:12],
                message=message,
                next_step="restore the artifact from a good copy or roll back elsewhere",
            )
        )
    return out


def safety_verdicts(root: Path) -> list[Verdict]:
    """diagnose_model_load's format and pickle-safety rows for the model files among the artifacts."""
    try:
        files = list_model_files(root)
    except InputError as exc:
        return [
            Verdict(
                "format",
                Status.WARN,
                subject=root.name,
                message=exc.message,
                next_step="no model file to sniff; only checksums were checked",
            )
        ]
    base = root if root.is_dir() else root.parent
    infos = [inspect_model_file(p) for p in files]
    names = {info.path: info.path.relative_to(base).as_posix() for info in infos}
    out = format_verdicts(infos, names)
    for info in infos:
        scanned = scan_model_file(info, names[info.path])
        if scanned is not None:
            out.append(pickle_safety_verdict(scanned))
    return out


def verify_artifacts(model: str, version: str, root: Path, recorded: dict[str, str] | None) -> VersionCheck:
    """Check downloaded artifacts at ``root`` against ``recorded`` checksums and for format and safety."""
    verdicts = safety_verdicts(root)
    if recorded is None:
        verdicts.append(
            Verdict(
                "checksum",
                Status.WARN,
                subject=f"{model} v{version}",
                message=f"no {CHECKSUM_TAG} tag: the artifacts cannot be compared with a known-good record",
                next_step="record them with `opskit model verify NAME VERSION --record`, or pass --force",
            )
        )
    else:
        verdicts.extend(checksum_verdicts(recorded, checksums(root)))
    return VersionCheck(model, version, verdicts, recorded is not None)
