"""Runs recorded in a real MLflow tracking store (SQLite), as `opskit run --mlflow` does."""

import pytest

from opskit.runner import run_runbook
from opskit.tracking import resolve_uri

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is installed by `make test`")


def test_default_uri_is_a_sqlite_store_beside_the_reports(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSKIT_MLFLOW_URI", raising=False)
    assert resolve_uri(None, tmp_path) is None
    assert resolve_uri("default", tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("OPSKIT_MLFLOW_URI", "http://127.0.0.1:5000")
    assert resolve_uri(None, tmp_path) == "http://127.0.0.1:5000"


def test_run_is_recorded_with_parameters_figures_status_and_report(tmp_path, runbook_fixture):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = run_runbook(runbook_fixture("passing"), {"value": "9"}, reports_dir=tmp_path / "r", mlflow_uri=uri)
    assert result.mlflow_error is None and result.mlflow_run_id
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(result.mlflow_run_id)
    assert run.data.tags["opskit.status"] == "FAIL" and run.data.tags["opskit.runbook"] == "passing"
    assert run.data.params["value"] == "9.0" and run.data.params["threshold"] == "5.0"
    assert run.data.metrics["value"] == 9.0 and run.data.metrics["checks_fail"] == 1.0
    artifacts = {a.path for a in client.list_artifacts(result.mlflow_run_id)}
    assert artifacts == {"passing.html", "passing.ipynb", "summary.json"}
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "opskit/passing"
    assert (tmp_path / "mlartifacts").is_dir() and not (tmp_path / "r" / "mlruns").exists()


def test_unreachable_store_is_reported_and_the_report_still_stands(tmp_path, runbook_fixture):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    result = run_runbook(runbook_fixture("empty"), reports_dir=tmp_path, mlflow_uri=f"sqlite:///{blocker}/mlflow.db")
    assert result.mlflow_run_id is None and result.mlflow_error
    assert (result.report_dir / "summary.json").exists() and result.exit_code == 0


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_tracking_server_fails_with_a_connection_error_and_env_is_restored(tmp_path, runbook_fixture, monkeypatch):
    import os

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    uri = f"http://127.0.0.1:{_closed_port()}"
    result = run_runbook(runbook_fixture("empty"), reports_dir=tmp_path, mlflow_uri=uri)
    assert result.mlflow_run_id is None
    assert "127.0.0.1" in result.mlflow_error and "retries" in result.mlflow_error.lower()
    assert (result.report_dir / "summary.json").exists() and result.exit_code == 0
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ and "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ


def test_short_timeouts_keep_values_the_user_set(monkeypatch):
    import os

    from opskit.tracking import short_http_timeouts

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    with short_http_timeouts(timeout_s=2, max_retries=0):
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30"
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "30" and "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
