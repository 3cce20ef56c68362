"""check_dataset's run() and result: headline, sample inputs never beside a real dataset, bad parameters as rows."""

from __future__ import annotations

import json

from opskit.runbooks.check_dataset import run


def test_headline_names_what_failed_in_at_most_five_plain_entries():
    result = run()
    head = result.headline
    assert 1 <= len(head) <= 5 and json.dumps(head)
    assert head["verdict"].startswith(f"{result.verdicts.counts()['FAIL']} FAIL")
    assert head["personal data in"] == "comment"
    assert "train/part-0001.csv" in head["broken files"] and "train/part-0003.csv" in head["broken files"]


def test_a_real_dataset_is_never_judged_against_the_sample_schema_or_reference(tmp_path):
    (tmp_path / "a.csv").write_text("id,label\n1,x\n2,y\n")
    result = run(dataset=str(tmp_path))
    skipped = {(v.name, v.status.value) for v in result.verdicts if v.subject and v.subject.startswith("sample:")}
    assert skipped == {("schema", "SKIP"), ("reference", "SKIP")}
    assert result.data is not None and result.data.schema is None and result.data.reference is None
    assert result.figures["rows"] == 2


def test_an_unreadable_manifest_is_an_error_row_and_the_rest_still_runs(tmp_path):
    (tmp_path / "a.csv").write_text("id\n1\n")
    (tmp_path / "MANIFEST.json").write_text("{not json")
    result = run(dataset=str(tmp_path), schema=None, reference=None)
    rows = result.verdicts.find("manifest")
    assert [v.status.value for v in rows] == ["ERROR"] and "MANIFEST.json" in rows[0].message
    assert result.verdicts.find("file structure")[0].status.value == "PASS"


def test_bad_parameters_are_one_error_row_and_sections_say_unavailable():
    result = run(size_limit_gb=0)
    (row,) = list(result.verdicts)
    assert row.status.value == "ERROR" and "size_limit_gb" in row.message
    assert "not available" in result.files() and result.figures == {} and result.headline == {}
