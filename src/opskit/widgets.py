"""ipywidgets forms for JupyterLab: choose a runbook, set its parameters by choosing, run it.

Optional at import: headless runs never need ipywidgets. In a notebook::

    import opskit
    opskit.launcher()

shows the runbook catalogue. Choosing a runbook builds a form from its ``parameters`` cell: drop-downs
for ``Literal`` choices, checked paths for the files it reads, its defaults, help, choices and ranges.
*Run* validates the values with the same rules as ``opskit run``, runs the runbook through
:func:`opskit.runner.run_runbook` with a progress bar, then shows its verdict table and a link to the
full report. Runbooks do not embed forms, so "Run all" in a runbook never stops at one.

``parameter_form(runbook, globals())`` instead sets a notebook's variables from a form.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from opskit.catalog import Runbook, find_runbooks, get_runbook
from opskit.checks import Status
from opskit.errors import MissingDependencyError, OpskitError, ParameterError
from opskit.parameters import Parameter, validate_parameters, value_rules

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # sample:, http://, sqlite:, models:/ are not local paths
_NONE_LABEL = "(none)"


def _widgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - ipywidgets is a core dependency
        raise MissingDependencyError("ipywidgets", feature="parameter forms") from exc
    return ipywidgets


def is_path_parameter(param: Parameter) -> bool:
    """A parameter naming a file or folder to read: its default is bundled ``sample:`` data, or its name ends in
    ``_path``. Its form field is a text box whose value must exist (a URL or ``sample:`` name passes as it is)."""
    default = param.default
    return param.base_type == "str" and (
        (isinstance(default, str) and default.startswith("sample:")) or param.name.endswith("_path")
    )


def check_path(param: Parameter, value: Any, *, runbook: str = "runbook") -> None:
    """Raise ParameterError when ``param`` reads a path and ``value`` is a local path that does not exist."""
    if not is_path_parameter(param) or not isinstance(value, str) or not value.strip() or _SCHEME.match(value):
        return
    if not Path(value).expanduser().exists():
        raise ParameterError(
            f"{runbook}: parameter {param.name!r}: no such file or folder: {value}",
            name=param.name,
            hint=f"check the path; a relative path is read from {os.getcwd()}",
        )


def widget_for(param: Parameter, value: Any, choices: Sequence[Any] | None = None):
    """The widget that fits a parameter: a drop-down for choices, a checkbox for a bool, and so on."""
    w = _widgets()
    common = {"description": param.name, "tooltip": param.help, "style": {"description_width": "160px"}}
    options: list[Any] = list(choices or param.choices)
    if options:
        pairs = [(str(o), o) for o in options]
        if param.optional:
            pairs.insert(0, (_NONE_LABEL, None))
        allowed = [v for _, v in pairs]
        return w.Dropdown(options=pairs, value=value if value in allowed else allowed[0], **common)
    base = param.base_type
    if base == "bool":
        return w.Checkbox(value=bool(value), indent=False, **common)
    if base == "int" and value is not None:
        return w.IntText(value=int(value), **common)
    if base == "float" and value is not None:
        return w.FloatText(value=float(value), **common)
    if base in ("list", "dict"):
        import yaml

        text = yaml.safe_dump(value, default_flow_style=True).strip() if value not in (None, [], {}) else ""
        return w.Text(value=text, placeholder="YAML, e.g. [a, b]" if base == "list" else "{key: value}", **common)
    placeholder = "a file or folder" if is_path_parameter(param) else param.type
    return w.Text(value="" if value is None else str(value), placeholder=placeholder, **common)


def help_label(param: Parameter):
    """The help text under a field, with the choices or range it is checked against."""
    rules = "; ".join(value_rules(param))
    text = html.escape(param.description) + (f" <i>({html.escape(rules)})</i>" if rules else "")
    return _widgets().HTML(f"<span style='color:#555;font-size:90%;margin-left:168px'>{text}</span>")


def read_fields(book: Runbook, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields' values as ``opskit run`` would receive them: empty text is None where None is allowed."""
    raw = {}
    for param in book.parameters:
        value = fields[param.name].value
        if param.base_type in ("list", "dict") and isinstance(value, str):
            value = value or ("[]" if param.base_type == "list" else "{}")
        raw[param.name] = None if value == "" and param.optional else value
    return raw


def validate_fields(book: Runbook, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values checked by :func:`validate_parameters`, then the paths it reads; ParameterError if not."""
    values = validate_parameters(book.parameters, read_fields(book, fields), runbook=book.name)
    for param in book.parameters:
        check_path(param, values.get(param.name), runbook=book.name)
    return values


def _error_html(exc: OpskitError) -> str:
    hint = f"<br>hint: {html.escape(exc.hint)}" if exc.hint else ""
    return f"<span style='color:#c62828'>{html.escape(exc.message)}{hint}</span>"


def parameter_form(
    runbook: str,
    namespace: MutableMapping[str, Any] | None = None,
    *,
    choices: Mapping[str, Sequence[Any]] | None = None,
):
    """A form for ``runbook``'s parameters; *Apply* validates them and writes them into ``namespace``."""
    w = _widgets()
    book = get_runbook(runbook)
    namespace = namespace if namespace is not None else {}
    choices = dict(choices or {})
    fields = {p.name: widget_for(p, namespace.get(p.name, p.default), choices.get(p.name)) for p in book.parameters}
    status = w.HTML()
    button = w.Button(description="Apply", button_style="primary", icon="check")

    def apply(_=None) -> dict[str, Any]:
        try:
            values = validate_fields(book, fields)
        except OpskitError as exc:
            status.value = _error_html(exc)
            return {}
        namespace.update(values)
        status.value = "<span style='color:#2e7d32'>parameters set: run the cells below</span>"
        return values

    button.on_click(apply)
    form = w.VBox([*fields.values(), w.HBox([button, status])])
    form.apply = apply  # for scripts and tests: the same as pressing the button
    form.fields = fields
    return form


def verdict_table_html(checks: Sequence[Mapping[str, Any]]) -> str:
    """A run's checks as an HTML table, worst first, each row with observed against threshold and the next step."""
    if not checks:
        return "<p>The runbook published no checks.</p>"

    def severity(check: Mapping[str, Any]) -> int:
        try:
            return Status(check.get("status")).severity
        except ValueError:
            return 5

    def with_unit(check: Mapping[str, Any], key: str) -> str:
        value = check.get(key)
        if value is None:
            return "—"
        unit = check.get("unit")
        return f"{value} {unit}" if unit and isinstance(value, int | float) else str(value)

    head = "".join(f"<th>{h}</th>" for h in ("status", "check", "subject", "observed", "threshold", "next step"))
    rows = []
    for check in sorted(checks, key=severity, reverse=True):
        status = str(check.get("status"))
        try:
            colour = Status(status).colour
        except ValueError:
            colour = "#000"
        cells = [check.get("name"), check.get("subject"), with_unit(check, "observed"), with_unit(check, "threshold")]
        cells.append(check.get("next_step") or check.get("message"))
        tds = "".join(f"<td>{html.escape('—' if c is None else str(c))}</td>" for c in cells)
        rows.append(f"<tr><td style='color:{colour};font-weight:bold'>{html.escape(status)}</td>{tds}</tr>")
    return f"<table class='opskit-verdicts'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


class Launcher:
    """The catalogue, a form for the chosen runbook and its last run; shows itself in a notebook.

    Attributes for scripts and tests: ``catalogue`` (drop-down of runbook names), ``fields`` (name ->
    widget of the chosen runbook), ``run_button``, ``progress``, ``status``, ``verdicts`` (HTML),
    ``report_link`` (HTML) and ``result`` (the last :class:`~opskit.runner.RunResult`, or None).
    """

    def __init__(self, books: Mapping[str, Runbook], *, reports_dir: str | os.PathLike[str] = "reports"):
        if not books:
            raise OpskitError(
                "no runbooks found for the launcher",
                hint="set OPSKIT_RUNBOOKS to a folder of runbooks, or start JupyterLab in the project folder",
            )
        w = _widgets()
        self.books, self.reports_dir = dict(books), reports_dir
        self.catalogue = w.Dropdown(
            options=list(self.books), description="runbook", style={"description_width": "160px"}
        )
        self.purpose = w.HTML()
        self.form = w.VBox()
        self.fields: dict[str, Any] = {}
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="cells", layout={"visibility": "hidden"})
        self.status, self.verdicts, self.report_link = w.HTML(), w.HTML(), w.HTML()
        self.result = None
        self.box = w.VBox(
            [
                self.catalogue,
                self.purpose,
                self.form,
                w.HBox([self.run_button, self.progress]),
                self.status,
                self.report_link,
                self.verdicts,
            ]
        )
        self.catalogue.observe(lambda change: self.choose(change["new"]), names="value")
        self.run_button.on_click(lambda _: self.run())
        self.choose(self.catalogue.value)

    @property
    def book(self) -> Runbook:
        return self.books[self.catalogue.value]

    def choose(self, name: str) -> None:
        """Build the form for runbook ``name`` from its parameters cell (defaults filled in)."""
        w = _widgets()
        if self.catalogue.value != name:
            self.catalogue.value = name  # observed: comes back here with the value set
            return
        book = self.books[name]
        self.purpose.value = f"<p><b>{html.escape(book.title)}</b>: {html.escape(book.purpose)}</p>"
        try:
            parameters = book.parameters
        except OpskitError as exc:  # a runbook whose parameters cell cannot be read
            self.fields, self.form.children = {}, ()
            self.status.value, self.run_button.disabled = _error_html(exc), True
            return
        self.fields = {p.name: widget_for(p, p.default) for p in parameters}
        self.form.children = [w.VBox([self.fields[p.name], help_label(p)]) for p in parameters]
        self.status.value = self.verdicts.value = self.report_link.value = ""
        self.run_button.disabled = False

    def _on_progress(self, index: int, total: int, state: str, seconds: float) -> None:
        self.progress.max = max(total, 1)
        self.progress.value = min(index, self.progress.max)
        if state != "ok":
            self.progress.bar_style = "danger"

    def run(self):
        """Validate the form and run the chosen runbook; the same as pressing *Run*. Returns the RunResult or None."""
        from opskit.runner import run_runbook

        book = self.book
        self.verdicts.value = self.report_link.value = ""
        try:
            values = validate_fields(book, self.fields)
        except OpskitError as exc:
            self.status.value = _error_html(exc)
            return None
        self.progress.value, self.progress.bar_style = 0, ""
        self.progress.layout.visibility = "visible"
        self.status.value = f"running {html.escape(book.name)} ..."
        self.run_button.disabled = True
        try:
            self.result = run_runbook(book, values, reports_dir=self.reports_dir, progress=self._on_progress)
        except OpskitError as exc:
            self.status.value = _error_html(exc)
            return None
        finally:
            self.run_button.disabled = False
        summary = self.result.summary
        error = summary.get("error")
        said = (
            f": cell {error.get('execution_count')} raised {error.get('ename')}: {error.get('evalue')}" if error else ""
        )
        self.status.value = f"<b>{html.escape(book.name)}: {html.escape(summary['status'])}</b>{html.escape(said)}"
        self.verdicts.value = verdict_table_html(summary.get("checks", []))
        path = self.result.html_path
        try:
            href = os.path.relpath(path)
        except ValueError:  # another drive
            href = path.as_uri()
        self.report_link.value = (
            f"<a href='{html.escape(href)}' target='_blank'>open the full report</a> "
            f"<code>{html.escape(str(path))}</code>"
        )
        return self.result

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)


def launcher(
    *, reports_dir: str | os.PathLike[str] = "reports", runbooks: Mapping[str, Runbook] | None = None
) -> Launcher:
    """The runbook catalogue with a form for the chosen one; *Run* writes its report under ``reports_dir``.

    ``runbooks`` defaults to every runbook found (``$OPSKIT_RUNBOOKS``, ``./runbooks``, the package's).
    """
    return Launcher(find_runbooks() if runbooks is None else runbooks, reports_dir=reports_dir)
