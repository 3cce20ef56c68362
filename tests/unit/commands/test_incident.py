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
