"""manage_model_versions on its sample registry, executed once with papermill: the planted naming
violation and missing checksums are WARN rows, champion verifies, and the time question is answered."""

from __future__ import annotations

import pytest

from opskit.runner import run_runbook

RUNBOOK = "manage_model_versions"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run_runbook(RUNBOOK, {"at": "2026-11-20T12:00:00Z"}, reports_dir=tmp_path_factory.mktemp("reports"))


def test_sample_registry_verdicts_and_sections(sample_run):
    assert sample_run.summary["error"] is None
    flagged = {(c["name"], c["subject"]): c["status"] for c in sample_run.summary["checks"] if c["status"] != "PASS"}
    assert flagged == {
        ("naming", "churn v2"): "WARN",  # churn_v1.1_20260931: there is no 31 September
        ("checksums recorded", "churn v3"): "WARN",
        ("alias target", "churn@challenger -> v3"): "WARN",  # nothing recorded to compare with
    }
    (champion,) = sample_run.checks("alias target", subject="churn@champion -> v1")
    assert champion["status"] == "PASS" and champion["observed"] == 2  # MLmodel and model.safetensors match
    assert sample_run.exit_code == 0
    figures = sample_run.summary["figures"]
    assert (figures["versions"], figures["aliases"], figures["history_moves"]) == (3, 2, 4)
    html = sample_run.html_path.read_text(encoding="utf-8")
    assert "rollback" in html and "v1.1 doubled false positives" in html  # the alias history section
    assert "since (UTC)" in html and "moved by" in html  # the "which version at T" table was shown
    assert "Production" in html and "version_label=churn_v1.0_20260901" in html  # the versions table
