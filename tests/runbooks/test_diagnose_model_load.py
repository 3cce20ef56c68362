"""diagnose_model_load on its sample model folder, on a folder with a live payload, and on bad input."""

from __future__ import annotations

import pytest

from opskit.runner import run_runbook
from opskit.samples.models import write_model_dir

RUNBOOK = "diagnose_model_load"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run_runbook(RUNBOOK, {}, reports_dir=tmp_path_factory.mktemp("reports"))


def statuses(run, name: str) -> dict[str, str]:
    return {c["subject"]: c["status"] for c in run.checks(name)}


def test_every_planted_file_fault_is_named_with_its_fix(sample_run):
    assert sample_run.summary["error"] is None and sample_run.exit_code == 1
    formats = {c["subject"]: c for c in sample_run.checks("format")}
    assert formats["classifier_truncated.pt"]["status"] == "FAIL"
    assert "truncated" in formats["classifier_truncated.pt"]["message"]
    assert formats["classifier_download.bin"]["observed"] == "html"
    assert "authenticated client" in formats["classifier_download.bin"]["next_step"]
    assert formats["adapter.safetensors"]["observed"] == "git-lfs-pointer"
    assert "git lfs pull" in formats["adapter.safetensors"]["next_step"]
    assert "header is not valid JSON" in formats["encoder_bad_header.safetensors"]["message"]
    assert formats["classifier.pt"]["status"] == "PASS"
    (shards,) = sample_run.checks("shard set")
    assert shards["status"] == "FAIL" and "model-00003-of-00004.safetensors" in shards["message"]
    (ddp,) = sample_run.checks("state-dict keys", "classifier_ddp.pt")
    assert ddp["status"] == "WARN" and "module." in ddp["message"]


def test_checksums_against_the_manifest(sample_run):
    checks = statuses(sample_run, "checksum")
    assert checks["classifier_truncated.pt"] == "FAIL" and checks["classifier_download.bin"] == "FAIL"
    assert checks["model-00003-of-00004.safetensors"] == "FAIL"
    # the malicious checkpoint matches its manifest line: a checksum proves the copy, not the content
    assert checks["classifier.pt"] == "PASS" and checks["classifier_malicious.pt"] == "PASS"


def test_malicious_pickle_is_dangerous_and_never_loaded(sample_run):
    assert statuses(sample_run, "pickle safety") == {
        "classifier.pt": "PASS", "classifier_ddp.pt": "PASS", "classifier_malicious.pt": "FAIL",
        "classifier_truncated.pt": "FAIL",
    }  # fmt: skip
    (cut,) = sample_run.checks("pickle safety", "classifier_truncated.pt")
    assert "could not be proven safe" in cut["message"]  # a zip that cannot be read in full is never safe
    (bad,) = sample_run.checks("pickle safety", "classifier_malicious.pt")
    assert "os.system" in bad["message"] and "archive/data.pkl@" in bad["evidence"]
    assert "classifier_malicious.pt" not in statuses(sample_run, "state-dict keys")
    assert sample_run.summary["figures"]["dangerous_files"] == 1


def test_driver_too_old_for_the_cuda_12_build(sample_run):
    (driver,) = sample_run.checks("driver supports CUDA build")
    assert driver["status"] == "FAIL" and driver["observed"] == "470.182.03" and driver["threshold"] == ">= 525.60.13"
    assert "upgrade the NVIDIA driver" in driver["next_step"]
    assert sample_run.summary["figures"]["environment"] == "sample:model_env_old_driver"


def test_report_shows_fixes_and_evidence(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    assert "What to do" in html and "git lfs pull" in html
    assert "os.system" in html and "470.182.03" in html
    figures = sample_run.summary["figures"]
    assert figures["files_checked"] == 10 and figures["files_failed"] == 5 and figures["missing_shards"] == 1


def test_payload_never_runs_through_the_runbook(tmp_path):
    marker = tmp_path / "payload_ran"
    folder = write_model_dir(tmp_path / "sample", payload_command=f"touch {marker}")
    run = run_runbook(
        RUNBOOK,
        {"model_path": str(folder), "environment": "local", "reference": str(folder / "classifier.pt")},
        reports_dir=tmp_path / "reports",
    )
    assert run.summary["error"] is None
    assert statuses(run, "pickle safety")["classifier_malicious.pt"] == "FAIL"
    (ddp,) = run.checks("state-dict keys", "classifier_ddp.pt")
    assert ddp["status"] == "FAIL" and "removeprefix" in ddp["next_step"]
    assert not marker.exists(), "the runbook executed the pickle's payload"


def test_missing_model_path_renders_the_error_first(tmp_path):
    run = run_runbook(RUNBOOK, {"model_path": str(tmp_path / "no-such-model")}, reports_dir=tmp_path / "reports")
    first = run.summary["checks"][0]
    assert first["status"] == "ERROR" and first["name"] == "model files"
    assert "no-such-model" in first["message"] and first["next_step"]
    assert run.summary["status"] == "ERROR" and run.summary["error"] is None  # rendered, not crashed
    assert run.exit_code == 2
    html = run.html_path.read_text(encoding="utf-8")
    rows = {b: html.find(f">{b}</span></td>") for b in ("ERROR", "FAIL", "WARN", "PASS", "SKIP")}
    assert min((pos, b) for b, pos in rows.items() if pos >= 0)[1] == "ERROR"  # the first row of the table
    assert "no such file or folder" in html
