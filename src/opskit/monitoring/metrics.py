"""A run's ``summary.json`` as Prometheus metrics: a textfile-collector file (atomic) or a Pushgateway.

Series: ``opskit_run_status{runbook}`` and ``opskit_check_status{runbook, check, subject}`` as numbers
(SKIP 0, PASS 1, WARN 2, FAIL 3, ERROR 4), ``opskit_figure{runbook, name}`` for every numeric figure,
``opskit_drift_psi{runbook, feature, model_version}`` and ``opskit_accuracy_change{runbook, model_version}``
from the drift checks, and ``opskit_run_finished_timestamp_seconds{runbook}``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from opskit.analyses.drift.accuracy import CHECK_ACCURACY
from opskit.analyses.drift.features import CHECK_FEATURE, CHECK_PREDICTION
from opskit.errors import InputError

STATUS_VALUE = {"SKIP": 0, "PASS": 1, "WARN": 2, "FAIL": 3, "ERROR": 4}
PSI_CHECKS = (CHECK_FEATURE, CHECK_PREDICTION)
ACCURACY_CHECK = CHECK_ACCURACY


def read_summary(report: str | Path) -> dict[str, Any]:
    """The summary of a report folder (or of a ``summary.json`` path); InputError when unreadable."""
    path = Path(report)
    if path.is_dir():
        path = path / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("no summary.json here", path=str(path), hint="pass a folder written by opskit run") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"summary is not JSON: {exc.msg}", path=str(path), line=exc.lineno, column=exc.colno) from exc
    if not isinstance(summary, dict) or "runbook" not in summary or "status" not in summary:
        raise InputError(
            "summary lacks 'runbook' or 'status'", path=str(path), hint="pass a folder written by opskit run"
        )
    return summary


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def summary_registry(summary: dict[str, Any], *, model_version: str = "") -> CollectorRegistry:
    """A registry holding the metrics of one summary (a fresh registry, so runs never mix)."""
    reg = CollectorRegistry()
    runbook = str(summary["runbook"])
    version = model_version or str((summary.get("parameters") or {}).get("model_version", ""))
    run_status = Gauge("opskit_run_status", "status of the last run (SKIP 0 .. ERROR 4)", ["runbook"], registry=reg)
    run_status.labels(runbook).set(STATUS_VALUE.get(str(summary["status"]).upper(), 4))
    check = Gauge(
        "opskit_check_status", "status of each check (SKIP 0 .. ERROR 4)", ["runbook", "check", "subject"], registry=reg
    )
    psi = Gauge("opskit_drift_psi", "PSI per feature", ["runbook", "feature", "model_version"], registry=reg)
    acc = Gauge(
        "opskit_accuracy_change", "accuracy change against the reference", ["runbook", "model_version"], registry=reg
    )
    seen: set[tuple[str, str]] = set()
    for c in summary.get("checks") or []:
        name, subject = str(c.get("name", "")), str(c.get("subject") or "")
        if (name, subject) in seen:  # one series per check and subject
            continue
        seen.add((name, subject))
        check.labels(runbook, name, subject).set(STATUS_VALUE.get(str(c.get("status", "")).upper(), 4))
        observed = _number(c.get("observed"))
        if observed is None:
            continue
        if name in PSI_CHECKS and str(c.get("unit", "PSI")).upper() == "PSI":
            psi.labels(runbook, subject or name, version).set(observed)
        elif name == ACCURACY_CHECK and subject in ("", "all"):
            acc.labels(runbook, version).set(observed)
    figure = Gauge("opskit_figure", "numeric figures of the last run", ["runbook", "name"], registry=reg)
    for key, value in (summary.get("figures") or {}).items():
        number = _number(value)
        if number is not None:
            figure.labels(runbook, str(key)).set(number)
    finished = summary.get("finished_at")
    if finished:
        when = Gauge("opskit_run_finished_timestamp_seconds", "when the last run finished", ["runbook"], registry=reg)
        when.labels(runbook).set(datetime.fromisoformat(str(finished).replace("Z", "+00:00")).timestamp())
    return reg


def publish_summary_metrics(
    summary: dict[str, Any],
    *,
    textfile: str | Path | None = None,
    pushgateway: str | None = None,
    job: str = "opskit",
) -> list[str]:
    """Write the summary's metrics to ``textfile`` (atomically) and/or push them; return where they went.

    The textfile is meant for node-exporter's textfile collector (``--collector.textfile.directory``);
    one file per runbook (``opskit_<runbook>.prom``) keeps runbooks from overwriting each other.
    On a Pushgateway the grouping key is ``job`` and ``runbook``, so each runbook replaces only its own.
    """
    if textfile is None and pushgateway is None:
        raise InputError("nowhere to publish", hint="pass --textfile PATH or --pushgateway URL")
    reg = summary_registry(summary)
    done = []
    if textfile is not None:
        path = Path(textfile)
        if path.is_dir() or path.suffix != ".prom":  # node-exporter reads only *.prom: anything else is a folder
            path = path / f"opskit_{summary['runbook']}.prom"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), reg)  # writes a temporary file and renames it: atomic
        done.append(str(path))
    if pushgateway is not None:
        push_to_gateway(pushgateway, job=job, registry=reg, grouping_key={"runbook": str(summary["runbook"])})
        done.append(pushgateway)
    return done
