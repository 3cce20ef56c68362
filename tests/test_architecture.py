"""The layers keep their import rules and their modules stay small (see ARCHITECTURE.md).

The import graph is read with ``ast`` from every module of ``src/opskit``, imports inside functions
and under ``TYPE_CHECKING`` included, so a rule cannot be dodged by importing late.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "opskit"
MAX_LINES = 400
# what analyses and sources may never import: the engine, the user interface and the runbook layer
UPPER_LAYERS = (
    "opskit.runbooks",
    "opskit.runner",
    "opskit.cli",
    "opskit.commands",
    "opskit.plots",
    "opskit.report",
    "opskit.widgets",
    "opskit.catalog",
    "opskit.kernel",
    "opskit.tracking",
    "opskit.monitoring",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The opskit modules ``name`` imports: ``from a import b`` means ``a.b`` when that is a module."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin for a in node.names]
        else:
            continue
        found.update(t for t in targets if t.split(".")[0] == "opskit" and t != name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def area_of(name: str) -> str | None:
    """``drift`` for ``opskit.analyses.drift.bins``, ``system`` for ``opskit.analyses.system``."""
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "analyses" else None


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_every_import_resolves_to_a_module():
    unknown = {(m, t) for m, ts in GRAPH.items() for t in ts if t not in MODULES}
    assert not unknown


def test_no_import_cycles():
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(GRAPH.get(node, ())):
            if state.get(dep) == "open":
                cycles.append([*stack[stack.index(dep) :], dep] if dep in stack else [node, dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_areas_do_not_import_each_other():
    crossing = sorted(
        (m, t) for m, ts in GRAPH.items() for t in ts if area_of(m) and area_of(t) and area_of(m) != area_of(t)
    )
    assert not crossing, "an area imports another area; compose them in opskit.runbooks instead"


def test_analyses_and_sources_never_import_the_layers_above():
    upward = sorted(
        (m, t)
        for m, ts in GRAPH.items()
        for t in ts
        if under(m, "opskit.analyses", "opskit.sources") and under(t, *UPPER_LAYERS)
    )
    assert not upward


def test_sources_never_import_analyses():
    assert not sorted(
        (m, t) for m, ts in GRAPH.items() for t in ts if under(m, "opskit.sources") and under(t, "opskit.analyses")
    )


@pytest.mark.parametrize("name", sorted(MODULES), ids=str)
def test_module_is_small(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {lines} lines: split it by concern"


def test_rules_catch_a_violation(tmp_path):
    """The walker sees imports inside functions and under TYPE_CHECKING."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from opskit.runner import run_runbook\n"
        "def f():\n    from opskit.analyses import system\n"
    )
    path = PACKAGE / "sources" / "logs.py"
    name = module_name(path)
    original = MODULES[name]
    probe = tmp_path / "logs.py"
    probe.write_text(source)
    MODULES[name] = probe
    try:
        found = imports_of(name)
    finally:
        MODULES[name] = original
    assert {"opskit.runner", "opskit.analyses.system"} <= found


def test_architecture_map_lists_every_area_and_its_runbooks():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text.split("<!-- areas:start -->", 1)[1].split("<!-- areas:end -->", 1)[0]
    rows = [r.split("|")[1:-1] for r in table.strip().splitlines()[2:]]
    listed = {cells[0].strip().strip("`") for cells in rows}
    areas = {area_of(m) for m in MODULES if area_of(m) and area_of(m) != "__init__"}
    assert listed == areas, "ARCHITECTURE.md's table of areas and src/opskit/analyses/ differ"
    runbooks = {p.stem for p in (ROOT / "runbooks").glob("*.ipynb")}
    for cells in rows:
        named = {n for n in cells[2].replace("`", "").replace(",", " ").split() if "_" in n}
        assert named <= runbooks, f"ARCHITECTURE.md names runbooks that do not exist: {named - runbooks}"
