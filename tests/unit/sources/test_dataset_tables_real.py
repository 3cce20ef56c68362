"""Manifest row counts and Parquet conversion on real public dataset files (tests/fixtures/real/dataset_tables)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from opskit.errors import InputError
from opskit.sources.dataset_convert import ConvertOptions, convert_dataset
from opskit.sources.dataset_manifest import build_manifest, hash_and_count

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real" / "dataset_tables"


def csv_records(path: Path, delimiter: str) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [r for r in csv.reader(handle, delimiter=delimiter) if r]


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("restaurant_reviews_head.tsv", 259),
        ("fake_or_real_news_head.csv", 8),  # 133 lines: article texts span lines inside quotes
        ("fake_or_real_news_head_trimmed.csv", 8),
        ("gsm8k_test_head.jsonl", 20),
    ],
)
def test_manifest_counts_records_not_lines(name, rows):
    assert hash_and_count(REAL / name)[2] == rows


def test_manifest_of_the_real_folder():
    manifest = build_manifest(REAL)
    assert {e.path: e.rows for e in manifest.entries} == {
        "SOURCES.md": None,
        "fake_or_real_news_head.csv": 8,
        "fake_or_real_news_head_trimmed.csv": 8,
        "gsm8k_test_head.jsonl": 20,
        "restaurant_reviews_head.tsv": 259,
    }


def test_multiline_articles_convert_record_for_record(tmp_path):
    src = REAL / "fake_or_real_news_head_trimmed.csv"
    options = ConvertOptions(chunk_rows=3, block_bytes=8_192)  # several blocks, three row groups
    result = convert_dataset(src, tmp_path / "out", options)
    table = pq.read_table(result.destination / result.shards[0].path)
    expected = csv_records(src, ",")[1:]
    assert result.rows == len(expected) == 8 and result.blocks_read > 1 and result.row_groups == 3
    assert table.column("id").to_pylist() == [int(r[0]) for r in expected]
    assert table.column("text").to_pylist() == [r[2] for r in expected]
    assert "\n\nKerry said he expects to arrive in Paris" in table.column("text")[2].as_py()
    assert table.column("label").to_pylist() == [r[3] for r in expected]


def test_unedited_copy_with_empty_trailing_columns_is_refused_at_its_header(tmp_path):
    src = REAL / "fake_or_real_news_head.csv"
    with pytest.raises(InputError) as err:
        convert_dataset(src, tmp_path / "out")
    assert (err.value.path, err.value.line, err.value.column) == (str(src), 1, "")
    assert "columns 1 and 5 of 141" in err.value.reason
    assert not (tmp_path / "out").exists()


def test_reviews_with_quotes_inside_unquoted_values(tmp_path):
    src = REAL / "restaurant_reviews_head.tsv"
    result = convert_dataset(src, tmp_path / "out", ConvertOptions(block_bytes=4_096))
    table = pq.read_table(result.destination / result.shards[0].path)
    expected = csv_records(src, "\t")[1:]
    assert table.num_rows == 259
    assert table.column("Review").to_pylist() == [r[0] for r in expected]
    assert 'As for the "mains," also uninspired.' in table.column("Review").to_pylist()
    assert str(table.schema.field("Liked").type) == "int64"


def test_gsm8k_json_lines(tmp_path):
    src = REAL / "gsm8k_test_head.jsonl"
    result = convert_dataset(src, tmp_path / "out", ConvertOptions(block_bytes=2_048, max_rows_per_file=8))
    assert [s.rows for s in result.shards] == [8, 8, 4]
    rows = [r for s in result.shards for r in pq.read_table(result.destination / s.path).to_pylist()]
    assert rows == [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]


def test_real_folder_converts_with_the_unedited_file_left_out(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    for name in ("restaurant_reviews_head.tsv", "fake_or_real_news_head_trimmed.csv", "gsm8k_test_head.jsonl"):
        shutil.copy(REAL / name, root / name)
    result = convert_dataset(root, tmp_path / "out")
    assert result.rows_by_source == {
        "fake_or_real_news_head_trimmed.csv": 8,
        "gsm8k_test_head.jsonl": 20,
        "restaurant_reviews_head.tsv": 259,
    }
    assert {e.path: e.rows for e in result.manifest.entries} == {s.path: s.rows for s in result.shards}
