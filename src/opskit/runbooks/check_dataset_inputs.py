"""The inputs of ``check_dataset``: the dataset's files, its manifest, the expected schema and the reference.

Each reader returns its value and the verdict rows that say what could not be used and why, so one
unreadable input never stops the others. Bundled sample inputs (``sample:...``) are never used beside
a real dataset: a real dataset judged against the sample's schema would fail for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opskit.checks import Status, Verdict, error_verdict
from opskit.samples import resolve, sample_beside_real_input
from opskit.sources.dataset_files import FileScan, dataset_paths, scan_dataset
from opskit.sources.dataset_manifest import ManifestComparison, compare_to_manifest, find_manifest, read_manifest
from opskit.sources.dataset_schema import ExpectedSchema, read_schema


@dataclass(frozen=True)
class DatasetInputs:
    """What could be read: the scans (None when the dataset cannot be listed) and the optional inputs."""

    root: Path | None
    scans: tuple[FileScan, ...] | None
    comparison: ManifestComparison | None
    manifest_name: str | None
    schema: ExpectedSchema | None
    reference: tuple[FileScan, ...] | None
    rows: tuple[Verdict, ...]


def _sample_skipped(name: str, value: str) -> Verdict:
    return Verdict(
        name,
        Status.SKIP,
        subject=value,
        message=f"the bundled {value} is not used with a real dataset",
        next_step=f"pass your own {name} (-p {name} PATH) to compare against it",
    )


def read_inputs(
    dataset: str, manifest: str | None, schema: str | None, reference: str | None, max_rows: int
) -> DatasetInputs:
    """Scan the dataset and read what is given beside it; every failure becomes an ERROR or SKIP row."""
    rows: list[Verdict] = []
    try:
        root, _ = dataset_paths(resolve(dataset))
        scans = tuple(scan_dataset(resolve(dataset), keep_rows=max_rows))
    except Exception as exc:  # the dataset itself cannot be listed: one ERROR row, no other check
        return DatasetInputs(None, None, None, None, None, None, (error_verdict("dataset", exc, subject=dataset),))
    comparison, manifest_name = None, None
    manifest_path = None
    try:  # no manifest given: _MANIFEST.json or MANIFEST.json in the folder, if there is one
        manifest_path = resolve(manifest) if manifest else find_manifest(root)
        if manifest_path is not None:
            comparison = compare_to_manifest(read_manifest(manifest_path), root)
            manifest_name = manifest_path.name
    except Exception as exc:
        rows.append(error_verdict("manifest", exc, subject=str(manifest_path or manifest or root)))
    expected = None
    if schema and sample_beside_real_input(schema, dataset):
        rows.append(_sample_skipped("schema", schema))
    elif schema:
        try:
            expected = read_schema(resolve(schema))
        except Exception as exc:
            rows.append(error_verdict("schema", exc, subject=schema))
    ref_scans = None
    if reference and sample_beside_real_input(reference, dataset):
        rows.append(_sample_skipped("reference", reference))
    elif reference:
        try:
            ref_scans = tuple(scan_dataset(resolve(reference), keep_rows=max_rows))
        except Exception as exc:
            rows.append(error_verdict("reference", exc, subject=reference))
    return DatasetInputs(root, scans, comparison, manifest_name, expected, ref_scans, tuple(rows))
