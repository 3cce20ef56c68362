"""Signals at points along a run, and runs that start in the same second: nothing earlier changes,
nothing half-written is left, and the exit code says what happened."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from opskit.runner import run_runbook


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "index.html"
    }


@pytest.mark.parametrize("delay_s", [0.3, 1.5, 3.0, 4.5])  # before the kernel, during cells, while rendering
def test_sigterm_at_any_point_keeps_earlier_reports_and_leaves_nothing_half_written(tmp_path, runbook_fixture, delay_s):
    reports = tmp_path / "reports"
    earlier = run_runbook(runbook_fixture("passing"), {"value": "1"}, reports_dir=reports)
    before = _checksums(reports)
    proc = subprocess.Popen(
        [sys.executable, "-m", "opskit", "run", str(runbook_fixture("plot")), "--out", str(reports)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay_s)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    # finished before the signal (0, 1), stopped by it (143), or reached while the interpreter was
    # starting or exiting, when Python's default handler is in place (-15): then, as always, nothing
    # half-written may be left (checked below)
    assert proc.returncode in (0, 1, 143, -signal.SIGTERM), err
    if proc.returncode == 143:
        assert "interrupted" in err and "Traceback" not in err.split("interrupted")[-1]
    after = _checksums(reports)
    assert {k: v for k, v in after.items() if k in before} == before  # the earlier report is untouched
    assert (earlier.report_dir / "summary.json").is_file()
    for folder in (reports / "plot").glob("*") if (reports / "plot").exists() else []:
        assert not folder.name.startswith(".staging-"), "a staging folder was left behind"
        assert {p.name for p in folder.iterdir()} == {"plot.ipynb", "plot.html", "summary.json"}


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, runbook_fixture):
    with ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda v: run_runbook(runbook_fixture("passing"), {"value": v}, reports_dir=tmp_path, label="same"),
                ["1", "9"],
            )
        )
    folders = {r.report_dir for r in runs}
    assert len(folders) == 2 and all((f / "summary.json").is_file() for f in folders)
    values = sorted(r.summary["parameters"]["value"] for r in runs)
    assert values == [1.0, 9.0]
