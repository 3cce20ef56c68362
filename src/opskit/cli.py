"""``opskit``: list, describe and run runbooks; write sample data; area commands from opskit.commands."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from opskit import __version__
from opskit.errors import OpskitError


def _list(args: argparse.Namespace) -> int:
    from opskit.catalog import find_runbooks

    books = find_runbooks()
    if args.json:
        print(json.dumps([{"name": b.name, "purpose": b.purpose, "path": str(b.path)} for b in books.values()]))
        return 0
    if not books:
        print("no runbooks found (looked in $OPSKIT_RUNBOOKS, ./runbooks and the package's runbooks/)")
        return 0
    width = max(len(n) for n in books)
    for name, book in books.items():
        print(f"{name:<{width}}  {book.purpose}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    from opskit.commands.describe import describe

    return describe(args)


class _ProgressPrinter:
    """A progress bar per cell on a terminal, plain lines otherwise (CI, cron logs)."""

    def __init__(self, name: str, stream=sys.stderr):
        self.name, self.stream = name, stream
        self.bar = None
        if stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=name, unit="cell", file=stream, leave=False)

    def __call__(self, index: int, total: int, state: str, seconds: float) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(1)
        else:
            print(f"{self.name}: cell {index}/{total} {state} ({seconds:.1f} s)", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _run(args: argparse.Namespace) -> int:
    from opskit.catalog import get_runbook
    from opskit.parameters import load_parameter_file
    from opskit.runner import run_runbook

    params: dict = {}
    for path in args.file or []:
        params.update(load_parameter_file(path))
    for key, value in args.param or []:
        params[key] = value
    book = get_runbook(args.name)
    incident = None
    if args.incident:
        from opskit.errors import InputError
        from opskit.incidents import incident_dir

        incident = incident_dir(args.incidents_root, args.incident)
        if not incident.is_dir():
            raise InputError("no such incident", path=incident, hint=f"opskit incident new {args.incident}")
    progress = _ProgressPrinter(book.name)
    try:
        result = run_runbook(
            book,
            params,
            reports_dir=args.out,
            label=args.label,
            fail_on=args.fail_on,
            show_code=args.show_code,
            progress=progress,
            timeout_s=args.timeout,
            mlflow_uri=args.mlflow,
            masking=not args.no_masking,
        )
    finally:
        progress.close()
    s = result.summary
    counts: dict[str, int] = {}
    for c in s["checks"]:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    print(
        f"{book.name}: {s['status']} ({', '.join(f'{n} {k}' for k, n in counts.items()) or 'no checks'}) "
        f"in {s['duration_s']:.1f} s"
    )
    if s.get("error"):
        err = s["error"]
        print(f"error: cell {err.get('execution_count')} raised {err.get('ename')}: {err.get('evalue')}")
    for status in ("ERROR", "FAIL"):  # what could not be judged first: it is why the exit code is 2
        for c in (c for c in s["checks"] if c["status"] == status):
            subject = f" [{c['subject']}]" if c.get("subject") else ""
            print(f"  {c['status']:<5} {c['name']}{subject}: {_observed_vs_threshold(c)}")
    if result.mlflow_error:
        print(f"warning: the run was not recorded in MLflow: {result.mlflow_error}", file=sys.stderr)
    if result.mlflow_run_id:
        print(f"mlflow: run {result.mlflow_run_id} in experiment opskit/{book.name}")
    if incident is not None:
        from opskit.incidents import attach_report

        print(f"incident: filed as {attach_report(incident, result.report_dir)}")
    if args.metrics_textfile or args.pushgateway:
        from opskit.monitoring.metrics import publish_summary_metrics

        try:  # the report stands on its own, as with MLflow
            for where in publish_summary_metrics(s, textfile=args.metrics_textfile, pushgateway=args.pushgateway):
                print(f"metrics: {where}")
        except (OSError, OpskitError) as exc:
            print(f"warning: metrics not published: {exc}", file=sys.stderr)
    print(f"report: {result.html_path}")
    print(result.report_dir)
    return result.exit_code


def _observed_vs_threshold(check: dict) -> str:
    """``observed 412 ms > threshold 300 ms: message`` where the row has them, else its message."""
    unit = f" {check['unit']}" if check.get("unit") else ""
    parts = []
    for key in ("observed", "threshold"):
        value = check.get(key)
        if value is not None:  # a number gets its unit; a text threshold ("<= 30 %") carries its own
            parts.append(f"{key} {value}{unit if isinstance(value, int | float) else ''}")
    message = check.get("message") or check.get("next_step") or ""
    return "; ".join([*parts, message] if message else parts)


def _samples(args: argparse.Namespace) -> int:
    from opskit import samples

    known = samples.scenarios()
    if args.list or args.dir is None:
        for sc in known.values():
            print(f"{sc.name:<32} {sc.description}")
        return 0
    names = args.names or list(known)
    for name in names:
        main = samples.write(name, Path(args.dir))
        print(f"{name}: {main}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opskit", description="Runbooks and analyses for AI operations.")
    parser.add_argument("--version", action="version", version=f"opskit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="runbooks with a one-line purpose")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_list)

    p = sub.add_parser("describe", help="a runbook's parameters: name, type, default, help")
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_describe)

    p = sub.add_parser("run", help="execute a runbook headless and write its report")
    p.add_argument("name", help="runbook name (see opskit list) or path to a notebook")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"), help="a parameter")
    p.add_argument("-f", "--file", action="append", metavar="PARAMS.yaml", help="parameters from a YAML file")
    p.add_argument("--label", help="appended to the report folder name")
    p.add_argument(
        "--fail-on",
        choices=["fail", "warn", "never"],
        default="fail",
        help="exit 1 when the worst status reaches this level (default: fail)",
    )
    p.add_argument("--show-code", action="store_true", help="show code cells in the HTML report")
    p.add_argument("--out", default="reports", help="reports folder (default: ./reports)")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell")
    p.add_argument(
        "--mlflow",
        nargs="?",
        const="default",
        metavar="URI",
        help="record the run in MLflow (default store: sqlite:///REPORTS/mlflow.db; or $OPSKIT_MLFLOW_URI)",
    )
    p.add_argument("--incident", metavar="ID", help="also file the report under incidents/ID/reports/")
    p.add_argument(
        "--incidents-root", default="incidents", metavar="DIR", help="incident folders (default: ./incidents)"
    )
    p.add_argument(
        "--metrics-textfile",
        metavar="PATH",
        help="write the run's figures and status as Prometheus metrics (textfile collector: a folder or .prom file)",
    )
    p.add_argument("--pushgateway", metavar="URL", help="push the run's metrics to this Pushgateway")
    p.add_argument(
        "--no-masking",
        action="store_true",
        help="show PII and secrets in clear; the report's header says so (keep such a report private)",
    )
    p.set_defaults(func=_run)

    p = sub.add_parser("samples", help="write the bundled sample data sets")
    p.add_argument("dir", nargs="?", help="folder to write into (omit to list the scenarios)")
    p.add_argument("names", nargs="*", help="scenarios to write (default: all)")
    p.add_argument("--list", action="store_true", help="list the scenarios")
    p.set_defaults(func=_samples)

    from opskit.commands import register_all

    register_all(sub)
    return parser


_SIGNALLED: list[int] = []


def _terminate(signum, frame):  # SIGTERM from a scheduler: clean up like Ctrl-C, exit 128 + 15
    if _SIGNALLED:  # already stopping: a repeated signal must not cut the clean-up short
        return
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt


def _stopping() -> None:
    """From here on the exit code is decided: later SIGINT/SIGTERM (a repeat, or one a dying kernel's clean-up
    sends to the process group) are ignored, so the interpreter exits with it instead of dying of the signal."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    # the executor's cell task, cut off mid-cell, is collected at exit and asyncio would log its DeadKernelError
    # with a traceback ("Task exception was never retrieved") after the one line that says what happened
    logging.getLogger("asyncio").disabled = True


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args = build_parser().parse_args(argv)  # inside: a signal may come while the commands import
        return int(args.func(args) or 0)
    except OpskitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        _stopping()
        written = getattr(exc, "report_dir", None)  # runner.InterruptedAfterPublish
        if written:
            print(f"interrupted after the report was written: {written}", file=sys.stderr)
        else:
            print("interrupted: no report was written (earlier reports are untouched)", file=sys.stderr)
        return 128 + (_SIGNALLED[-1] if _SIGNALLED else signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
