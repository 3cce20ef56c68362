"""Verdicts on a dataset against its manifest: files missing, changed (size, SHA-256, rows) or not listed."""

from __future__ import annotations

from opskit.checks import Status, Verdict
from opskit.sources.dataset_manifest import ManifestComparison

_WHAT = {
    "missing": "is listed in the manifest and missing",
    "size": "has another size than the manifest says",
    "sha256": "has the manifest's size but another SHA-256",
    "rows": "has another row count than the manifest says",
}


def integrity_verdicts(comparison: ManifestComparison | None, manifest_name: str | None) -> list[Verdict]:
    """FAIL per missing or changed file, WARN per file the manifest does not list, PASS when all match.

    SKIP when there is no manifest to check against.
    """
    if comparison is None:
        return [
            Verdict(
                "manifest",
                Status.SKIP,
                message="no manifest: names, sizes and checksums not verified",
                next_step="write one where the data is produced: opskit dataset manifest DIR",
            )
        ]
    rows = [
        Verdict(
            "manifest",
            Status.FAIL,
            subject=m.path,
            observed=m.found if m.what != "sha256" else str(m.found)[:12],
            threshold=m.expected if m.what != "sha256" else str(m.expected)[:12],
            unit={"size": "bytes", "rows": "rows", "sha256": "sha256", "missing": None}[m.what],
            evidence=f"{manifest_name}: {m.path} {m.what} {m.expected} -> {m.found}",
            message=f"{m.path} {_WHAT[m.what]}",
            next_step="copy the file again from the source and rerun; do not train on a partial copy",
        )
        for m in comparison.mismatches
    ]
    rows += [
        Verdict(
            "manifest",
            Status.WARN,
            subject=path,
            message=f"{path} is not listed in the manifest (added after it was written?)",
            next_step="check where it came from; rewrite the manifest if it belongs: opskit dataset manifest DIR",
        )
        for path in comparison.unlisted
    ]
    if not rows:
        rows.append(
            Verdict(
                "manifest",
                Status.PASS,
                subject=f"{comparison.checked} files",
                observed=comparison.checked,
                unit="files",
                evidence=manifest_name,
                message="every listed file is present with its size, SHA-256 and row count",
            )
        )
    return rows
