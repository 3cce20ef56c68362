"""The routing file: alert name and label matchers -> runbook and parameters templated from labels.

Alert text is data: a template is ``{label}`` substitution only (no expressions), every parameter must
be one the runbook declares and is converted by the runbook's own parameter types, and a parameter
named in ``paths`` must resolve inside one of the ``allowed_roots`` (``sample:`` names always pass).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opskit.catalog import get_runbook
from opskit.errors import InputError, OpskitError
from opskit.parameters import validate_parameters

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SAFE_VALUE = re.compile(r"^[\w .:/@+=,-]*$")  # label values allowed into a parameter


class RouteRefused(OpskitError):
    """An alert whose labels would give an invalid parameter or a path outside the allowed roots."""


@dataclass(frozen=True)
class Route:
    alert: str
    match: dict[str, str]
    runbook: str
    params: dict[str, Any]
    paths: tuple[str, ...]
    line: int

    def matches(self, labels: dict[str, str]) -> bool:
        if self.alert not in ("*", labels.get("alertname")):
            return False
        return all(labels.get(k) == v for k, v in self.match.items())


@dataclass(frozen=True)
class Routing:
    routes: tuple[Route, ...]
    allowed_roots: tuple[Path, ...]
    path: str
    base: Path  # relative paths in parameters are read from here (the routing file's folder)

    def route(self, labels: dict[str, str]) -> Route | None:
        return next((r for r in self.routes if r.matches(labels)), None)

    def parameters(self, route: Route, labels: dict[str, str]) -> dict[str, Any]:
        """The parameters for ``labels``, validated; raises RouteRefused naming the parameter."""
        values: dict[str, Any] = {}
        for name, template in route.params.items():
            values[name] = _render(template, labels, name) if isinstance(template, str) else template
        for name in route.paths:
            value = values.get(name)
            if isinstance(value, str) and not value.startswith("sample:"):
                values[name] = str(self._confine(name, value))
        try:
            return validate_parameters(get_runbook(route.runbook).parameters, values, runbook=route.runbook)
        except OpskitError as exc:
            raise RouteRefused(f"alert refused: {exc}", hint="check the alert's labels and the routing file") from exc

    def _confine(self, name: str, value: str) -> Path:
        resolved = (self.base / value).resolve()  # an absolute value stays absolute
        if not any(resolved == root or root in resolved.parents for root in self.allowed_roots):
            raise RouteRefused(
                f"alert refused: parameter {name!r} = {value!r} is outside the allowed roots",
                hint="allowed: " + ", ".join(str(r) for r in self.allowed_roots),
            )
        return resolved


def _render(template: str, labels: dict[str, str], name: str) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in labels:
            raise RouteRefused(f"alert refused: parameter {name!r} needs label {key!r}, which the alert lacks")
        value = str(labels[key])
        if not _SAFE_VALUE.match(value) or ".." in value.split("/"):
            raise RouteRefused(f"alert refused: label {key!r} has characters not allowed in {name!r}: {value!r}")
        return value

    return _FIELD.sub(sub, template)


def _route_lines(text: str) -> list[dict[str, int]]:
    """Per route: the line of each of its keys and of each parameter (``param:<name>``), from the YAML nodes."""
    root = yaml.compose(text)
    routes = next((v for k, v in root.value if k.value == "routes"), None) if root else None
    out = []
    for item in getattr(routes, "value", []):
        lines = {"": item.start_mark.line + 1}
        for key, value in item.value if isinstance(item, yaml.MappingNode) else []:
            lines[key.value] = key.start_mark.line + 1
            if key.value == "params" and isinstance(value, yaml.MappingNode):
                lines.update({f"param:{k.value}": k.start_mark.line + 1 for k, _ in value.value})
        out.append(lines)
    return out


def load_routing(path: str | Path, *, base: str | Path | None = None) -> Routing:
    """Read and check the routing file: unknown runbooks or parameters are refused with file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read routing file: {exc}", path=str(p)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("routes"), list):
        raise InputError(
            "routing file needs a 'routes:' list", path=str(p), line=1, hint="see examples/opskit-serve.yaml"
        )
    root_base = Path(base) if base else p.parent
    roots = tuple((root_base / r).resolve() for r in data.get("allowed_roots", ["."]))
    routes = []
    lines = _route_lines(text)
    for i, item in enumerate(data["routes"]):
        at = lines[i]
        if not isinstance(item, dict) or "runbook" not in item:
            raise InputError(f"route {i + 1} needs 'runbook'", path=str(p), line=at[""])
        name = str(item["runbook"])
        line = at.get("runbook", at[""])
        try:
            declared = {x.name for x in get_runbook(name).parameters}
        except OpskitError as exc:
            raise InputError(f"unknown runbook {name!r}", path=str(p), line=line, hint=exc.hint) from exc
        params = dict(item.get("params") or {})
        for key in params:
            if key not in declared:
                raise InputError(
                    f"runbook {name!r} has no parameter {key!r}",
                    path=str(p),
                    line=at.get(f"param:{key}", line),
                    hint="its parameters: " + ", ".join(sorted(declared)),
                )
        paths = tuple(item.get("paths") or ())
        routes.append(Route(str(item.get("alert", "*")), dict(item.get("match") or {}), name, params, paths, line))
    return Routing(tuple(routes), roots, str(p), root_base.resolve())
