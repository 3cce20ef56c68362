"""Run a runbook headless: validate parameters, execute with papermill, write the report.

The kernel is always the interpreter running opskit (see :mod:`opskit.kernel`). Parameters are
checked before anything executes. The report folder appears in one rename when it is complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from opskit import __version__
from opskit.catalog import Runbook, get_runbook
from opskit.checks import REPORT_DIR_ENV, Status, Verdict
from opskit.errors import OpskitError
from opskit.kernel import KERNEL_NAME, InterpreterKernelManager
from opskit.parameters import validate_parameters
from opskit.privacy import MASKING_ENV
from opskit.privacy.notebook import final_pass
from opskit.report import (
    STAGING_PREFIX,
    extract_summary,
    find_error,
    iso,
    ordered_headline,
    render_html,
    utc_stamp,
    write_atomic,
    write_index,
)
from opskit.report_folders import prepare, remove_stale_staging, writing
from opskit.tracking import record_run, resolve_uri


class _KnownParametersFilter(logging.Filter):
    """papermill cannot read ``str | None`` annotations or trailing help comments: it warns that
    such parameters are unknown or that their line cannot be parsed. opskit has already parsed the
    cell and validated every parameter, so both warnings are noise in cron logs."""

    NOISE = ("Passed unknown parameter", "Unable to parse line")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOISE)


for _name in ("papermill", "papermill.execute", "papermill.translators"):  # filters do not inherit
    logging.getLogger(_name).addFilter(_KnownParametersFilter())

FAIL_ON = {"fail": Status.FAIL, "warn": Status.WARN, "never": None}


@dataclass(frozen=True)
class RunResult:
    """What a run left: its report folder, its summary and the exit code it implies."""

    runbook: str
    report_dir: Path
    summary: dict[str, Any]
    exit_code: int
    mlflow_run_id: str | None = None
    mlflow_error: str | None = None

    @property
    def status(self) -> Status:
        return Status(self.summary["status"])

    @property
    def notebook_path(self) -> Path:
        return self.report_dir / f"{self.runbook}.ipynb"

    @property
    def html_path(self) -> Path:
        return self.report_dir / f"{self.runbook}.html"

    def checks(self, name: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
        """Checks from the summary, filtered by name and/or subject."""
        return [
            c
            for c in self.summary.get("checks", [])
            if (name is None or c["name"] == name) and (subject is None or c.get("subject") == subject)
        ]


Progress = Callable[[int, int, str, float], None]  # (index, total, state, seconds)


class InterruptedAfterPublish(KeyboardInterrupt):
    """Ctrl-C or SIGTERM after the report was published (while recording it elsewhere)."""

    def __init__(self, report_dir: Path):
        super().__init__(str(report_dir))
        self.report_dir = report_dir


def exit_code_for(summary: Mapping[str, Any], fail_on: str) -> int:
    """2 when the run did not complete or any row is ERROR (a check could not be evaluated,
    usually an input that could not be used), whatever else failed; 1 when the worst verdict
    reaches ``fail_on``; else 0."""
    checks = summary.get("checks", [])
    if summary.get("error") or summary.get("status") == Status.ERROR.value:
        return 2
    if any(c.get("status") == Status.ERROR.value for c in checks):
        return 2
    if fail_on not in FAIL_ON:
        raise OpskitError(f"unknown --fail-on {fail_on!r}", hint="use one of: " + ", ".join(FAIL_ON))
    level = FAIL_ON[fail_on]
    return 1 if level is not None and Status(summary["status"]).reaches(level) else 0


def run_runbook(
    runbook: str | os.PathLike[str] | Runbook,
    parameters: Mapping[str, Any] | None = None,
    *,
    reports_dir: str | os.PathLike[str] = "reports",
    label: str | None = None,
    fail_on: str = "fail",
    show_code: bool = False,
    progress: Progress | None = None,
    timeout_s: float | None = None,
    mlflow_uri: str | None = None,
    masking: bool = True,
) -> RunResult:
    """Execute ``runbook`` with ``parameters`` and write its report under ``reports_dir``.

    Raises :class:`~opskit.errors.ParameterError` before executing anything when a parameter is
    unknown, missing or of the wrong type. A failing cell does not raise: the report is written
    with the error and the result's exit code is 2. With ``mlflow_uri`` (or ``$OPSKIT_MLFLOW_URI``)
    the finished run is also recorded in MLflow (see :mod:`opskit.tracking`). ``masking=False``
    (``opskit run --no-masking``) is the only way to a report with PII and secrets in clear: the
    kernel's policy is off and the report's header says so; otherwise every text output and the
    summary go through the policy once more before the HTML is rendered.
    """
    rb = runbook if isinstance(runbook, Runbook) else get_runbook(runbook)
    if fail_on not in FAIL_ON:
        raise OpskitError(f"unknown fail-on level {fail_on!r}", hint="use one of: " + ", ".join(FAIL_ON))
    values = validate_parameters(rb.parameters, dict(parameters or {}), runbook=rb.name)
    label_part = _safe_label(label)

    reports = Path(reports_dir).absolute()
    parent = reports / rb.name
    prepare(parent)
    started = datetime.now(UTC)
    remove_stale_staging(parent, utc_stamp(started))
    with writing(parent):  # unique even for two runs of one process in the same second
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{utc_stamp(started)}-{os.getpid()}-", dir=parent))
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes 0700; a report folder is as readable as any
    t0 = time.perf_counter()
    try:
        nb, error = _execute(rb, values, staging, progress, timeout_s, masking)
        duration = time.perf_counter() - t0
        summary = final_pass(nb, _build_summary(rb, values, nb, error, started, duration, label), enabled=masking)
        with writing(staging):
            write_atomic(staging / f"{rb.name}.ipynb", nbformat.writes(nb))
            write_atomic(staging / f"{rb.name}.html", render_html(nb, summary, rb.title, show_code=show_code))
            write_atomic(staging / "summary.json", _dumps(summary))
            final = _publish(staging, parent, utc_stamp(started) + (f"-{label_part}" if label_part else ""))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        with writing(reports):
            write_index(reports)
        uri = resolve_uri(mlflow_uri, reports)
        mlflow_run = mlflow_error = None
        if uri:
            try:  # the report stands on its own: a tracking failure is reported, not fatal
                mlflow_run = record_run(summary, final, uri)
            except Exception as exc:
                mlflow_error = str(exc) if isinstance(exc, OpskitError) else f"{type(exc).__name__}: {exc}"
                summary = _with_tracking_warning(summary, uri, mlflow_error)
                with writing(final):  # this run's own summary, just published: say it was not recorded
                    write_atomic(final / "summary.json", _dumps(summary))
    except KeyboardInterrupt:
        raise InterruptedAfterPublish(final) from None
    return RunResult(rb.name, final, summary, exit_code_for(summary, fail_on), mlflow_run, mlflow_error)


def _with_tracking_warning(summary: dict[str, Any], uri: str, error: str) -> dict[str, Any]:
    """The summary with a WARN row saying the run is not in MLflow (the report itself is complete)."""
    from opskit.tracking import MAX_RETRIES, TIMEOUT_S

    row = {
        "name": "mlflow recording",
        "subject": uri,
        "status": Status.WARN.value,
        "observed": error,
        "threshold": f"{TIMEOUT_S} s per request, {MAX_RETRIES} retry",
        "unit": None,
        "evidence": None,
        "next_step": "check the tracking server; the report is complete without it",
        "message": "the run was not recorded in MLflow",
    }
    return {**summary, "checks": [*summary.get("checks", []), row]}


def _safe_label(label: str | None) -> str:
    if not label:
        return ""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in label.strip())
    return cleaned.strip("-.")[:60]


def _execute(
    rb: Runbook,
    values: dict[str, Any],
    staging: Path,
    progress: Progress | None,
    timeout_s: float | None,
    masking: bool = True,
) -> tuple[nbformat.NotebookNode, dict[str, Any] | None]:
    output = staging / f"{rb.name}.ipynb"
    total = sum(1 for c in rb.notebook.cells if c.cell_type == "code") + (1 if values else 0)
    state = {"n": 0, "t": time.perf_counter()}

    def on_start(cell, cell_index):  # nbclient hook
        state["t"] = time.perf_counter()

    def on_executed(cell, cell_index, execute_reply):  # nbclient hook
        state["n"] += 1
        ok = execute_reply.get("content", {}).get("status", "ok") == "ok"
        if progress:
            progress(state["n"], total, "ok" if ok else "error", time.perf_counter() - state["t"])

    previous = os.environ.get(REPORT_DIR_ENV)
    previous_masking = os.environ.get(MASKING_ENV)
    os.environ[REPORT_DIR_ENV] = str(staging)
    os.environ[MASKING_ENV] = "on" if masking else "off"  # the kernel inherits it: only this argument counts
    try:
        nb = papermill.execute_notebook(
            str(rb.path),
            str(output),
            parameters=values,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            request_save_on_cell_execute=False,
            cwd=os.getcwd(),
            execution_timeout=timeout_s,
            kernel_manager_class=InterpreterKernelManager,
            on_cell_start=on_start,
            on_cell_executed=on_executed,
        )
        return nb, None
    except PapermillExecutionError as exc:
        nb = nbformat.read(output, as_version=4)
        error = find_error(nb) or {
            "cell": None,
            "execution_count": exc.exec_count,
            "ename": exc.ename,
            "evalue": exc.evalue,
        }
        return nb, error
    except (RuntimeError, TimeoutError, OSError) as exc:  # kernel died, timed out, could not start
        nb = nbformat.read(output, as_version=4) if output.exists() else nbformat.from_dict(rb.notebook)
        return nb, {"cell": None, "execution_count": None, "ename": type(exc).__name__, "evalue": str(exc)}
    finally:
        if previous is None:
            os.environ.pop(REPORT_DIR_ENV, None)
        else:
            os.environ[REPORT_DIR_ENV] = previous
        if previous_masking is None:
            os.environ.pop(MASKING_ENV, None)
        else:
            os.environ[MASKING_ENV] = previous_masking


def _build_summary(
    rb: Runbook,
    values: dict[str, Any],
    nb: nbformat.NotebookNode,
    error: dict[str, Any] | None,
    started: datetime,
    duration: float,
    label: str | None,
) -> dict[str, Any]:
    published = extract_summary(nb)
    if published is None and error is None:
        error = {
            "cell": None,
            "execution_count": None,
            "ename": "NoSummary",
            "evalue": "the runbook finished without calling publish_summary() in its last cell",
        }
    checks = list((published or {}).get("checks", []))
    if error and not any(c.get("status") == Status.ERROR.value for c in checks):
        checks.insert(0, _run_error_row(error))
    parameters = {p.name: p.default for p in rb.parameters}
    parameters.update(values)
    return {
        "runbook": rb.name,
        "status": Status.ERROR.value if error else (published or {}).get("status", Status.SKIP.value),
        "opskit_version": __version__,
        "started_at": iso(started),
        "finished_at": iso(datetime.now(UTC)),
        "duration_s": round(duration, 3),
        "label": label,
        "parameters": parameters,
        "checks": checks,
        "figures": (published or {}).get("figures", {}),
        "headline": ordered_headline(published or {}),
        "masking": (published or {}).get("masking"),
        "error": error,
        "python": sys.executable,
    }


def _run_error_row(error: Mapping[str, Any]) -> dict[str, Any]:
    """The ERROR row of a run that stopped before its verdict: a reader of ``checks`` (the alert receiver, a
    dashboard) sees why without parsing ``error``, and the report's verdict table leads with it."""
    where = f"cell {error['execution_count']}" if error.get("execution_count") else "the runbook"
    return Verdict(
        name="run completed",
        status=Status.ERROR,
        observed=f"{error.get('ename')}: {error.get('evalue')}",
        message=f"{where} raised before the runbook reached its verdict",
        next_step="fix what the message names (a parameter or an input file) and rerun; "
        "the full traceback is in the stored report.ipynb",
    ).to_dict()


def _dumps(summary: Mapping[str, Any]) -> str:
    import json

    return json.dumps(summary, indent=2, ensure_ascii=False, default=str) + "\n"


def _publish(staging: Path, parent: Path, name: str) -> Path:
    """Move the staging folder to ``parent/name`` (``name-2``... if taken), never replacing a report."""
    for attempt in range(1, 1000):
        final = parent / (name if attempt == 1 else f"{name}-{attempt}")
        if final.exists():
            continue
        try:
            os.rename(staging, final)  # fails rather than replace an existing non-empty folder
            return final
        except OSError:
            if final.exists():
                continue
            raise
    raise OpskitError(f"too many reports named {name} in {parent}")
