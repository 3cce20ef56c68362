"""The incident folder and postmortem.ipynb: IDs refused, evidence sums, edit-then-refresh keeps the text, exports."""

from __future__ import annotations

import csv
import io
import json
import shutil

import nbformat
import pytest

from opskit.errors import InputError
from opskit.incidents import add_event, add_evidence, new_incident, refresh_postmortem, write_postmortem
from opskit.incidents.export import export_markdown, jira_csv
from opskit.runbooks.write_postmortem import run
from opskit.samples import resolve


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", "a\\b", ""])
def test_ids_with_path_characters_refused(tmp_path, bad):
    with pytest.raises(InputError):
        new_incident(tmp_path, bad)


def test_new_add_event_and_blank_template(tmp_path):
    folder = new_incident(tmp_path, "INC-1", title="t", severity="P1")
    assert {p.name for p in folder.iterdir()} == {"incident.yaml", "events.jsonl", "evidence", "reports"}
    add_event(tmp_path, "INC-1", summary="alert", kind="alert", timestamp="2026-11-25T10:00:00+02:00")
    with pytest.raises(InputError):
        add_event(tmp_path, "INC-1", summary="x", kind="gossip")
    result = run(incident=str(folder))
    assert result.moments.set_index("moment").loc["detected", "timestamp"].isoformat() == "2026-11-25T08:00:00+00:00"
    assert result.verdicts.find("root cause")[0].status == "FAIL"
    evidence = tmp_path / "x.log"
    evidence.write_text("one\n")
    kept = add_evidence(tmp_path, "INC-1", evidence)
    assert run(incident=str(folder)).verdicts.find("evidence checksums")[0].status == "PASS"
    kept.write_text("tampered\n")
    assert run(incident=str(folder)).verdicts.find("evidence checksums")[0].status == "FAIL"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("incidents") / "incidents"
    shutil.copytree(resolve("sample:incident").parent, root)
    folder = root / "sample"
    write_postmortem(folder)
    return folder


def test_edit_a_cell_then_refresh_keeps_it(written):
    path = written / "postmortem.ipynb"
    nb = nbformat.read(path, as_version=4)
    i = next(n for n, c in enumerate(nb.cells) if c.cell_type == "markdown" and "What went well" in c.source)
    nb.cells[i].source = "## What went well\n\nThe canary alert fired in 7½ minutes — 好。\n"
    nbformat.write(nb, path)
    add_event(written.parent, "sample", summary="postmortem scheduled", kind="note", timestamp="2026-11-26T09:00:00Z")
    refresh_postmortem(written)
    again = nbformat.read(path, as_version=4)
    assert again.cells[i] == nb.cells[i]
    evidence = [c for c in again.cells if c.cell_type == "code" and "evidence" in c.metadata.get("tags", [])]
    assert "postmortem scheduled" in json.dumps([c.outputs for c in evidence])  # the evidence cells re-ran
    md = export_markdown(written)
    assert "The canary alert fired in 7½ minutes — 好。" in md and "| time_to_detect_min | 7.5 |" in md


def test_invalid_json_is_refused_and_left_as_it_is(written, tmp_path):
    broken = tmp_path / "sample"
    shutil.copytree(written, broken)
    (broken / "postmortem.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError) as err:
        refresh_postmortem(broken)
    assert err.value.path.endswith("postmortem.ipynb")
    assert (broken / "postmortem.ipynb").read_text() == "{not json"


def test_jira_csv_shape(written):
    rows = list(csv.reader(io.StringIO(jira_csv(run(incident=str(written))))))
    assert rows[0][:6] == ["Summary", "Issue Type", "Description", "Assignee", "Team", "Due date"]
    first = dict(zip(rows[0][:6], rows[1][:6], strict=True))
    assert first["Summary"] == "Gate model rollouts on the canary's p95 latency"
    assert first["Team"] == "algorithm" and first["Due date"] == "2027-01-15"
    assert rows[1][6:] == ["postmortem", "sample", "prevent"]


def test_empty_folder_gives_a_blank_template_that_says_what_to_add(tmp_path):
    folder = tmp_path / "INC-empty"
    folder.mkdir()
    result = run(incident=str(folder))
    assert "add `incident.yaml`" in result.section_markdown("summary")
    assert "opskit incident add-event" in result.section_markdown("timeline")
    assert {v.name: v.status for v in result.verdicts}["detection time"] == "FAIL"


def test_html_export_is_the_executed_postmortem(written):
    from opskit.incidents.export import export_html

    html = export_html(written)
    assert "Timeline" in html and "rollback to ranker-2.3.1" in html and "li.wei@example.com" not in html


def test_trigger_is_the_rollout_and_zh_headings(written):
    assert "ranker-2.4.0 rollout started" in run(incident=str(written)).section_markdown("trigger")
    zh = run(incident=str(written), lang="zh")
    assert zh.section_markdown("timeline").startswith("## 时间线") and zh.heading("root_cause") == "根本原因"


def test_attach_report_and_evidence_dir(tmp_path):
    from opskit.incidents import attach_report, evidence_dir_for

    folder = new_incident(tmp_path, "INC-2")
    report = tmp_path / "reports" / "triage_job" / "20261125T143500Z"
    report.mkdir(parents=True)
    (report / "summary.json").write_text(
        '{"runbook": "triage_job", "started_at": "2026-11-25T14:35:00Z", "checks": []}'
    )
    kept = attach_report(folder, report)
    assert kept == folder / "reports" / "triage_job" / "20261125T143500Z"
    assert run(incident=str(folder)).timeline["source"].tolist() == ["triage_job"]
    assert evidence_dir_for(tmp_path, "INC-2", stamp="X") == folder / "evidence" / "diagnose-X"


def test_the_written_postmortem_declares_its_language_choices(written):
    import nbformat

    from opskit.parameters import parse_parameters_cell

    nb = nbformat.read(written / "postmortem.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params = {p.name: p for p in parse_parameters_cell(cell.source)}
    assert params["lang"].default == "en" and tuple(params["lang"].choices) == ("en", "zh")
