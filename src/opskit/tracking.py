"""Record runs in MLflow: parameters, key figures, status and the report as artifacts.

Opt-in: ``opskit run ... --mlflow [URI]``, or ``OPSKIT_MLFLOW_URI`` in the environment. Without a
URI the store is ``sqlite:///<reports>/mlflow.db`` beside the reports. Any tracking server works
by its URI. Each runbook has its own experiment, ``opskit/<runbook>``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opskit.errors import MissingDependencyError

ENV_URI = "OPSKIT_MLFLOW_URI"
DEFAULT = "default"
TIMEOUT_S = 5
"""Seconds one HTTP request to a tracking server may take; with one retry a dead server fails fast."""
MAX_RETRIES = 1
MODEL_PARAMETERS = {
    "model_name": "opskit.model_name",
    "model": "opskit.model_name",
    "model_version": "opskit.model_version",
}
"""Runbook parameters that name a model: recorded as tags, so runs can be found per model version."""


@contextmanager
def short_http_timeouts(timeout_s: int = TIMEOUT_S, max_retries: int = MAX_RETRIES):
    """Set MLflow's HTTP timeout and retries for the block only (MLflow's defaults retry for minutes)."""
    names = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout_s),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(max_retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({k: v for k, v in names.items() if saved[k] is None})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def resolve_uri(value: str | None, reports_dir: str | os.PathLike[str]) -> str | None:
    """The tracking URI to use: ``value``, else ``$OPSKIT_MLFLOW_URI``; ``default`` is the local SQLite store."""
    value = value or os.environ.get(ENV_URI) or None
    if value == DEFAULT:
        return f"sqlite:///{(Path(reports_dir).resolve() / 'mlflow.db').as_posix()}"
    return value


def _artifact_location(uri: str) -> str | None:
    """Artifacts of a local SQLite store go beside its database file, not into the current folder."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return None


def _flatten(figures: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, int | float):  # bool is an int
            out[name] = float(value)
        elif isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
    return out


def _metric_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in name)[:250]


def record_run(summary: Mapping[str, Any], report_dir: Path, uri: str) -> str:
    """Log one finished run to MLflow at ``uri``; returns the MLflow run id.

    HTTP requests get ``TIMEOUT_S`` seconds and ``MAX_RETRIES`` retry unless the environment sets
    ``MLFLOW_HTTP_REQUEST_TIMEOUT``/``MLFLOW_HTTP_REQUEST_MAX_RETRIES``: a dead server costs seconds.
    """
    with short_http_timeouts():
        return _record_run(summary, report_dir, uri)


def _record_run(summary: Mapping[str, Any], report_dir: Path, uri: str) -> str:
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError("mlflow", extra="mlflow", feature="recording runs") from exc

    client = mlflow.MlflowClient(tracking_uri=uri)
    name = f"opskit/{summary['runbook']}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(name, artifact_location=_artifact_location(uri))
    )
    counts: dict[str, int] = {}
    for c in summary.get("checks", []):
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    tags = {
        "opskit.runbook": summary["runbook"],
        "opskit.status": summary["status"],
        "opskit.version": summary.get("opskit_version", ""),
        "opskit.report_dir": str(report_dir),
        "opskit.started_at": summary.get("started_at", ""),
    }
    for key, tag in MODEL_PARAMETERS.items():
        value = (summary.get("parameters") or {}).get(key)
        if value not in (None, "") and tag not in tags:
            tags[tag] = str(value)[:5000]
    if summary.get("label"):
        tags["opskit.label"] = summary["label"]
    if summary.get("error"):
        tags["opskit.error"] = f"{summary['error'].get('ename')}: {summary['error'].get('evalue')}"[:5000]
    run = client.create_run(experiment_id, run_name=report_dir.name, tags=tags)
    run_id = run.info.run_id
    try:
        for key, value in (summary.get("parameters") or {}).items():
            client.log_param(run_id, key, str(value)[:6000])
        metrics = _flatten(summary.get("figures") or {})
        metrics.update({f"checks_{s.lower()}": float(n) for s, n in counts.items()})
        metrics["duration_s"] = float(summary.get("duration_s") or 0.0)
        for key, value in metrics.items():
            client.log_metric(run_id, _metric_name(key), value)
        for path in sorted(report_dir.iterdir()):
            if path.is_file():
                client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, status="FAILED" if summary.get("error") else "FINISHED")
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    return run_id
