"""Fault injection on the engine: where reports go, what -f and the runbook file hold, values, signals.

Each case asserts the exit code, the ``error:``/``hint:`` lines and that nothing earlier changed.
Read-only and full file systems are real tmpfs mounts, which needs root; elsewhere those cases skip
and say why.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opskit.cli import main
from opskit.report_folders import remove_stale_staging
from opskit.runner import exit_code_for


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["run", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MiB tmpfs, unmounted afterwards; skips where mounting is not allowed."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_read_only_reports_folder_is_one_error_line_with_the_cause(tmpfs, capsys, runbook_fixture):
    code, text = _run(capsys, str(runbook_fixture("passing")), "-p", "value", "1", "--out", str(tmpfs / "reports"))
    assert code == 0 or "EROFS" not in text  # writable first: the mount works
    before = _checksums(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, text = _run(capsys, str(runbook_fixture("passing")), "-p", "value", "1", "--out", str(tmpfs / "reports"))
    assert code == 2
    assert "error: cannot write the report to" in text and "(EROFS)" in text and "hint:" in text
    assert "Traceback" not in text
    assert _checksums(tmpfs) == before


def test_full_reports_folder_is_refused_up_front_naming_enospc(tmpfs, capsys, runbook_fixture):
    (tmpfs / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 64 * 1024))
    code, text = _run(capsys, str(runbook_fixture("passing")), "-p", "value", "1", "--out", str(tmpfs / "reports"))
    assert code == 2 and "(ENOSPC)" in text and "free" in text and "--out" in text
    assert not any((tmpfs / "reports").rglob(".staging-*"))


def test_out_pointing_at_a_file(tmp_path, capsys, runbook_fixture):
    target = tmp_path / "reports"
    target.write_text("not a folder")
    code, text = _run(capsys, str(runbook_fixture("passing")), "--out", str(target))
    assert code == 2 and "it is a file, not a folder" in text and str(target) in text and "hint:" in text
    assert target.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (bytes(range(256)) * 8, "not a parameter file: not text"),
        ("value: 7\nlabel: gpu0\n".encode("utf-16"), None),  # UTF-16 with a mark is read
        (b"value: [1,\n", "not valid YAML"),
    ],
    ids=["binary", "utf-16", "bad-yaml"],
)
def test_parameter_files_binary_utf16_and_broken(tmp_path, capsys, runbook_fixture, content, expect):
    params = tmp_path / "params.yaml"
    params.write_bytes(content)
    code, text = _run(capsys, str(runbook_fixture("passing")), "-f", str(params), "--out", str(tmp_path / "r"))
    if expect is None:
        assert code == 1 and "passing: FAIL" in text  # value 7 read, the fixture's verdict
    else:
        assert code == 2 and expect in text and str(params) in text and "Traceback" not in text


def test_parameter_file_that_is_a_folder(tmp_path, capsys, runbook_fixture):
    code, text = _run(capsys, str(runbook_fixture("passing")), "-f", str(tmp_path), "--out", str(tmp_path / "r"))
    assert code == 2 and "is a folder" in text


def test_damaged_notebook_names_the_file(tmp_path, capsys, runbook_fixture):
    damaged = tmp_path / "damaged.ipynb"
    damaged.write_text(runbook_fixture("passing").read_text()[:300])
    code, text = _run(capsys, str(damaged), "--out", str(tmp_path / "r"))
    assert code == 2 and "not a readable notebook" in text and "damaged.ipynb" in text and "hint:" in text


@pytest.mark.parametrize(
    ("runbook", "name", "value", "says"),
    [
        ("diagnose_gpu_oom", "gpu_memory_gib", "nan", "finite"),
        ("diagnose_gpu_oom", "gpu_memory_gib", "inf", "finite"),
        ("diagnose_gpu_oom", "gpu_memory_gib", "-5", "greater than 0"),
        ("diagnose_model_load", "torch_version", "banana", "version"),
        ("diagnose_model_load", "driver_version", "5x5", "version"),
        ("diagnose_model_load", "expected_sha256", "xyz", "SHA-256"),
        ("report_gpu_cost", "hot_pct", "150", "percentage"),
    ],
)
def test_values_checked_before_running(tmp_path, capsys, runbook, name, value, says):
    code, text = _run(capsys, runbook, "-p", name, value, "--out", str(tmp_path / "r"))
    assert code == 2 and says in text and repr(name) in text and "hint:" in text
    assert not (tmp_path / "r").exists()  # refused before anything was created


def test_an_error_row_exits_2_whatever_else_failed():
    summary = {"status": "FAIL", "checks": [{"status": "FAIL"}] * 9 + [{"status": "ERROR"}], "error": None}
    assert exit_code_for(summary, "fail") == 2
    assert exit_code_for({"status": "FAIL", "checks": [{"status": "FAIL"}], "error": None}, "fail") == 1


def test_stale_staging_from_a_killed_run_is_cleaned_and_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".staging-20260101T000000Z-{dead.stdout.strip()}"
    live = tmp_path / f".staging-20260101T000000Z-{os.getppid()}"
    newer = tmp_path / f".staging-20990101T000000Z-{dead.stdout.strip()}"
    for folder in (stale, live, newer):
        folder.mkdir()
        (folder / "x.ipynb").write_text("{}")
    assert remove_stale_staging(tmp_path, "20261202T000000Z") == [stale]
    assert not stale.exists() and live.exists() and newer.exists()


def test_sigterm_after_publish_says_where_the_report_is(tmp_path, runbook_fixture):
    """A run interrupted while it records the report elsewhere (a tracking server that hangs)."""
    script = (
        "import sys, os, signal, threading\n"
        "import opskit.runner as r\n"
        "def hang(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGTERM); threading.Event().wait(30)\n"
        "r.record_run = hang\n"
        "from opskit.cli import main\n"
        f"sys.exit(main(['run', {str(runbook_fixture('passing'))!r}, '--out', {str(tmp_path)!r}, "
        "'--mlflow', 'sqlite:///' + " + repr(str(tmp_path / "m.db")) + "]))\n"
    )
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert time.time() - t0 < 120
    assert proc.returncode == 143, proc.stderr
    assert "interrupted after the report was written:" in proc.stderr
    written = Path(proc.stderr.split("written:")[1].split()[0])
    assert (written / "summary.json").is_file()


def test_dead_tracking_server_is_a_warn_row_and_the_report_is_kept(tmp_path, runbook_fixture):
    import json

    from opskit.runner import run_runbook

    result = run_runbook(
        runbook_fixture("passing"), {"value": "1"}, reports_dir=tmp_path, mlflow_uri="http://127.0.0.1:9"
    )
    assert result.mlflow_error and result.mlflow_run_id is None
    saved = json.loads((result.report_dir / "summary.json").read_text())
    row = [c for c in saved["checks"] if c["name"] == "mlflow recording"]
    assert row and row[0]["status"] == "WARN" and row[0]["subject"] == "http://127.0.0.1:9"
    assert result.html_path.is_file() and result.exit_code == 0
