"""A real Prometheus whose remote_read endpoint is down: it answers with the local data and a warning.

The server holds a copy of the sample fleet week's blocks (see conftest.py) and a ``remote_read`` entry
pointing at a port nobody listens on, so every answer says ``remote_read: ... connection refused``. The
reader keeps that warning per query, and the GPU cost report shows a WARN row (and the same check in
``summary.json``) instead of passing on data that may be incomplete.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from opskit.checks import Status
from opskit.runbooks.report_gpu_cost import run
from opskit.runner import run_runbook
from opskit.samples.fleet_formats import WEEK_END, WEEK_START
from opskit.sources.prometheus import read_prometheus_gpus

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fleet_week")]
WEEK = "2026-W48"
REFUSED = "connect: connection refused"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_blocks(source: Path, target: Path) -> None:
    """The persisted blocks (one folder with meta.json each) of a server's data folder; no WAL, no lock."""
    target.mkdir(parents=True)
    for block in source.iterdir():
        if (block / "meta.json").is_file():
            shutil.copytree(block, target / block.name)


@pytest.fixture(scope="module")
def warned_url(prometheus_server, start_another_prometheus, tmp_path_factory) -> str:
    """A second server over a copy of the sample week whose remote_read endpoint refuses connections."""
    workdir = tmp_path_factory.mktemp("prometheus_remote_read_down")
    _copy_blocks(prometheus_server.data_dir, workdir / "data")
    remote = f"remote_read:\n  - url: http://127.0.0.1:{_closed_port()}/api/v1/read\n    read_recent: true\n"
    return start_another_prometheus(workdir / "data", workdir, remote)


def test_the_reader_keeps_the_data_and_the_warning_of_every_query(warned_url, prometheus_server):
    warned = read_prometheus_gpus(warned_url, WEEK_START, WEEK_END, step="1h")
    healthy = read_prometheus_gpus(prometheus_server.url, WEEK_START, WEEK_END, step="1h")
    assert len(warned) == len(healthy) and warned["util_pct"].sum() == pytest.approx(healthy["util_pct"].sum())
    read = warned.attrs["prometheus"]
    assert {n.query for n in read.notes} == set(read.queries)
    assert all(n.level == "warning" and n.text.startswith("remote_read: ") and REFUSED in n.text for n in read.notes)
    assert healthy.attrs["prometheus"].notes == () and healthy.attrs["prometheus"].warnings == ()


def test_the_report_warns_that_its_data_may_be_incomplete(warned_url, prometheus_server):
    warned = run(samples=warned_url, source_format="prometheus", week=WEEK, attribution="")
    [row] = warned.verdicts.find("incomplete data")
    assert row.status is Status.WARN and row.subject == "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])"
    assert "may be incomplete" in row.message and REFUSED in row.message and row.observed == 8
    healthy = run(samples=prometheus_server.url, source_format="prometheus", week=WEEK, attribution="")
    assert healthy.verdicts.find("incomplete data") == []
    # the same week either way: the warning does not change the figures, it qualifies them
    assert warned.figures == healthy.figures


def test_summary_json_carries_the_warn_check(warned_url, tmp_path):
    params = {"samples": warned_url, "source_format": "prometheus", "week": WEEK, "attribution": ""}
    result = run_runbook("report_gpu_cost", params, reports_dir=tmp_path)
    assert result.summary["error"] is None
    [check] = [c for c in result.summary["checks"] if c["name"] == "incomplete data"]
    assert check["status"] == "WARN" and check["subject"] == "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])"
    assert REFUSED in check["message"] and "remote_read" in check["evidence"]
    assert result.summary["status"] != "PASS"
    assert "may be incomplete" in result.html_path.read_text(encoding="utf-8")
