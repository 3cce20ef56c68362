import json

import numpy as np
import pytest

from opskit.checks import (
    SUMMARY_MIMETYPE,
    Status,
    Verdict,
    VerdictTable,
    publish_summary,
    render_verdict_html,
    run_checks,
    to_jsonable,
)
from opskit.errors import InputError


def test_status_severity_order_is_error_fail_warn_pass_skip():
    # an input that could not be used heads the table and is never hidden behind FAIL rows
    ordered = sorted(Status, key=lambda s: -s.severity)
    assert [s.value for s in ordered] == ["ERROR", "FAIL", "WARN", "PASS", "SKIP"]
    assert Status.worst(["FAIL", "ERROR", "PASS"]) is Status.ERROR
    assert Status.worst(["PASS", "WARN", "SKIP"]) is Status.WARN
    assert Status.worst([]) is Status.SKIP
    assert Status.ERROR.reaches(Status.FAIL) and not Status.FAIL.reaches(Status.ERROR)


def test_table_sorts_worst_first_and_counts():
    table = VerdictTable(
        [Verdict("a", Status.PASS), Verdict("b", Status.WARN), Verdict("c", Status.FAIL), Verdict("d", "SKIP")]
    )
    assert [v.name for v in table] == ["c", "b", "a", "d"]
    assert table.worst is Status.FAIL
    assert table.counts() == {"FAIL": 1, "WARN": 1, "PASS": 1, "SKIP": 1}


def test_run_checks_turns_an_exception_into_an_error_row_and_keeps_going():
    def broken():
        raise InputError("no column latency_ms", path="req.csv", column="latency_ms", hint="map the column")

    def crash():
        return {}["missing"]

    table = run_checks(
        [
            ("loads", broken),
            ("ok", lambda: Verdict("ok", Status.PASS)),
            ("crash", crash),
            ("many", lambda: [Verdict("many", Status.WARN, subject=s) for s in "xy"]),
        ]
    )
    assert len(table) == 5
    errors = table.by_status(Status.ERROR)
    assert {v.name for v in errors} == {"loads", "crash"}
    loads = table.find("loads")[0]
    assert "req.csv" in loads.message and loads.next_step == "map the column"
    crash_row = table.find("crash")[0]
    assert crash_row.message.startswith("KeyError") and "test_checks.py" in crash_row.message
    assert [v.subject for v in table.find("many")] == ["x", "y"]


def test_evidence_is_masked_on_creation():
    v = Verdict("x", Status.FAIL, evidence="export HF_TOKEN=hf_abcdefghijklmnopqrstuvwx1234 by bob@corp.com")
    assert "hf_abcdefghijklmnopqrstuvwx1234" not in v.evidence and "bob@corp.com" not in v.evidence


def test_to_dict_is_plain_json():
    v = Verdict("psi", Status.WARN, observed=np.float64(0.15), threshold=np.int64(2), unit="PSI")
    d = v.to_dict()
    assert d["observed"] == 0.15 and type(d["observed"]) is float and type(d["threshold"]) is int
    assert json.loads(json.dumps(d))["status"] == "WARN"
    assert to_jsonable(float("nan")) is None


def test_html_table_has_one_row_per_verdict_colour_per_status_and_escapes():
    table = VerdictTable([Verdict("<script>", Status.FAIL, evidence="a<b"), Verdict("ok", Status.PASS)])
    html = render_verdict_html(table)
    assert html.count("<tr>") == 3  # header + 2 rows
    assert Status.FAIL.colour in html and Status.PASS.colour in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.index("&lt;script&gt;") < html.index(">ok<")
    assert table._repr_html_() == html


def test_publish_summary_rejects_unserialisable_figures():
    with pytest.raises(TypeError):
        publish_summary([Verdict("x", Status.PASS)], figures={"f": object()})
    summary = publish_summary([Verdict("x", Status.WARN)], figures={"n": np.int32(3)})
    assert summary["status"] == "WARN" and summary["figures"] == {"n": 3}
    assert SUMMARY_MIMETYPE.startswith("application/")


def test_publish_summary_takes_a_result_and_writes_its_attachments(tmp_path, monkeypatch):
    from dataclasses import dataclass

    from opskit.checks import REPORT_DIR_ENV, VerdictTable

    @dataclass(frozen=True)
    class Result:
        verdicts: VerdictTable

        @property
        def figures(self):
            return {"gpus": np.int64(4)}

        @property
        def attachments(self):
            return {"chat_summary.md": "week 48: 4 GPUs"}

    result = Result(VerdictTable([Verdict("x", Status.FAIL), Verdict("y", Status.PASS)]))
    monkeypatch.setenv(REPORT_DIR_ENV, str(tmp_path))
    summary = publish_summary(result)
    assert summary["status"] == "FAIL" and summary["figures"] == {"gpus": 4}
    assert [c["name"] for c in summary["checks"]] == ["x", "y"]
    assert (tmp_path / "chat_summary.md").read_text(encoding="utf-8") == "week 48: 4 GPUs"


def test_publish_summary_outside_a_run_writes_nothing_and_refuses_paths(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from opskit.checks import REPORT_DIR_ENV, VerdictTable

    monkeypatch.delenv(REPORT_DIR_ENV, raising=False)
    plain = SimpleNamespace(verdicts=VerdictTable([]), figures={}, attachments={"a.md": "x"})
    assert publish_summary(plain)["checks"] == []
    assert not list(tmp_path.iterdir()), "outside opskit run nothing is written"
    monkeypatch.setenv(REPORT_DIR_ENV, str(tmp_path / "run"))
    bad = SimpleNamespace(verdicts=VerdictTable([]), figures={}, attachments={"../escape.md": "x"})
    with pytest.raises(ValueError, match="plain file name"):
        publish_summary(bad)
    assert not (tmp_path / "escape.md").exists()


def test_every_text_of_a_verdict_is_masked_as_a_live_notebook_shows_it():
    v = Verdict(
        name="owner",
        status=Status.WARN,
        subject="alice.smith@example.com",
        observed="token hf_abcdefghijklmnopqrstuvwxyzABCDEF12 in a tag",
        threshold=3,
        next_step="ask alice.smith@example.com to rotate it",
        message="seen in /home/alice",
    )
    shown = " ".join(str(x) for x in (v.subject, v.observed, v.next_step, v.message))
    assert "alice.smith@example.com" not in shown and "hf_abcdefghijklmnopqrstuvwxyzABCDEF12" not in shown
    assert v.threshold == 3 and v.name == "owner" and "rotate it" in v.next_step
