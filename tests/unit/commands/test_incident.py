"""opskit incident: new, add-event, import, list through the CLI."""

from __future__ import annotations

import json

from opskit.cli import main


def test_new_add_import_list(tmp_path, capsys):
    root = str(tmp_path)
    assert main(["incident", "--root", root, "new", "INC-7", "--severity", "P1", "--title", "t"]) == 0
    assert (
        main(
            [
                "incident",
                "--root",
                root,
                "add-event",
                "INC-7",
                "paged",
                "--kind",
                "action",
                "--at",
                "2026-11-25T10:03:00Z",
                "--mark",
                "acknowledged",
            ]
        )
        == 0
    )
    payload = tmp_path / "am.json"
    payload.write_text(
        json.dumps({"alerts": [{"status": "firing", "labels": {"alertname": "A"}, "startsAt": "2026-11-25T10:01:00Z"}]})
    )
    assert main(["incident", "--root", root, "import", "INC-7", str(payload)]) == 0
    assert len((tmp_path / "INC-7" / "events.jsonl").read_text().splitlines()) == 2
    assert main(["incident", "--root", root, "list"]) == 0
    assert "INC-7" in capsys.readouterr().out
    assert main(["incident", "--root", root, "new", "../evil"]) == 2


def test_export_jira_and_refusals(tmp_path, capsys):
    import shutil

    from opskit.samples import resolve

    root = tmp_path / "incidents"
    shutil.copytree(resolve("sample:incident").parent, root)
    out = tmp_path / "actions.csv"
    assert main(["incident", "--root", str(root), "export", "sample", "--format", "jira", "-o", str(out)]) == 0
    assert out.read_text().splitlines()[0].startswith("Summary,Issue Type,Description")
    assert main(["incident", "--root", str(root), "refresh", "sample"]) == 2  # no postmortem yet
    assert "opskit incident write sample" in capsys.readouterr().err


def test_run_with_incident_files_the_report_in_it(tmp_path, capsys, runbook_fixture):
    root = tmp_path / "incidents"
    assert main(["incident", "--root", str(root), "new", "INC-9"]) == 0
    code = main(
        [
            "run",
            str(runbook_fixture("passing")),
            "-p",
            "value",
            "1",
            "--out",
            str(tmp_path / "reports"),
            "--incident",
            "INC-9",
            "--incidents-root",
            str(root),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "incident: filed as" in out
    filed = list((root / "INC-9" / "reports" / "passing").iterdir())
    assert len(filed) == 1 and (filed[0] / "summary.json").is_file()


def test_run_with_an_unknown_incident_is_refused_before_running(tmp_path, capsys, runbook_fixture):
    code = main(
        [
            "run",
            str(runbook_fixture("passing")),
            "--out",
            str(tmp_path / "r"),
            "--incident",
            "NOPE",
            "--incidents-root",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no such incident" in err and "opskit incident new NOPE" in err
    assert not (tmp_path / "r").exists()
