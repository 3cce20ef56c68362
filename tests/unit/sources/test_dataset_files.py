"""Line-aware dataset reading: each problem with its file and line, the rest of the file still read."""

from __future__ import annotations

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.dataset_files import FILE_COLUMN, LINE_COLUMN, scan_dataset, scan_file


def _write(path, data: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _kinds(scan):
    return [(p.line, p.kind) for p in scan.problems]


def test_a_clean_csv_has_no_problem_and_typed_columns(tmp_path):
    path = _write(tmp_path / "a.csv", "id,when,score,name,ok\n1,2026-11-01T10:00:00Z,0.5,ann,true\n2,,1.5,bo,false\n")
    scan = scan_file(path, tmp_path)
    assert scan.problems == () and scan.rows == 2 and scan.columns == ("id", "when", "score", "name", "ok")
    frame = scan.frame
    assert str(frame["id"].dtype) == "Int64" and frame["score"].dtype == float
    assert pd.api.types.is_datetime64_any_dtype(frame["when"]) and frame["when"].isna().sum() == 1
    assert frame["ok"].tolist() == [True, False]
    assert frame[LINE_COLUMN].tolist() == [2, 3] and set(frame[FILE_COLUMN]) == {"a.csv"}


def test_extra_delimiter_names_the_line_and_the_shifted_column(tmp_path):
    rows = "".join(f"{i},{30 + i},some words here,0.{i}\n" for i in range(1, 20))
    path = _write(tmp_path / "t.csv", "id,age,comment,score\n" + rows + "20,50,good, thanks,0.2\n")
    scan = scan_file(path, tmp_path)
    (problem,) = scan.problems
    assert (problem.line, problem.kind, problem.column) == (21, "field_count", "comment")
    assert scan.rows == 19  # the shifted record is left out, the others are read


def test_quoting_mixed_delimiter_and_cut_last_line(tmp_path):
    text = 'a,b,c\n1,"x"y,3\n4;5;6\n7,8,9\n"multi\nline",2,3\n10,11'
    scan = scan_file(_write(tmp_path / "q.csv", text), tmp_path)
    assert _kinds(scan) == [(2, "quoting"), (3, "mixed_delimiter"), (7, "truncated")]
    assert scan.frame[LINE_COLUMN].tolist() == [4, 5]  # a quoted newline keeps its record's first line
    assert scan.rows == 2


def test_a_quote_never_closed_is_named_where_it_opens(tmp_path):
    scan = scan_file(_write(tmp_path / "u.csv", 'a,b\n1,2\n3,"open\n5,6\n7,8\n'), tmp_path)
    assert _kinds(scan) == [(3, "quoting")] and "never closed" in scan.problems[0].message
    assert scan.rows == 1


def test_fewer_fields_inside_the_file_and_a_complete_last_line_without_line_end(tmp_path):
    scan = scan_file(_write(tmp_path / "f.csv", "a,b,c\n1,2\n3,4,5"), tmp_path)
    assert _kinds(scan) == [(2, "field_count"), (None, "no_line_end")]
    assert scan.problems[0].column == "c"


def test_encoding_bom_and_undecodable_bytes(tmp_path):
    scan = scan_file(_write(tmp_path / "e.csv", b"\xef\xbb\xbfx,y\n1,caf\xe9\n2,ok\n"), tmp_path)
    assert _kinds(scan) == [(1, "bom"), (2, "encoding")]
    assert scan.columns == ("x", "y") and scan.rows == 2  # the BOM is not part of the first name


def test_gbk_and_utf16_files_are_read_in_their_encoding(tmp_path):
    gbk = scan_file(_write(tmp_path / "g.csv", "城市,人数\n北京,3\n".encode("gb18030")), tmp_path)
    assert gbk.encoding == "gb18030" and gbk.problems == () and gbk.frame["城市"].tolist() == ["北京"]
    wide = scan_file(_write(tmp_path / "w.tsv", "a\tb\n1\t2\n".encode("utf-16")), tmp_path)
    assert wide.delimiter == "\t" and wide.rows == 1 and wide.columns == ("a", "b")


def test_empty_binary_and_header_only_files(tmp_path):
    _write(tmp_path / "d" / "empty.csv", b"")
    _write(tmp_path / "d" / "blob.csv", bytes(range(256)) * 4)
    _write(tmp_path / "d" / "head.csv", "a,b\n")
    _write(tmp_path / "d" / "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    scans = {s.path: s for s in scan_dataset(tmp_path / "d")}
    assert _kinds(scans["empty.csv"]) == [(None, "empty")]
    assert _kinds(scans["blob.csv"]) == [(None, "binary")]
    assert _kinds(scans["head.csv"]) == [(None, "no_rows")]
    assert scans["image.png"].kind == "binary" and scans["image.png"].problems == ()  # not a text format


def test_json_lines_invalid_and_cut(tmp_path):
    scan = scan_file(_write(tmp_path / "r.jsonl", '{"a": 1}\n{"a": 2\n[1]\n\n{"a": 3}\n{"a": '), tmp_path)
    assert _kinds(scan) == [(2, "json"), (3, "json"), (6, "truncated")]
    assert scan.rows == 2 and scan.frame[LINE_COLUMN].tolist() == [1, 5]


def test_parquet_rows_and_a_cut_parquet(tmp_path):
    path = tmp_path / "p.parquet"
    pd.DataFrame({"x": range(10)}).to_parquet(path)
    scan = scan_file(path, tmp_path)
    assert scan.rows == 10 and scan.problems == () and scan.frame[LINE_COLUMN].iloc[-1] == 10
    cut = _write(tmp_path / "cut.parquet", path.read_bytes()[:-20])
    assert _kinds(scan_file(cut, tmp_path)) == [(None, "parquet")]


def test_keep_rows_bounds_the_records_kept_not_the_rows_counted(tmp_path):
    path = _write(tmp_path / "big.csv", "a\n" + "".join(f"{i}\n" for i in range(100)))
    scan = scan_file(path, tmp_path, keep_rows=10)
    assert scan.rows == 100 and len(scan.frame) == 10 and not scan.kept_all


def test_a_missing_dataset_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as info:
        scan_dataset(tmp_path / "nowhere")
    assert info.value.path == str(tmp_path / "nowhere")
    (tmp_path / "void").mkdir()
    with pytest.raises(InputError, match="holds no files"):
        scan_dataset(tmp_path / "void")
