"""Dataset manifests: listing, hashing, row counts, JSON round trip, bad manifests, comparison."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opskit.errors import InputError
from opskit.sources import dataset_manifest as dm


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "train").mkdir(parents=True)
    (root / "train" / "a.csv").write_bytes(b"id,text\n1,x\n2,y\n3,z\n")
    (root / "b.tsv").write_bytes(b"id\ttext\r\n1\tx\r\n")
    (root / "c.jsonl").write_bytes(b'{"a": 1}\n{"a": 2}')  # last line without newline still counts
    (root / "README.txt").write_bytes(b"not a table\n")
    pq.write_table(pa.table({"x": list(range(7))}), root / "train" / "p.parquet")
    return root


def test_build_lists_every_file_sorted_with_size_hash_and_rows(dataset):
    manifest = dm.build_manifest(dataset)
    assert [e.path for e in manifest.entries] == ["README.txt", "b.tsv", "c.jsonl", "train/a.csv", "train/p.parquet"]
    by_path = {e.path: e for e in manifest.entries}
    assert by_path["train/a.csv"] == dm.ManifestEntry("train/a.csv", 20, sha(b"id,text\n1,x\n2,y\n3,z\n"), 3)
    assert {p: e.rows for p, e in by_path.items()} == {
        "README.txt": None,
        "b.tsv": 1,
        "c.jsonl": 2,
        "train/a.csv": 3,
        "train/p.parquet": 7,
    }
    assert manifest.root == dataset
    assert manifest.created_at.endswith("Z")


def test_no_rows_leaves_every_row_count_unknown(dataset):
    assert {e.rows for e in dm.build_manifest(dataset, count_rows=False).entries} == {None}


def test_manifest_file_and_excluded_paths_are_not_listed(dataset):
    dm.write_manifest(dm.build_manifest(dataset), dataset / dm.MANIFEST_NAME)
    other = dataset / "other-manifest.json"
    other.write_text("{}")
    paths = [e.path for e in dm.build_manifest(dataset, exclude=(other,)).entries]
    assert dm.MANIFEST_NAME not in paths and "other-manifest.json" not in paths
    assert len(paths) == 5


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"", 0),
        (b"h\n", 0),
        (b"h", 0),
        (b"h\n1\n\n2\n\n\n3", 3),  # empty lines are not records
        (b"\nh\n1\n", 1),
        (b"h\r\n1\r\n\r\n2\r\n", 2),
        (b'h,t\n1,"two\nlines"\n2,"a ""quote"""\n', 2),  # newline inside quotes is one record
    ],
)
def test_csv_row_counts(tmp_path, data, rows):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    assert dm.hash_and_count(path) == (len(data), sha(data), rows)


def test_row_count_across_block_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(dm, "BLOCK_BYTES", 7)
    data = b"head\n" + b"".join(b"%d,val\n" % i for i in range(50)) + b"\n\n" + b"tail,x"
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    assert dm.hash_and_count(path) == (len(data), sha(data), 51)


def test_unreadable_parquet_has_unknown_rows(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 truncated")
    assert dm.hash_and_count(path)[2] is None


def test_write_then_read_round_trip(dataset, tmp_path):
    manifest = dm.build_manifest(dataset)
    target = dm.write_manifest(manifest, dataset / dm.MANIFEST_NAME)
    data = json.loads(target.read_text())
    assert data["format"] == "opskit-dataset-manifest" and data["version"] == 1
    assert data["files"][3] == {"path": "train/a.csv", "size": 20, "sha256": manifest.entries[3].sha256, "rows": 3}
    again = dm.read_manifest(target)
    assert again == manifest
    assert [p.name for p in dataset.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_write_into_missing_folder_is_an_input_error(dataset, tmp_path):
    with pytest.raises(InputError) as err:
        dm.write_manifest(dm.build_manifest(dataset), tmp_path / "nope" / "m.json")
    assert err.value.path == str(tmp_path / "nope")


def test_build_on_missing_folder_names_it(tmp_path):
    with pytest.raises(InputError) as err:
        dm.build_manifest(tmp_path / "absent")
    assert err.value.path == str(tmp_path / "absent")


def _doc(**changes) -> dict:
    entry = {"path": "a.csv", "size": 3, "sha256": "a" * 64, "rows": 1}
    doc = {"format": "opskit-dataset-manifest", "version": 1, "created_at": "2026-12-02T17:00:00Z", "files": [entry]}
    for key, value in changes.items():
        if key.startswith("f_"):
            entry[key[2:]] = value
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "column"),
    [
        (_doc(format="other"), None),
        (_doc(version=2), "version"),
        (_doc(files={}), "files"),
        (_doc(created_at=5), "created_at"),
        (_doc(f_path="/abs.csv"), "files[1].path"),
        (_doc(f_path="../up.csv"), "files[1].path"),
        (_doc(f_size=-1), "files[1].size"),
        (_doc(f_size="3"), "files[1].size"),
        (_doc(f_sha256="ABC"), "files[1].sha256"),
        (_doc(f_rows=1.5), "files[1].rows"),
        (_doc(f_rows=True), "files[1].rows"),
    ],
)
def test_bad_manifest_names_file_and_field(tmp_path, doc, column):
    path = tmp_path / "MANIFEST.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        dm.read_manifest(path)
    assert err.value.path == str(path)
    assert err.value.column == column


def test_manifest_not_json_names_the_line(tmp_path):
    path = tmp_path / "MANIFEST.json"
    path.write_text('{\n "format": \n')
    with pytest.raises(InputError) as err:
        dm.read_manifest(path)
    assert (err.value.path, err.value.line) == (str(path), 3)


def test_manifest_listing_a_file_twice_is_rejected(tmp_path):
    doc = _doc()
    doc["files"].append(dict(doc["files"][0]))
    path = tmp_path / "MANIFEST.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="listed twice"):
        dm.read_manifest(path)


def test_missing_manifest(tmp_path):
    with pytest.raises(InputError) as err:
        dm.read_manifest(tmp_path / "MANIFEST.json")
    assert err.value.hint and "opskit dataset manifest" in err.value.hint


def test_comparison_of_an_unchanged_copy_matches(dataset):
    dm.write_manifest(dm.build_manifest(dataset), dataset / dm.MANIFEST_NAME)
    result = dm.compare_to_manifest(dm.read_manifest(dataset / dm.MANIFEST_NAME))
    assert result.matches and result.checked == 5 and result.unlisted == ()


def test_comparison_names_missing_resized_changed_and_unlisted_files(dataset):
    manifest = dm.build_manifest(dataset)
    (dataset / "README.txt").unlink()
    (dataset / "b.tsv").write_bytes(b"id\ttext\r\n1\tx\r\n2\ty\r\n")
    (dataset / "c.jsonl").write_bytes(b'{"a": 1}\n{"a": 3}')  # same size, other bytes
    (dataset / "new.csv").write_bytes(b"h\n")
    result = dm.compare_to_manifest(manifest)
    assert not result.matches
    assert [(m.path, m.what) for m in result.mismatches] == [
        ("README.txt", "missing"),
        ("b.tsv", "size"),
        ("c.jsonl", "sha256"),
    ]
    assert result.mismatches[1].expected == 14 and result.mismatches[1].found == 19
    assert result.unlisted == ("new.csv",)


def test_a_conversion_under_way_is_not_listed(dataset):
    staging = dataset / ".opskit-tmp-out-x1"
    staging.mkdir()
    (staging / "part-00000.parquet").write_bytes(b"PAR1")
    assert all(".opskit-tmp-" not in e.path for e in dm.build_manifest(dataset).entries)


def test_both_manifest_names_at_the_root_are_never_listed(dataset):
    for name in ("MANIFEST.json", "_MANIFEST.json"):
        dm.write_manifest(dm.build_manifest(dataset), dataset / name)
    (dataset / "train" / "_MANIFEST.json").write_text("{}")  # only the root's manifests are the dataset's own
    paths = [e.path for e in dm.build_manifest(dataset).entries]
    assert paths == ["README.txt", "b.tsv", "c.jsonl", "train/_MANIFEST.json", "train/a.csv", "train/p.parquet"]


def test_find_manifest_takes_either_name_or_none(dataset):
    assert dm.find_manifest(dataset) is None
    dm.write_manifest(dm.build_manifest(dataset), dataset / "MANIFEST.json")
    assert dm.find_manifest(dataset) == dataset / "MANIFEST.json"
    (dataset / "MANIFEST.json").rename(dataset / "_MANIFEST.json")
    assert dm.find_manifest(dataset) == dataset / "_MANIFEST.json"


def test_two_manifests_that_agree_are_one(dataset):
    manifest = dm.build_manifest(dataset)
    dm.write_manifest(manifest, dataset / "MANIFEST.json")
    dm.write_manifest(dataclasses.replace(manifest, created_at="2020-01-01T00:00:00Z"), dataset / "_MANIFEST.json")
    assert dm.find_manifest(dataset) == dataset / "_MANIFEST.json"  # the creation time does not matter


def test_two_manifests_that_disagree_are_an_error_naming_both_and_the_file(dataset):
    dm.write_manifest(dm.build_manifest(dataset), dataset / "_MANIFEST.json")
    (dataset / "c.jsonl").write_bytes(b'{"a": 1}\n')
    dm.write_manifest(dm.build_manifest(dataset), dataset / "MANIFEST.json")
    with pytest.raises(InputError) as err:
        dm.find_manifest(dataset)
    assert err.value.path == str(dataset)
    assert err.value.reason == (
        "_MANIFEST.json and MANIFEST.json are both here and disagree (5 and 5 files; first difference: c.jsonl)"
    )
    assert "--manifest FILE" in err.value.hint and "-p manifest FILE" in err.value.hint


def test_a_broken_second_manifest_is_named(dataset):
    dm.write_manifest(dm.build_manifest(dataset), dataset / "_MANIFEST.json")
    (dataset / "MANIFEST.json").write_text("{not json")
    with pytest.raises(InputError) as err:
        dm.find_manifest(dataset)
    assert err.value.path == str(dataset / "MANIFEST.json") and err.value.line == 1


def test_default_manifest_path_keeps_parquet_folders_readable(dataset, tmp_path):
    assert dm.default_manifest_path(dataset) == dataset / "_MANIFEST.json"  # train/p.parquet is there
    (dataset / "train" / "p.parquet").unlink()
    assert dm.default_manifest_path(dataset) == dataset / "MANIFEST.json"
    (dataset / "_MANIFEST.json").write_text("{}")
    assert dm.default_manifest_path(dataset) == dataset / "_MANIFEST.json"  # the one already there is rewritten
