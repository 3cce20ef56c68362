"""check_dataset on its sample (every planted problem, with file, column and line), on a clean copy and on bad input."""

from __future__ import annotations

import json

import pytest

from opskit.runner import run_runbook
from opskit.samples import dataset as sample

RUNBOOK = "check_dataset"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def sample_run(reports):
    return run_runbook(RUNBOOK, {}, reports_dir=reports)


def _one(run, name, subject):
    rows = run.checks(name, subject)
    assert len(rows) == 1, (name, subject, [c["subject"] for c in run.checks(name)])
    return rows[0]


def test_the_cut_file_fails_the_manifest_and_its_last_line_is_named(sample_run):
    run = sample_run
    assert run.summary["error"] is None and run.exit_code == 1
    manifest = _one(run, "manifest", sample.TRUNCATED_FILE)
    assert manifest["status"] == "FAIL" and manifest["observed"] < manifest["threshold"]  # bytes found < listed
    structure = _one(run, "file structure", sample.TRUNCATED_FILE)
    assert structure["status"] == "FAIL"
    last_line = sample.PART_ROWS + 1
    assert f"{sample.TRUNCATED_FILE}:{last_line} truncated" in structure["evidence"]
    assert [c["subject"] for c in run.checks("manifest")] == [sample.TRUNCATED_FILE]  # the other files match


def test_shifted_lines_are_named_with_their_column(sample_run):
    row = _one(sample_run, "file structure", sample.SHIFTED_FILE)
    assert row["status"] == "FAIL" and row["observed"] == len(sample.SHIFTED_LINES)
    for line in sample.SHIFTED_LINES:
        assert f"{sample.SHIFTED_FILE}:{line} field_count ({sample.PII_COLUMN})" in row["evidence"]
    assert {c["subject"] for c in sample_run.checks("file structure")} == {sample.SHIFTED_FILE, sample.TRUNCATED_FILE}


def test_column_problems_are_found_with_column_and_lines(sample_run):
    run = sample_run
    missing = _one(run, "missing values", sample.MISSING_COLUMN)
    assert missing["status"] == "FAIL" and missing["observed"] == pytest.approx(100 * sample.MISSING_SHARE, abs=3)
    outliers = _one(run, "outliers", sample.OUTLIER_COLUMN)
    assert outliers["status"] == "WARN" and "robust z-score over 3.5" in outliers["message"]
    assert ".csv:" in outliers["evidence"]
    ((file, lines),) = sample.RANGE_LINES.items()
    out_of_range = _one(run, "out of range", sample.RANGE_COLUMN)
    assert out_of_range["status"] == "FAIL" and out_of_range["observed"] == len(lines)
    assert all(f"{file}:{line}" in out_of_range["evidence"] for line in lines)
    assert {c["subject"] for c in run.checks("outliers")} == {sample.OUTLIER_COLUMN}
    assert {c["subject"] for c in run.checks("missing values")} == {sample.MISSING_COLUMN}


def test_duplicates_and_the_gone_class(sample_run):
    run = sample_run
    exact = _one(run, "duplicate rows", "all columns")
    assert exact["status"] == "WARN" and exact["observed"] == sample.DUPLICATES
    assert f"{sample.DUPLICATE_FILE}:302 repeats {sample.DUPLICATE_FILE}:102" in exact["evidence"]
    keys = _one(run, "duplicate keys", "record_id")  # the schema's primaryKey
    assert keys["status"] == "FAIL" and keys["observed"] == sample.KEY_REPEATS
    labels = _one(run, "label classes", "label")
    assert labels["status"] == "FAIL" and f"missing: {sample.GONE_CLASS}" in labels["evidence"]


def test_personal_data_and_the_token_are_found_and_never_shown(sample_run):
    run = sample_run
    pii = _one(run, "personal data", sample.PII_COLUMN)
    assert pii["status"] == "FAIL"
    assert all(kind in pii["message"] for kind in sample.PII_KINDS)
    assert f"{sample.PII_COLUMN!r}" in pii["message"] and "part-0000.csv:" in pii["evidence"]
    secret = _one(run, "secrets in files", sample.TOKEN_FILE)
    assert secret["status"] == "FAIL" and f"{sample.TOKEN_FILE}:{sample.TOKEN_LINE} hf_token" in secret["evidence"]
    html = run.html_path.read_text(encoding="utf-8")
    summary = json.dumps(run.summary)
    for text in (html, summary):
        assert "Q7r2Lk9PzX4mWv8NbT3yHs6JcD1aEuF5" not in text
        assert "@example.com" not in text
    assert "138****" in html or "139****" in html or "158****" in html or "186****" in html


def test_report_shows_verdicts_then_files_columns_and_plots(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    headings = [html.index(f'id="{name}"') for name in ("Files", "Columns", "The-worst-columns")]
    assert html.index("opskit-verdict") < headings[0] < headings[1] < headings[2]
    assert html.count("data:image/png;base64") >= 1
    figures = sample_run.summary["figures"]
    assert figures["files"] == 5 and figures["columns_with_personal_data"] == [sample.PII_COLUMN]
    assert "manifest" in figures["checks_failed"]


def test_a_clean_copy_flags_nothing(reports):
    run = run_runbook(RUNBOOK, {"dataset": "sample:dataset_clean"}, reports_dir=reports)
    assert run.summary["error"] is None
    flagged = [(c["name"], c["subject"], c["message"]) for c in run.checks() if c["status"] not in ("PASS", "SKIP")]
    assert flagged == []
    assert run.exit_code == 0
    assert _one(run, "manifest", "5 files")["status"] == "PASS"
    assert _one(run, "label classes", "label")["status"] == "PASS"


def test_bad_input_renders_the_error_first(tmp_path, reports):
    run = run_runbook(RUNBOOK, {"dataset": str(tmp_path / "no_such_folder")}, reports_dir=reports)
    assert run.summary["error"] is None
    first = run.summary["checks"][0]
    assert first["status"] == "ERROR" and first["name"] == "dataset"
    assert "no_such_folder" in first["message"] and "dataset not found" in first["message"]
    assert run.summary["status"] == "ERROR" and run.exit_code == 2
    html = run.html_path.read_text(encoding="utf-8")
    table = html[html.index("opskit-verdict") :]
    first_row = table[table.index("<tbody>") : table.index("</tr>", table.index("<tbody>"))]
    assert "ERROR" in first_row and "no_such_folder" in first_row


def _converted(tmp_path):
    from opskit.sources.dataset_convert import ConvertOptions, convert_dataset

    src = tmp_path / "export"
    src.mkdir()
    for part in range(2):
        rows = "".join(f"{part * 100 + i},{i % 7}.5,{'ab'[i % 2]}\n" for i in range(100))
        (src / f"part-{part}.csv").write_text("record_id,score,label\n" + rows)
    return convert_dataset(src, tmp_path / "parquet", ConvertOptions(max_rows_per_file=60))


def test_a_converted_folder_is_checked_against_its_own_manifest(tmp_path, reports):
    converted = _converted(tmp_path)
    assert converted.manifest_path.name == "_MANIFEST.json" and len(converted.shards) == 4
    run = run_runbook(RUNBOOK, {"dataset": str(converted.destination)}, reports_dir=reports)
    assert run.summary["error"] is None
    manifest = _one(run, "manifest", "4 files")
    assert manifest["status"] == "PASS" and manifest["evidence"] == "_MANIFEST.json"
    assert run.summary["figures"]["files"] == 4 and run.summary["figures"]["rows"] == 200  # the manifest not scanned


def test_two_manifests_that_disagree_are_one_error_row(tmp_path):
    import dataclasses

    from opskit.runbooks.check_dataset import run
    from opskit.sources.dataset_manifest import build_manifest, write_manifest

    converted = _converted(tmp_path)
    stale = build_manifest(converted.destination)
    stale = dataclasses.replace(stale, entries=stale.entries[1:])  # a shard left out
    write_manifest(stale, converted.destination / "MANIFEST.json")
    result = run(dataset=str(converted.destination), schema=None, reference=None)
    (row,) = result.verdicts.find("manifest")
    assert row.status.value == "ERROR" and row.subject == str(converted.destination)
    assert "_MANIFEST.json and MANIFEST.json are both here and disagree (4 and 3 files" in row.message
    assert "-p manifest FILE" in row.next_step
    assert result.verdicts.find("file structure")[0].status.value == "PASS"  # the rest still runs
