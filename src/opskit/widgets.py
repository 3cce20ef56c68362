"""ipywidgets forms for interactive use: set a runbook's parameters by choosing, not typing.

Optional at import: headless runs never need ipywidgets. In a notebook::

    from opskit.widgets import parameter_form
    parameter_form("report_gpu_cost", globals(), choices={"week": ["2026-W47", "2026-W48"]})

then change the values and press *Apply*; the parameters become variables of the notebook, checked
by the same validation as ``opskit run``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opskit.catalog import get_runbook
from opskit.errors import MissingDependencyError, OpskitError
from opskit.parameters import Parameter, validate_parameters


def _widgets():
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - ipywidgets is a core dependency
        raise MissingDependencyError("ipywidgets", feature="parameter forms") from exc
    return ipywidgets


def widget_for(param: Parameter, value: Any, choices: Sequence[Any] | None = None):
    """The widget that fits a parameter: a dropdown for choices, a checkbox for a bool, and so on."""
    w = _widgets()
    common = {"description": param.name, "tooltip": param.help, "style": {"description_width": "160px"}}
    if choices:
        options = list(choices)
        return w.Dropdown(options=options, value=value if value in options else options[0], **common)
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
    return w.Text(value="" if value is None else str(value), placeholder=param.type, **common)


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
        raw = {}
        for name, field in fields.items():
            value = field.value
            param = next(p for p in book.parameters if p.name == name)
            if param.base_type in ("list", "dict") and isinstance(value, str):
                value = value or ("[]" if param.base_type == "list" else "{}")
            raw[name] = None if value == "" and param.optional else value
        try:
            values = validate_parameters(book.parameters, raw, runbook=book.name)
        except OpskitError as exc:
            status.value = f"<span style='color:#c62828'>{exc}</span>"
            return {}
        namespace.update(values)
        status.value = "<span style='color:#2e7d32'>parameters set: run the cells below</span>"
        return values

    button.on_click(apply)
    form = w.VBox([*fields.values(), w.HBox([button, status])])
    form.apply = apply  # for scripts and tests: the same as pressing the button
    form.fields = fields
    return form
