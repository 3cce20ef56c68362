"""The engine end to end on fixture notebooks: real papermill, real kernel, real nbconvert."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from opskit.errors import ParameterError
from opskit.runner import exit_code_for, run_runbook


def test_passing_runbook_writes_a_complete_report(tmp_path, runbook_fixture):
    result = run_runbook(runbook_fixture("passing"), {"value": "7", "label": "gpu0"}, reports_dir=tmp_path)
    assert result.exit_code == 1  # FAIL reaches the default --fail-on
    assert sorted(p.name for p in result.report_dir.iterdir()) == ["passing.html", "passing.ipynb", "summary.json"]
    summary = json.loads((result.report_dir / "summary.json").read_text())
    assert summary == result.summary
    assert summary["status"] == "FAIL" and summary["error"] is None
    assert summary["parameters"]["value"] == 7.0 and summary["parameters"]["threshold"] == 5.0
    check = result.checks("value under threshold")[0]
    assert check["subject"] == "gpu0" and check["observed"] == 7.0 and check["threshold"] == 5.0
    assert summary["figures"] == {"value": 7.0, "retries": 2, "names": ["a", "b"]}
    assert set(summary) >= {"runbook", "opskit_version", "started_at", "finished_at", "duration_s", "checks"}
    html = result.html_path.read_text()
    assert "Passing fixture" in html and "opskit-verdict" in html
    assert "judge" not in html and "jp-InputArea-editor" not in html.split("</style>")[-1]  # code hidden
    umask = os.umask(0)
    os.umask(umask)
    for path in result.report_dir.iterdir():  # permissions like any other new file (a web server may serve them)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path.name
    index = (tmp_path / "index.html").read_text()
    assert "passing" in index and "FAIL" in index


def test_fail_on_levels():
    assert exit_code_for({"status": "WARN"}, "fail") == 0
    assert exit_code_for({"status": "WARN"}, "warn") == 1
    assert exit_code_for({"status": "ERROR"}, "fail") == 2  # a check could not be evaluated
    assert exit_code_for({"status": "ERROR"}, "never") == 2
    assert exit_code_for({"status": "FAIL"}, "never") == 0
    assert exit_code_for({"status": "PASS", "error": {"ename": "X"}}, "never") == 2


def test_show_code_keeps_the_code(tmp_path, runbook_fixture):
    result = run_runbook(runbook_fixture("passing"), reports_dir=tmp_path, show_code=True, label="with code")
    assert "judge" in result.html_path.read_text()
    assert result.report_dir.name.endswith("-with-code")
    assert result.exit_code == 0 and result.status.value == "PASS"


def test_a_check_that_raises_is_an_error_row_and_the_rest_still_run(tmp_path, runbook_fixture):
    result = run_runbook(runbook_fixture("check_raises"), reports_dir=tmp_path)
    names = [(c["name"], c["status"]) for c in result.summary["checks"]]
    assert names == [("loads data", "ERROR"), ("still runs", "PASS")]
    assert "latency_ms" in result.summary["checks"][0]["message"]
    assert result.summary["error"] is None and result.exit_code == 2


def test_failing_cell_still_renders_with_the_failure_first(tmp_path, runbook_fixture):
    result = run_runbook(runbook_fixture("failing_cell"), reports_dir=tmp_path)
    assert result.exit_code == 2 and result.summary["status"] == "ERROR"
    error = result.summary["error"]
    assert error["ename"] == "FileNotFoundError" and "nowhere.csv" in error["evalue"]
    nb = nbformat.read(result.notebook_path, as_version=4)
    failing = [c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failing) == 1 and "raise FileNotFoundError" in failing[0].source
    assert any(c.get("id") == "papermill-error-cell" or "papermill-error-cell" in c.source for c in nb.cells)
    html = result.html_path.read_text()
    first = html.index("This run did not complete")
    assert "FileNotFoundError" in html[first : first + 400]
    assert first < html.index("Failing cell fixture", first)
    lead = result.summary["checks"][0]  # a reader of checks sees why the run stopped, without parsing "error"
    assert (lead["name"], lead["status"]) == ("run completed", "ERROR")
    assert lead["observed"].startswith("FileNotFoundError: ") and "nowhere.csv" in lead["observed"]
    verdict = html.index('class="opskit-verdict"')  # the page leads with a verdict table built from the summary
    assert first < verdict < html.index("Failing cell fixture", first)
    assert "run completed" in html[verdict : verdict + 3000]


def test_runbook_without_summary_is_an_error(tmp_path, runbook_fixture):
    result = run_runbook(runbook_fixture("no_summary"), reports_dir=tmp_path)
    assert result.exit_code == 2 and result.summary["error"]["ename"] == "NoSummary"
    assert result.summary["checks"][0]["observed"].startswith("NoSummary: the runbook finished without")


def test_bad_parameter_executes_nothing(tmp_path, runbook_fixture):
    marker = tmp_path / "ran"
    with pytest.raises(ParameterError):
        run_runbook(runbook_fixture("marker"), {"markr": str(marker)}, reports_dir=tmp_path / "r")
    assert not marker.exists() and not (tmp_path / "r").exists()


def test_reports_never_overwrite_each_other(tmp_path, runbook_fixture):
    first = run_runbook(runbook_fixture("empty"), reports_dir=tmp_path, label="same")
    before = (first.report_dir / "summary.json").read_text()
    second = run_runbook(runbook_fixture("empty"), reports_dir=tmp_path, label="same")
    assert first.report_dir != second.report_dir
    assert (first.report_dir / "summary.json").read_text() == before
    assert len([p for p in (tmp_path / "empty").iterdir()]) == 2


def _cli(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "opskit", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_runs_in_this_interpreter_whatever_kernelspecs_exist(tmp_path, runbook_fixture):
    # A foreign, broken python3 kernelspec first on the Jupyter path must not matter.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": ["/nonexistent/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Broken",
                "language": "python",
            }
        )
    )
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "JUPYTER_DATA_DIR": str(tmp_path / "jupyter")}
    marker = tmp_path / "marker.txt"
    proc = _cli(
        "run", str(runbook_fixture("marker")), "-p", "marker", str(marker), "--out", str(tmp_path / "r"), env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(marker.read_text()).resolve() == Path(sys.executable).resolve()
    assert proc.stdout.strip().splitlines()[-1].startswith(str(tmp_path / "r" / "marker"))


def test_cli_misspelled_parameter_exits_2_with_suggestion(tmp_path, runbook_fixture):
    proc = _cli("run", str(runbook_fixture("passing")), "-p", "vaule", "3", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "did you mean 'value'" in proc.stderr
    assert not (tmp_path / "passing").exists()


def test_cli_failing_cell_exits_2_and_prints_the_report_last(tmp_path, runbook_fixture):
    proc = _cli("run", str(runbook_fixture("failing_cell")), "--out", str(tmp_path))
    assert proc.returncode == 2
    last = Path(proc.stdout.strip().splitlines()[-1])
    assert last.is_dir() and (last / "failing_cell.html").exists()
    assert "cell 3/" in proc.stderr  # plain progress lines when not a terminal


def test_interrupted_run_leaves_no_partial_report(tmp_path, runbook_fixture):
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opskit",
            "run",
            str(runbook_fixture("slow")),
            "-p",
            "started",
            str(started),
            "--out",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 60
    while not started.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert started.exists(), "the slow runbook never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # 128 + SIGTERM, as schedulers expect
    assert list((tmp_path / "r" / "slow").iterdir()) == []


def test_list_and_describe(runbook_fixture):
    proc = _cli("describe", str(runbook_fixture("required_param")))
    assert proc.returncode == 0
    assert "incident_dir (str, REQUIRED)" in proc.stdout and "required: the incident folder" in proc.stdout
    listed = _cli("list", "--json")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list)


def test_figures_are_inline_whatever_backend_the_environment_names(tmp_path, runbook_fixture, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    result = run_runbook(runbook_fixture("plot"), reports_dir=tmp_path)
    nb = nbformat.read(result.notebook_path, as_version=4)
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert "data:image/png;base64" in result.html_path.read_text()
