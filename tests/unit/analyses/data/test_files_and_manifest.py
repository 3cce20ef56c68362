"""File verdicts: structure by file and line, size against the limit, secrets in text files, the manifest."""

from __future__ import annotations

from opskit.analyses.data.analysis import check_data
from opskit.analyses.data.integrity import integrity_verdicts
from opskit.analyses.data.settings import DataCheckSettings
from opskit.analyses.data.structure import size_verdicts
from opskit.sources.dataset_files import FileScan, scan_dataset
from opskit.sources.dataset_manifest import build_manifest, compare_to_manifest


def _dataset(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "a.csv").write_text("id,v\n1,x\n2,y\n")
    (root / "b.csv").write_text("id,v\n3,z\n4,w\n")
    (root / "run.log").write_text("start\nauth ok with key AKIAIOSFODNN7EXAMPLE\n")
    return root


def test_manifest_changes_missing_and_unlisted_files(tmp_path):
    root = _dataset(tmp_path)
    manifest = build_manifest(root)
    (root / "a.csv").write_text("id,v\n1,x\n")
    (root / "b.csv").unlink()
    (root / "c.csv").write_text("id,v\n")
    rows = integrity_verdicts(compare_to_manifest(manifest, root), "MANIFEST.json")
    assert [(v.status, v.subject) for v in rows] == [("FAIL", "a.csv"), ("FAIL", "b.csv"), ("WARN", "c.csv")]
    assert "missing" in rows[1].message
    assert integrity_verdicts(None, None)[0].status == "SKIP"


def test_size_limit_flags_large_files_with_the_shard_advice():
    scans = [FileScan("big.csv", "csv", 12_000_000_000), FileScan("small.csv", "csv", 10)]
    (row,) = size_verdicts(scans, DataCheckSettings())
    assert (row.status, row.subject, row.observed, row.threshold) == ("WARN", "big.csv", 12.0, 10.0)
    assert "opskit dataset convert big.csv" in row.next_step


def test_check_data_names_the_secret_in_a_log_and_passes_the_tables(tmp_path):
    root = _dataset(tmp_path)
    result = check_data(root, scan_dataset(root), DataCheckSettings())
    by_name = {(v.name, v.subject): v for v in result.verdicts}
    secret = by_name[("secrets in files", "run.log")]
    assert secret.status == "FAIL" and secret.evidence == "run.log:2 aws_key_id"
    assert "AKIAIOSFODNN7EXAMPLE" not in secret.message
    assert by_name[("file structure", "all 3 files")].status == "PASS"
    assert result.rows == 4 and [c.column for c in result.columns] == ["id", "v"]
