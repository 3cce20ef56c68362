"""The triage runbook's run(): verdicts, figures, and sections that still show something when logs cannot be read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from opskit.analyses.faults.scan import scan
from opskit.analyses.faults.verdicts import LOG_CHECK, finding_verdicts
from opskit.checks import Status
from opskit.runbooks.display import Markdown, Outputs
from opskit.runbooks.triage_job import EVIDENCE_CHECK, KEEP_CHECK, keep_evidence, run, triage_figures
from opskit.runbooks.triage_job_sections import (
    FINDING_COLUMNS,
    code_block,
    detail_lines,
    evidence_text,
    excerpt,
    findings_table,
    next_runbook,
    next_step_text,
    root_cause_details,
    scan_headline,
)

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def test_no_finding_is_one_pass_row():
    result = scan(LOGS / "healthy_hf_trainer.log")
    (row,) = finding_verdicts(result)
    assert (row.name, row.status, row.observed) == (LOG_CHECK, Status.PASS, 0)
    assert next_runbook(result) is None
    assert triage_figures(result)["root_cause"] is None


def test_figures_name_the_next_runbook_and_watchdog():
    f = triage_figures(scan(LOGS / "multirank_oom_rank3"))
    assert f["next_runbook"] == "diagnose_gpu_oom" and f["root_cause_rank"] == 3
    assert f["nccl_missing_ranks"] == [3] and f["nccl_seq_num"] == 9020
    assert triage_figures(None) == {"findings": None, "root_cause": None}


# ------------------------------------------------------------------------------- the runbook's calls
def test_run_scans_the_logs_and_runs_the_system_checks(tmp_path):
    result = run(log_path=str(LOGS / "multirank_oom_rank3"), disk_paths=[tmp_path])
    verdicts, found = result.verdicts, result.scan
    assert found is not None and found.root_cause.rank == 3
    assert verdicts.rows[0].name == "cuda_oom" and verdicts.rows[0].status == Status.FAIL
    system = result.system_checks()
    assert {"disk space", "host memory", "GPU state", "driver and CUDA"} <= {v.name for v in system}
    assert not {v.name for v in system} & {"cuda_oom", "nccl_timeout", LOG_CHECK}


def test_unreadable_logs_are_an_error_row_and_the_system_checks_still_run(tmp_path):
    result = run(log_path=str(tmp_path / "no-such-job"), disk_paths=[tmp_path])
    verdicts, found = result.verdicts, result.scan
    assert found is None
    first = verdicts.rows[0]
    assert first.name == LOG_CHECK and first.status == Status.ERROR and "no-such-job" in first.message
    assert "disk space" in {v.name for v in verdicts}
    assert scan_headline(None).startswith("The logs could not be scanned")
    assert findings_table(None).empty and evidence_text(None) == ""
    assert root_cause_details(None) == "No root cause to detail."
    assert "sacct" in next_step_text(None, tmp_path) and keep_evidence(None, tmp_path, tmp_path / "keep") is None


def test_findings_evidence_and_details_of_the_root_cause():
    found = scan(LOGS / "multirank_oom_rank3")
    assert scan_headline(found).startswith("**Why this order:**")
    table = findings_table(found, n=5)
    assert len(table) == 5 and list(table.columns) == FINDING_COLUMNS
    assert (table.iloc[0]["fault"], table.iloc[0]["rank"]) == ("cuda_oom", 3)
    text = evidence_text(found, max_findings=2, context=1)
    headers = [line for line in text.splitlines() if line.startswith("== ")]
    assert len(headers) == 2 and headers[0].startswith("== cuda_oom rank 3")
    assert sum(line.startswith(">") for line in text.splitlines()) == 2  # one marked line per finding
    details = root_cause_details(found)
    assert details.startswith("**cuda_oom**") and "NCCL watchdog" in details and "SeqNum 9020" in details
    assert "offset" not in details
    assert "opskit run diagnose_gpu_oom -p log_path" in next_step_text(found, LOGS / "multirank_oom_rank3")


def test_healthy_logs_have_nothing_to_detail():
    found = scan(LOGS / "healthy_hf_trainer.log")
    assert scan_headline(found).startswith("No known fault signature in 1 file(s)")
    assert findings_table(found).empty and evidence_text(found) == ""


def test_keep_evidence_copies_the_logs_with_the_findings(tmp_path):
    found = scan(LOGS / "multirank_oom_rank3")
    manifest = keep_evidence(found, LOGS / "multirank_oom_rank3", tmp_path / "incident")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert len(data["files"]) == len(list((LOGS / "multirank_oom_rank3").iterdir()))
    assert data["findings"][0]["fault"] == "cuda_oom" and (manifest.parent / "SHA256SUMS").exists()
    assert keep_evidence(found, LOGS / "multirank_oom_rank3", None) is None


# ------------------------------------------------------------------------------- the result's sections
SECTIONS = ("system_checks", "findings", "evidence", "root_cause", "kept_evidence", "what_next")


def _shown(output) -> str:
    """What a section output shows, as text (tables by their rows)."""
    items = list(output) if isinstance(output, Outputs) else [output]
    return "\n".join(item.to_string() if isinstance(item, pd.DataFrame) else str(item) for item in items)


def test_unreadable_logs_every_section_still_shows_something(tmp_path):
    result = run(log_path=str(tmp_path / "no-such-job"), disk_paths=[tmp_path], keep_dir=str(tmp_path / "keep"))
    assert result.verdicts.rows[0].status == Status.ERROR and result.verdicts.rows[0].name == LOG_CHECK
    for name in SECTIONS:
        shown = getattr(result, name)()
        assert shown is not None and _shown(shown), name
    assert _shown(result.findings()).startswith("The logs could not be scanned")
    for name in ("evidence", "root_cause", "kept_evidence"):
        assert "is not available" in getattr(result, name)(), name
    assert "is not available" in _shown(result.what_next())
    assert result.figures == {"findings": None, "root_cause": None}
    assert not (tmp_path / "keep").exists()


def test_sections_on_the_multirank_oom(tmp_path):
    result = run(log_path=str(LOGS / "multirank_oom_rank3"), disk_paths=[tmp_path], excerpt_lines=1, max_findings=2)
    assert result.figures == triage_figures(result.scan)
    headline, frame = result.findings(n=5)
    assert isinstance(headline, Markdown) and headline.startswith("**Why this order:**") and len(frame) == 5
    evidence = result.evidence()
    assert evidence.startswith("```text\n== cuda_oom rank 3") and evidence.endswith("\n```")
    assert sum(line.startswith(">") for line in evidence.splitlines()) == 2
    details = result.root_cause()
    assert details.startswith("**cuda_oom**") and "SeqNum 9020" in details
    assert "{" not in details and "[" not in details, "details are Markdown, not Python reprs"
    assert "- classification: `fragmentation`" in details and "ranks that never reported: 3" in details
    step, kept = result.what_next()
    assert "opskit run diagnose_gpu_oom" in step and "No evidence kept" in kept
    assert {v.name for v in result.system_checks()} <= {v.name for v in result.verdicts}


def test_healthy_logs_sections_say_there_is_nothing(tmp_path):
    result = run(log_path=str(LOGS / "healthy_hf_trainer.log"), disk_paths=[tmp_path])
    (headline,) = result.findings()
    assert headline.startswith("No known fault signature")
    assert result.evidence() == "No finding, so no evidence to show."
    assert result.root_cause() == "No root cause to detail."
    assert "sacct" in _shown(result.what_next())


def test_evidence_is_kept_and_a_second_keep_is_an_error_row_not_a_crash(tmp_path):
    keep = tmp_path / "incident"
    first = run(log_path=str(LOGS / "multirank_oom_rank3"), disk_paths=[tmp_path], keep_dir=str(keep))
    assert first.kept == keep / "manifest.json" and "evidence kept in" in first.kept_evidence()
    again = run(log_path=str(LOGS / "multirank_oom_rank3"), disk_paths=[tmp_path], keep_dir=str(keep))
    (row,) = again.verdicts.find(KEEP_CHECK)
    assert row.status == Status.ERROR and "already holds evidence" in row.message
    assert again.kept is None and "already holds evidence" in again.kept_evidence()
    rest = [r.name for r in again.verdicts.rows if r.name != KEEP_CHECK]
    assert rest[0] == "cuda_oom", "the findings still come first after the ERROR row"


def test_one_disk_path_given_as_text_is_checked(tmp_path):
    result = run(log_path=str(LOGS / "healthy_hf_trainer.log"), disk_paths=str(tmp_path))
    (disk,) = result.verdicts.find("disk space")
    assert disk.subject == str(tmp_path)


def test_a_bad_excerpt_setting_is_an_error_row(tmp_path):
    result = run(log_path=str(LOGS / "multirank_oom_rank3"), disk_paths=[tmp_path], excerpt_lines="two")
    (row,) = result.verdicts.find(EVIDENCE_CHECK)
    assert row.status == Status.ERROR
    assert "is not available" in result.evidence()
    assert result.root_cause().startswith("**cuda_oom**")


def test_excerpt_of_a_line_whose_file_is_gone_is_the_line_alone():
    found = scan(LOGS / "multirank_oom_rank3")
    gone = replace(found.root_cause, file="/nonexistent/rank3.log")
    assert excerpt(gone) == f"> {gone.line:>7} | {gone.text}"


def test_code_block_fence_outlasts_backticks_inside():
    assert code_block("a ```` b").startswith("`````text\n")


def test_details_render_nested_values_as_bullets():
    lines = detail_lines("torchrun", {"script": "train.py", "failures": [{"rank": 1, "signal": None}], "hint": ""})
    assert lines == ["- torchrun:", "  - script: `train.py`", "  - failures:", "    - rank 1"]
    assert detail_lines("ranks", (0, 1, 2)) == ["- ranks: 0, 1, 2"]
    assert detail_lines("mib", 2048.0) == ["- mib: 2,048"]
    assert detail_lines("mib", 13219.8) == ["- mib: 13,220"] and detail_lines("ratio", 0.1234) == ["- ratio: 0.123"]
