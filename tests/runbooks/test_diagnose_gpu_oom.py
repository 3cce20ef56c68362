"""diagnose_gpu_oom on its sample incident, and on bad input."""

from __future__ import annotations

import nbformat
import pytest

from opskit.runner import run_runbook

RUNBOOK = "diagnose_gpu_oom"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run_runbook(RUNBOOK, {}, reports_dir=tmp_path_factory.mktemp("reports"))


def test_sample_oom_figures_and_class(sample_run):
    assert sample_run.summary["error"] is None
    assert sample_run.exit_code == 1
    (oom,) = sample_run.checks("cuda oom")
    assert oom["status"] == "FAIL" and oom["subject"] == "GPU 5"
    assert oom["observed"] == pytest.approx(1.96) and oom["threshold"] == pytest.approx(1.02)
    assert "train.log:" in oom["evidence"]
    figures = sample_run.summary["figures"]
    assert figures["oom_class"] == "capacity"
    assert figures["capacity_gib"] == pytest.approx(79.11)


def test_sample_estimate_does_not_fit_and_checkpointing_is_the_top_remedy(sample_run):
    figures = sample_run.summary["figures"]
    assert figures["fits"] is False
    # 6.74e9 params, bf16 + AdamW, ZeRO-1 over 8 GPUs: 2 + 2 + 12/8 bytes per parameter = 34.5 GiB of model state
    model_state = 6.74e9 * (2 + 2 + 12 / 8) / 2**30
    activations = figures["estimate_activations_gib"]
    assert figures["estimate_total_gib"] == pytest.approx(model_state + activations + 1.0, abs=0.02)
    assert figures["top_remedy"] == "activation checkpointing"
    assert figures["plan_to_fit"] == ["activation checkpointing"]  # enough on its own here
    (estimate,) = sample_run.checks("memory estimate")
    assert estimate["status"] == "FAIL" and estimate["threshold"] == pytest.approx(79.11)
    assert "activation checkpointing" in estimate["next_step"]
    (explains,) = sample_run.checks("estimate explains the OOM")
    assert explains["status"] == "PASS"


def test_report_lists_remedies_with_expandable_segments(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    assert "expandable_segments" in html
    assert "gradient accumulation" in html
    nb = nbformat.read(sample_run.report_dir / f"{RUNBOOK}.ipynb", as_version=4)
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert pngs == 1  # the memory breakdown, shown once


def test_bad_config_and_log_without_oom_render_an_error_first(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("step=1 loss=2.0\nstep=2 loss=1.9\n")
    config = tmp_path / "job.json"
    config.write_text('{"params_b": 7, "precision": "fp12"}')
    result = run_runbook(RUNBOOK, {"log_path": str(log), "job_config": str(config)}, reports_dir=tmp_path / "r")
    checks = result.summary["checks"]
    assert checks[0]["status"] == "ERROR" and checks[0]["name"] == "memory estimate"
    assert result.exit_code == 2 and result.summary["error"] is None  # bad input, the runbook still completed
    assert "fp12" in checks[0]["message"]
    (oom,) = result.checks("cuda oom")
    assert oom["status"] == "WARN"
    html = result.html_path.read_text(encoding="utf-8")
    assert html.index("ERROR") < html.index("WARN")
