"""Checksums of model files against what their source says, and what each file is."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from opskit.analyses.model_load import integrity as mi
from opskit.checks import Status
from opskit.sources import checksum_manifests as cm
from opskit.sources.model_files import inspect_model_file

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "models"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------- hashing
def test_hash_file_matches_hashlib_across_many_chunks(tmp_path):
    data = bytes(range(256)) * 3000  # 768,000 bytes: twelve 64 KiB chunks
    path = tmp_path / "w.bin"
    path.write_bytes(data)
    got = mi.hash_file(path, ("sha256", "md5"), chunk_bytes=1)
    assert got == {"sha256": sha(data), "md5": hashlib.md5(data).hexdigest()}


def test_hash_files_in_parallel_equals_serial(tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(bytes([i]) * (100_000 + i))
        paths.append(p)
    assert mi.hash_files(paths, workers=2) == mi.hash_files(paths, workers=1)
    assert mi.hash_files(paths)[paths[3]]["sha256"] == sha(bytes([3]) * 100_003)


# ---------------------------------------------------------------------------------------- integrity
@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "good.bin").write_bytes(b"good weights")
    (tmp_path / "bad.bin").write_bytes(b"truncat")
    (tmp_path / "stray.bin").write_bytes(b"who put this here")
    (tmp_path / "config.json").write_text("{}")
    lines = [
        f"{sha(b'good weights')}  good.bin",
        f"{sha(b'truncated weights')}  bad.bin",
        f"{sha(b'gone')}  gone.bin",
        f"{hashlib.md5(b'{}').hexdigest()}  config.json",
    ]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_check_integrity_statuses(folder):
    files = [folder / "good.bin", folder / "bad.bin", folder / "stray.bin"]
    result = mi.check_integrity(folder, files, cm.read_checksum_manifest(folder / "SHA256SUMS"))
    status = result.files.set_index("file")["status"].to_dict()
    assert status == {"good.bin": "match", "bad.bin": "mismatch", "stray.bin": "not listed", "gone.bin": "missing",
                      "config.json": "match"}  # fmt: skip
    assert result.files.set_index("file").loc["bad.bin", "actual"] == sha(b"truncat")
    verdicts = {v.subject: v for v in mi.integrity_verdicts(result)}
    assert verdicts["bad.bin"].status is Status.FAIL and "fetch the file again" in verdicts["bad.bin"].next_step
    assert verdicts["gone.bin"].status is Status.FAIL and "missing" in verdicts["gone.bin"].message
    assert verdicts["stray.bin"].status is Status.WARN
    assert verdicts["good.bin"].status is Status.PASS
    assert result.sources == ("SHA256SUMS",)


def test_size_mismatch_fails_before_hashing(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"fo")  # the manifest says 3 bytes
    result = mi.check_integrity(tmp_path, [tmp_path / "weights.bin"],
                                cm.read_checksum_manifest(FIXTURES / "manifest_files_list.json"))  # fmt: skip
    row = result.files.set_index("file").loc["weights.bin"]
    assert row["status"] == "size mismatch" and pd.isna(row["actual"]) and result.hashed_bytes == 0
    verdict = next(v for v in mi.integrity_verdicts(result) if v.subject == "weights.bin")
    assert verdict.status is Status.FAIL and (verdict.observed, verdict.threshold) == (2, 3)


def test_nothing_expected_is_one_skip_with_the_hashes(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"abc")
    verdicts = mi.integrity_verdicts(mi.check_integrity(tmp_path, [tmp_path / "w.bin"]))
    assert [v.status for v in verdicts] == [Status.SKIP]
    assert sha(b"abc") in verdicts[0].evidence


def test_single_file_root(tmp_path):
    (tmp_path / "w.bin").write_bytes(b"abc")
    expected = pd.DataFrame([("w.bin", "sha256", sha(b"abc"), None, "expected_sha256 parameter", None)],
                            columns=cm.MANIFEST_COLUMNS)  # fmt: skip
    result = mi.check_integrity(tmp_path / "w.bin", [tmp_path / "w.bin"], expected)
    assert result.files["status"].tolist() == ["match"]


# -------------------------------------------------------------------------------------------- format
def test_format_verdicts(tmp_path):
    (tmp_path / "page.bin").write_text("<html><title>Login</title></html>")
    (tmp_path / "cfg.bin").write_text('{"a": 1}')
    infos = [inspect_model_file(tmp_path / "page.bin"), inspect_model_file(tmp_path / "cfg.bin")]
    verdicts = {v.subject: v for v in mi.format_verdicts(infos)}
    assert verdicts["page.bin"].status is Status.FAIL and verdicts["page.bin"].observed == "html"
    assert "<title>Login</title>" in verdicts["page.bin"].evidence
    assert verdicts["cfg.bin"].status is Status.FAIL and "json" in verdicts["cfg.bin"].message


def test_sample_model_folder_is_the_same_bytes_each_time(tmp_path):
    from opskit.samples.models import write_model_dir

    first, second = write_model_dir(tmp_path / "a"), write_model_dir(tmp_path / "b")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert all((first / n).read_bytes() == (second / n).read_bytes() for n in names)
