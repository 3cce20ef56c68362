"""``opskit dataset manifest|verify|convert`` through the CLI: output, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from opskit.cli import main
from opskit.commands.dataset import parse_size


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "part").mkdir(parents=True)
    (root / "part" / "a.csv").write_text("id,v\n1,x\n2,y\n")
    (root / "b.jsonl").write_text('{"k": 1}\n{"k": 2}\n{"k": 3}\n')
    return root


def test_manifest_then_verify_a_clean_copy(dataset, capsys):
    assert main(["dataset", "manifest", str(dataset)]) == 0
    out = capsys.readouterr().out
    assert "2 files" in out and "5 rows in tables" in out
    doc = json.loads((dataset / "MANIFEST.json").read_text())
    assert [(f["path"], f["rows"]) for f in doc["files"]] == [("b.jsonl", 3), ("part/a.csv", 2)]
    assert main(["dataset", "verify", str(dataset)]) == 0
    assert "2 files checked" in capsys.readouterr().err


def test_verify_names_missing_and_changed_files_and_exits_1(dataset, capsys):
    (dataset / "c.txt").write_text("old")
    main(["dataset", "manifest", str(dataset)])
    (dataset / "part" / "a.csv").write_text("id,v\n1,x\n")
    (dataset / "b.jsonl").unlink()
    (dataset / "extra.csv").write_text("h\n")
    (dataset / "c.txt").write_text("new")
    capsys.readouterr()
    assert main(["dataset", "verify", str(dataset)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "MISSING  b.jsonl",
        "CHANGED  c.txt: same size, other content (sha256 11507a0e2f5e..., manifest cba06b5736fa...)",
        "CHANGED  part/a.csv: 9 bytes, the manifest says 13",
        "UNLISTED extra.csv (not in the manifest)",
    ]


def test_manifest_elsewhere_with_no_rows(dataset, tmp_path):
    out = tmp_path / "copy-check.json"
    assert main(["dataset", "manifest", str(dataset), "--out", str(out), "--no-rows"]) == 0
    assert {f["rows"] for f in json.loads(out.read_text())["files"]} == {None}
    assert not (dataset / "MANIFEST.json").exists()
    assert main(["dataset", "verify", str(dataset), "--manifest", str(out)]) == 0


def test_manifest_inside_the_folder_under_another_name_is_not_listed(dataset):
    out = dataset / "check.json"
    assert main(["dataset", "manifest", str(dataset), "--out", str(out)]) == 0
    assert "check.json" not in [f["path"] for f in json.loads(out.read_text())["files"]]
    assert main(["dataset", "verify", str(dataset), "--manifest", str(out)]) == 0


def test_verify_bad_manifest_exits_2_naming_the_file(dataset, capsys):
    (dataset / "MANIFEST.json").write_text('{"format": "something else"}')
    assert main(["dataset", "verify", str(dataset)]) == 2
    err = capsys.readouterr().err
    assert f"error: {dataset / 'MANIFEST.json'}: not an opskit dataset manifest" in err
    assert "hint: regenerate it with: opskit dataset manifest DIR" in err


def test_verify_missing_folder_exits_2(tmp_path, capsys):
    assert main(["dataset", "verify", str(tmp_path / "absent")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err


def test_convert_prints_rows_shards_and_manifest(dataset, tmp_path, capsys):
    dst = tmp_path / "out"
    assert main(["dataset", "convert", str(dataset), str(dst), "--chunk-rows", "2", "--max-rows-per-file", "2"]) == 0
    out = capsys.readouterr().out
    assert "b.jsonl: 3 rows -> 2 shard(s), row counts verified" in out
    assert "part/a.csv: 2 rows -> 1 shard(s), row counts verified" in out
    assert f"manifest: {dst / '_MANIFEST.json'}" in out
    assert f"read it with: pandas.read_parquet({str(dst)!r})" in out
    assert sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*.parquet")) == [
        "b-00000.parquet",
        "b-00001.parquet",
        "part/a-00000.parquet",
    ]
    assert main(["dataset", "verify", str(dst)]) == 0


def test_convert_bad_line_exits_2_with_file_and_line(tmp_path, capsys):
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1,2\n3,4,5\n")
    assert main(["dataset", "convert", str(src), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"error: {src}:3: 3 fields where the header has 2" in err
    assert not (tmp_path / "out").exists()


def test_convert_tab_delimiter_and_strings(tmp_path, capsys):
    import pyarrow.parquet as pq

    src = tmp_path / "t.csv"
    src.write_text("a\tb\n1\t2\n")
    assert main(["dataset", "convert", str(src), str(tmp_path / "out"), "--delimiter", "tab", "--strings"]) == 0
    table = pq.read_table(tmp_path / "out" / "t-00000.parquet")
    assert table.to_pylist() == [{"a": "1", "b": "2"}]


def test_convert_bad_size_exits_2_naming_the_option(dataset, tmp_path, capsys):
    assert main(["dataset", "convert", str(dataset), str(tmp_path / "out"), "--max-bytes-per-file", "lots"]) == 2
    assert "--max-bytes-per-file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "size"), [("1000", 1000), ("512MB", 512_000_000), ("1GiB", 1 << 30), ("1.5k", 1500), ("64 MiB", 64 << 20)]
)
def test_parse_size(text, size):
    assert parse_size(text, parameter="--x") == size


def test_dataset_command_as_a_process(dataset):
    proc = subprocess.run(
        [sys.executable, "-m", "opskit.cli", "dataset", "verify", str(dataset)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "manifest not found" in proc.stderr


def test_manifest_of_a_converted_folder_rewrites_its_own_and_pandas_still_reads_it(dataset, tmp_path, capsys):
    import pandas as pd

    dst = tmp_path / "out"
    assert main(["dataset", "convert", str(dataset / "part" / "a.csv"), str(dst)]) == 0
    capsys.readouterr()
    assert main(["dataset", "manifest", str(dst)]) == 0
    assert f"manifest: {dst / '_MANIFEST.json'}" in capsys.readouterr().out
    assert sorted(p.name for p in dst.iterdir()) == ["_MANIFEST.json", "a-00000.parquet"]
    assert pd.read_parquet(dst)["v"].tolist() == ["x", "y"]
    assert main(["dataset", "verify", str(dst)]) == 0
    assert f"1 files checked against {dst / '_MANIFEST.json'}: all match" in capsys.readouterr().err


def test_verify_with_two_manifests_that_disagree_exits_2_naming_both(dataset, capsys):
    main(["dataset", "manifest", str(dataset)])
    (dataset / "MANIFEST.json").rename(dataset / "_MANIFEST.json")
    (dataset / "b.jsonl").write_text('{"k": 1}\n')
    main(["dataset", "manifest", str(dataset), "--out", str(dataset / "MANIFEST.json")])
    capsys.readouterr()
    assert main(["dataset", "verify", str(dataset)]) == 2
    err = capsys.readouterr().err
    assert f"error: {dataset}: _MANIFEST.json and MANIFEST.json are both here and disagree" in err
    assert "first difference: b.jsonl" in err
    assert main(["dataset", "verify", str(dataset), "--manifest", str(dataset / "MANIFEST.json")]) == 0


def test_verify_without_a_manifest_names_both_names(dataset, capsys):
    assert main(["dataset", "verify", str(dataset)]) == 2
    err = capsys.readouterr().err
    assert f"error: {dataset}: manifest not found: the folder has neither _MANIFEST.json nor MANIFEST.json" in err
    assert "hint: write one with: opskit dataset manifest DIR, or pass --manifest FILE" in err
