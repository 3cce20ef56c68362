"""Converting CSV/TSV/JSON lines to Parquet/TFRecord shards: rows, chunks, shards, errors, atomic output."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from opskit.errors import InputError, MissingDependencyError, OpskitError
from opskit.sources import dataset_convert as dc
from opskit.sources import dataset_shards
from opskit.sources.dataset_manifest import compare_to_manifest, read_manifest


def write_csv(path: Path, rows: int, *, quoted_newlines: bool = False) -> Path:
    text = "id,score,note\n" + "".join(
        f'{i},{i * 0.5},"line {i}\nsecond"\n' if quoted_newlines else f"{i},{i * 0.5},n{i}\n" for i in range(rows)
    )
    path.write_text(text)
    return path


def read_back(result: dc.ConversionResult):
    return pq.ParquetDataset([result.destination / s.path for s in result.shards]).read()


def test_rows_chunks_and_row_groups(tmp_path):
    src = write_csv(tmp_path / "big.csv", 10_000)
    result = dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(chunk_rows=1_000, block_bytes=16_384))
    assert result.rows == 10_000 and result.rows_by_source == {"big.csv": 10_000}
    assert result.blocks_read > 5  # read in many blocks, never as a whole
    assert result.row_groups == 10
    assert result.max_rows_held < 1_000 + 1_000  # one row group plus the rest of one block, whatever the file size
    table = read_back(result)
    assert table.column("id").to_pylist() == list(range(10_000))
    assert table.schema.field("score").type == "double"


def test_chunk_boundaries_keep_order_and_sizes(tmp_path):
    src = write_csv(tmp_path / "t.csv", 2_503)
    result = dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(chunk_rows=500, block_bytes=1_000))
    meta = pq.ParquetFile(result.destination / result.shards[0].path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [500, 500, 500, 500, 500, 3]
    assert read_back(result).column("id").to_pylist() == list(range(2_503))


def test_shards_by_rows(tmp_path):
    src = write_csv(tmp_path / "t.csv", 2_500)
    options = dc.ConvertOptions(chunk_rows=400, max_rows_per_file=1_000, block_bytes=4_096)
    result = dc.convert_dataset(src, tmp_path / "out", options)
    assert [(s.path, s.rows) for s in result.shards] == [
        ("t-00000.parquet", 1_000),
        ("t-00001.parquet", 1_000),
        ("t-00002.parquet", 500),
    ]
    assert [s.row_groups for s in result.shards] == [3, 3, 2]  # 400 + 400 + 200: no row group crosses a shard


def test_shards_by_bytes(tmp_path):
    src = write_csv(tmp_path / "t.csv", 20_000)
    options = dc.ConvertOptions(chunk_rows=1_000, max_bytes_per_file=40_000, block_bytes=8_192)
    result = dc.convert_dataset(src, tmp_path / "out", options)
    assert len(result.shards) > 2
    group = max(s.size / s.row_groups for s in result.shards)
    assert all(s.size <= 40_000 + group for s in result.shards)
    assert sum(s.rows for s in result.shards) == 20_000


def test_quoted_newlines_are_one_row(tmp_path):
    src = write_csv(tmp_path / "q.csv", 3_000, quoted_newlines=True)
    result = dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(block_bytes=4_096))
    table = read_back(result)
    assert table.num_rows == 3_000
    assert table.column("note")[1234].as_py() == "line 1234\nsecond"


def test_manifest_of_the_result_verifies(tmp_path):
    src = write_csv(tmp_path / "t.csv", 100)
    result = dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(max_rows_per_file=30))
    assert result.manifest_path == tmp_path / "out" / "_MANIFEST.json"
    assert sorted(p.name for p in result.destination.iterdir() if not p.name.endswith(".parquet")) == ["_MANIFEST.json"]
    manifest = read_manifest(result.manifest_path)
    assert [(e.path, e.rows) for e in manifest.entries] == [(s.path, s.rows) for s in result.shards]
    assert compare_to_manifest(manifest).matches
    assert result.manifest.root == tmp_path / "out"


def test_pandas_and_pyarrow_read_the_converted_folder_as_it_is(tmp_path):
    import pandas as pd
    import pyarrow.dataset as ds

    src = write_csv(tmp_path / "t.csv", 250)
    result = dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(chunk_rows=40, max_rows_per_file=100))
    assert len(result.shards) == 3 and result.manifest_path.is_file()  # three shards and the manifest beside them
    frame = pd.read_parquet(result.destination)
    assert sorted(frame["id"]) == list(range(250)) and list(frame.columns) == ["id", "score", "note"]
    table = ds.dataset(result.destination).to_table()
    assert table.num_rows == 250 and table.schema.names == ["id", "score", "note"]
    assert sorted(table.column("note").to_pylist())[:2] == ["n0", "n1"]


def test_a_folder_converted_into_subfolders_reads_as_one_dataset(tmp_path):
    import pandas as pd
    import pyarrow.dataset as ds

    root = tmp_path / "exports"
    for day, start in (("2026-11-30", 0), ("2026-12-01", 70)):
        (root / day).mkdir(parents=True)
        rows = "".join(f"{i},{i * 0.5},n{i}\n" for i in range(start, start + 70))
        (root / day / "part.csv").write_text("id,score,note\n" + rows)
    result = dc.convert_dataset(root, tmp_path / "out")
    assert [s.path for s in result.shards] == ["2026-11-30/part-00000.parquet", "2026-12-01/part-00000.parquet"]
    assert sorted(pd.read_parquet(result.destination)["id"]) == list(range(140))
    assert sorted(ds.dataset(result.destination).to_table().column("id").to_pylist()) == list(range(140))


def test_later_block_with_a_word_in_a_number_column_names_line_and_column(tmp_path):
    src = write_csv(tmp_path / "t.csv", 2_000, quoted_newlines=True)
    with src.open("a") as handle:
        handle.write('2000,not-a-number,"x"\n')
    with pytest.raises(InputError) as err:
        dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(block_bytes=2_048))
    # header on line 1, each record two lines: record 2000 starts on line 4002
    assert (err.value.path, err.value.line, err.value.column) == (str(src), 4002, "score")
    assert "--strings" in err.value.hint
    assert not (tmp_path / "out").exists()


def test_strings_option_reads_the_same_file(tmp_path):
    src = write_csv(tmp_path / "t.csv", 2_000)
    with src.open("a") as handle:
        handle.write("2000,not-a-number,x\n")
    options = dc.ConvertOptions(block_bytes=2_048, all_strings=True)
    table = read_back(dc.convert_dataset(src, tmp_path / "out", options))
    assert table.schema.field("id").type == "string"
    assert table.column("score")[-1].as_py() == "not-a-number"


def test_line_with_an_extra_field_is_named(tmp_path):
    src = write_csv(tmp_path / "t.csv", 3_000)
    lines = src.read_text().splitlines(keepends=True)
    lines[2_500] = "2499,1.0,shifted,column\n"
    src.write_text("".join(lines))
    with pytest.raises(InputError) as err:
        dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(block_bytes=4_096))
    assert (err.value.line, err.value.column) == (2_501, None)
    assert "4 fields where the header has 3" in err.value.reason


def test_column_empty_in_the_first_block_becomes_text(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("id,later\n" + "".join(f"{i},\n" for i in range(1_000)) + "1000,7\n")
    table = read_back(dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(block_bytes=1_024)))
    assert table.schema.field("later").type == "string"
    assert table.column("later")[-1].as_py() == "7"


def test_failure_leaves_no_destination_and_no_temporary_folder(tmp_path, monkeypatch):
    src = write_csv(tmp_path / "t.csv", 5_000)

    def failing_write(self, table):
        if self.rows >= 1_000:
            raise OSError("No space left on device")
        original(self, table)

    original = dataset_shards._ParquetFile.write
    monkeypatch.setattr(dataset_shards._ParquetFile, "write", failing_write)
    with pytest.raises(OSError, match="No space"):
        dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(chunk_rows=500, block_bytes=4_096))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_row_count_mismatch_on_read_back_fails_closed(tmp_path, monkeypatch):
    src = write_csv(tmp_path / "t.csv", 100)
    monkeypatch.setattr(dc, "count_records", lambda path: 99)
    with pytest.raises(OpskitError, match="99 rows read back, 100 written"):
        dc.convert_dataset(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_existing_destination_is_never_overwritten(tmp_path):
    src = write_csv(tmp_path / "t.csv", 10)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(InputError) as err:
        dc.convert_dataset(src, tmp_path / "out")
    assert err.value.path == str(tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_folder_with_tsv_jsonl_and_gzip_mirrors_the_layout(tmp_path):
    root = tmp_path / "ds"
    (root / "train").mkdir(parents=True)
    write_csv(root / "train" / "a.csv", 50)
    (root / "b.tsv").write_text("x\ty\n1\tfoo\n2\tbar\n")
    (root / "c.jsonl").write_text("".join(json.dumps({"k": i, "tags": ["a", "b"]}) + "\n" for i in range(20)))
    (root / "d.csv.gz").write_bytes(gzip.compress(b"u,v\n1,2\n3,4\n"))
    (root / "notes.txt").write_text("ignored: not a table")
    result = dc.convert_dataset(root, tmp_path / "out")
    assert result.rows_by_source == {"b.tsv": 2, "c.jsonl": 20, "d.csv.gz": 2, "train/a.csv": 50}
    assert [s.path for s in result.shards] == [
        "b-00000.parquet",
        "c-00000.parquet",
        "d-00000.parquet",
        "train/a-00000.parquet",
    ]
    assert pq.read_table(tmp_path / "out" / "b-00000.parquet").column("y").to_pylist() == ["foo", "bar"]


def test_delimiter_option(tmp_path):
    src = tmp_path / "semi.csv"
    src.write_text("a;b\n1;x,y\n2;z\n")
    table = read_back(dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(delimiter=";")))
    assert table.column("b").to_pylist() == ["x,y", "z"]


def test_jsonl_type_change_names_line_and_field(tmp_path):
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"a": i, "b": "x"}) + "\n" for i in range(500)) + '{"a": "oops", "b": "y"}\n')
    with pytest.raises(InputError) as err:
        dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(block_bytes=1_024))
    assert (err.value.line, err.value.column) == (501, "a")


def test_jsonl_as_strings(tmp_path):
    src = tmp_path / "t.jsonl"
    src.write_text('{"a": 1, "b": {"c": [1, 2]}}\n\n{"a": "x", "b": null}\n')
    table = read_back(dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(all_strings=True)))
    assert table.to_pylist() == [{"a": "1", "b": '{"c":[1,2]}'}, {"a": "x", "b": None}]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", "", "file is empty"),
        ("dup.csv", "a,a\n1,2\n", "a column name appears twice in the header (columns 1 and 2 of 2)"),
        ("data.xlsx", "x", "not a CSV, TSV or JSON-lines file"),
    ],
)
def test_bad_sources(tmp_path, name, content, reason):
    src = tmp_path / name
    src.write_text(content)
    with pytest.raises(InputError) as err:
        dc.convert_dataset(src, tmp_path / "out")
    assert err.value.reason == reason and err.value.path == str(src)


@pytest.mark.parametrize(
    ("option", "value"),
    [("chunk_rows", 0), ("max_rows_per_file", -1), ("output_format", "orc"), ("delimiter", '"'), ("delimiter", ",,")],
)
def test_bad_options_name_the_parameter(option, value):
    with pytest.raises(InputError) as err:
        dc.ConvertOptions(**{option: value})
    assert err.value.column == {"output_format": "format"}.get(option, option)


def test_tfrecord_output_round_trips(tmp_path):
    from tfrecord.reader import tfrecord_loader  # the optional writer, installed with the dev extra

    src = tmp_path / "t.csv"
    src.write_text("id,score,name\n1,0.5,ab\n2,,cd\n3,1.5,\n")
    options = dc.ConvertOptions(output_format="tfrecord", max_rows_per_file=2)
    result = dc.convert_dataset(src, tmp_path / "out", options)
    assert [(s.path, s.rows) for s in result.shards] == [("t-00000.tfrecord", 2), ("t-00001.tfrecord", 1)]
    records = [r for s in result.shards for r in tfrecord_loader(str(result.destination / s.path), None)]
    assert [int(r["id"][0]) for r in records] == [1, 2, 3]
    assert "score" not in records[1]  # a null leaves the feature out
    assert bytes(records[0]["name"]) == b"ab"


def test_tfrecord_without_the_package_says_how_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tfrecord(name, *args, **kwargs):
        if name.startswith("tfrecord"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tfrecord)
    src = write_csv(tmp_path / "t.csv", 3)
    with pytest.raises(MissingDependencyError) as err:
        dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(output_format="tfrecord"))
    assert err.value.extra == "tfrecord"
    assert not (tmp_path / "out").exists()


def test_jsonl_as_strings_names_a_field_first_seen_after_the_first_block(tmp_path):
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"a": i}) + "\n" for i in range(200)) + '{"a": 1, "late": 2}\n')
    with pytest.raises(InputError) as err:
        dc.convert_dataset(src, tmp_path / "out", dc.ConvertOptions(all_strings=True, block_bytes=512))
    assert (err.value.line, err.value.column) == (201, "late")
