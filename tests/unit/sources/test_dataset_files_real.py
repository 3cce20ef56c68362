"""The dataset reader on real files from public test suites (tests/fixtures/real/datasets/SOURCES.md)."""

from __future__ import annotations

import pytest

from opskit.sources.dataset_files import scan_dataset

EXPECTED = {
    "csvkit_bad.csv": [(2, "field_count"), (3, "field_count")],
    "csvkit_utf8_bom.csv": [(1, "bom")],
    "csvkit_null_byte.csv": [(2, "encoding")],
    "csvkit_latin1.csv": [(3, "encoding"), (None, "no_line_end")],
    "csvkit_mac_newlines.csv": [],
    "csvkit_utf16_little.csv": [(None, "wide_encoding"), (None, "no_line_end")],
    "frictionless_invalid.csv": [
        (1, "header"),
        (1, "header"),
        (2, "field_count"),
        (3, "field_count"),
        (5, "field_count"),
    ],
    "frictionless_defective_rows.csv": [(2, "field_count"), (3, "field_count")],
    "frictionless_table.jsonl": [],
}


@pytest.fixture
def scans(fixtures):
    return {s.path: s for s in scan_dataset(fixtures / "real" / "datasets")}


def test_every_real_file_is_scanned(scans):
    assert set(scans) == {*EXPECTED, "SOURCES.md"}
    assert scans["SOURCES.md"].kind == "text" and scans["SOURCES.md"].problems == ()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_problems_are_found_at_their_lines(scans, name):
    assert [(p.line, p.kind) for p in scans[name].problems] == EXPECTED[name]


def test_what_the_real_files_hold_once_read(scans):
    assert scans["csvkit_utf8_bom.csv"].columns == ("foo", "bar", "baz")  # the mark is not in the first name
    assert scans["csvkit_utf16_little.csv"].frame["c"].tolist() == ["3", "ʤ"]
    mac = scans["csvkit_mac_newlines.csv"]
    assert (
        mac.rows == 2
        and mac.frame["a"].tolist() == ["1", "Once upon\ra time"]
        and mac.frame["_line"].tolist() == [2, 3]
    )
    invalid = scans["frictionless_invalid.csv"]
    assert invalid.columns == ("id", "name", "column_3", "name.4") and invalid.rows == 0
    assert scans["csvkit_bad.csv"].frame["_line"].tolist() == [4]  # the one complete record
    assert scans["frictionless_table.jsonl"].frame["name"].tolist() == ["english", "中国人"]
