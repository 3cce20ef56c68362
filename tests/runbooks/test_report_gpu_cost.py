"""report_gpu_cost on the sample fleet, and on bad input."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest

from opskit.runner import run_runbook
from opskit.samples import fleet

RUNBOOK = "report_gpu_cost"

# the sample fleet is generated once per session: keep its users on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("fleet_week")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    return run_runbook(RUNBOOK, {}, reports_dir=tmp_path_factory.mktemp("reports"))


def status_of(run, name, subject=None):
    return {(c["subject"], c["status"]) for c in run.checks(name, subject)}


def test_verdicts_name_the_planted_faults(sample_run):
    assert sample_run.summary["error"] is None
    assert sample_run.exit_code == 1  # FAILs reached
    checks = sample_run.summary["checks"]
    assert checks[0]["status"] == "FAIL"
    # the idle reservation
    (idle,) = sample_run.checks("idle GPUs")
    assert idle["subject"] == fleet.IDLE_HOST and idle["status"] == "FAIL"
    assert idle["observed"] == pytest.approx(8 * 168)
    # the stalled job, by node, naming the job
    (stalled,) = sample_run.checks("stalled GPUs")
    assert stalled["subject"] == fleet.STALL[0] and stalled["status"] == "FAIL"
    assert fleet.STALLED_JOB in stalled["evidence"]
    # the underused team
    (recsys,) = sample_run.checks("team utilization", fleet.UNDERUSED_TEAM)
    assert recsys["status"] == "FAIL" and recsys["observed"] < 30
    assert "consolidate" in recsys["next_step"]
    assert status_of(sample_run, "team utilization", "llm") == {("llm", "PASS")}
    # the data gap: reported as a gap, on the node that had it, 4 GPUs x 6 hours
    (gap,) = sample_run.checks("data gaps")
    assert gap["subject"] == fleet.GAP[0] and gap["status"] == "WARN"
    assert gap["observed"] == pytest.approx(24)
    assert "09:00" in gap["evidence"]
    assert status_of(sample_run, "unknown prices") == {(None, "PASS")}


def test_key_figures(sample_run):
    f = sample_run.summary["figures"]
    assert f["week"] == "2026-W48" and f["previous_week"] == "2026-W47"
    assert f["gpus"] == 44
    assert f["gpu_hours"] == pytest.approx(44 * 168 - 24)
    assert f["idle_gpu_hours"] == pytest.approx(8 * 168)
    assert f["stalled_gpu_hours"] == pytest.approx(8 * 7)
    # the idle H100 reservation alone costs 8 x 168 h at the bundled on-demand H100 price
    assert f["idle_cost"] == pytest.approx(8 * 168 * 6.88)
    assert f["cost"] > f["used_cost"] > 0 and f["waste_cost"] > f["idle_cost"]
    assert f["savings_per_week"] >= f["idle_cost"]


def test_report_shows_plots_prices_and_saves_chat_summary(sample_run):
    html = sample_run.html_path.read_text(encoding="utf-8")
    for text in ("Recommendations", "hour of week", "Thresholds and prices used", "on_demand", "source"):
        assert text in html
    nb = nbformat.read(sample_run.notebook_path, as_version=4)
    pngs = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert pngs == 5  # heatmap, per-team distribution, cost per team, wasteful jobs, week over week: each once
    chat = (sample_run.report_dir / "chat_summary.md").read_text(encoding="utf-8")
    assert "2026-W48" in chat and fleet.IDLE_HOST in chat and len(chat.splitlines()) <= 15


def test_week_without_data_renders_an_error_first(tmp_path):
    result = run_runbook(RUNBOOK, {"week": "2026-W10"}, reports_dir=tmp_path)
    assert result.exit_code == 2 and result.summary["status"] == "ERROR"
    first = result.summary["checks"][0]
    assert first["status"] == "ERROR" and "2026-W10" in first["message"]
    assert "2026-W48" in (first["next_step"] or "")
    assert "2026-W10" in result.html_path.read_text(encoding="utf-8")


def test_empty_file_renders_an_error_first(tmp_path):
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    result = run_runbook(RUNBOOK, {"samples": str(empty), "attribution": ""}, reports_dir=tmp_path / "r")
    assert result.exit_code == 2 and result.summary["status"] == "ERROR"
    first = result.summary["checks"][0]
    assert first["status"] == "ERROR" and first["name"] == "input data" and "empty.parquet" in first["message"]
    assert (result.report_dir / "chat_summary.md").exists()


def test_unknown_columns_and_unpriced_model(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,node,load\n2026-11-23T00:00:00Z,a,50\n")
    result = run_runbook(RUNBOOK, {"samples": str(bad), "attribution": ""}, reports_dir=tmp_path / "r1")
    assert result.exit_code == 2 and result.summary["status"] == "ERROR"
    first = result.summary["checks"][0]
    assert first["status"] == "ERROR" and "bad.csv" in first["message"]

    samples = pd.concat(
        [
            fleet.gpu_samples("a", 0, start="2026-11-23", hours=168, util=60.0, model="NVIDIA H100 80GB HBM3"),
            fleet.gpu_samples("b", 0, start="2026-11-23", hours=168, util=60.0, model="Mystery Accelerator 9"),
        ],
        ignore_index=True,
    )
    path = tmp_path / "mixed.parquet"
    samples.to_parquet(path)
    result = run_runbook(RUNBOOK, {"samples": str(path), "attribution": ""}, reports_dir=tmp_path / "r2")
    assert result.summary["error"] is None
    (unknown,) = result.checks("unknown prices")
    assert unknown["status"] == "WARN" and unknown["subject"] == "Mystery Accelerator 9"
    (attribution,) = result.checks("attribution")
    assert attribution["status"] == "WARN"  # no mapping: everything unattributed, kept
    assert result.summary["figures"]["unpriced_gpus"] == 1
