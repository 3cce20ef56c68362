"""Every runbook keeps the runbook contract, is tested, and is listed in the README."""

import ast
import importlib
import inspect
from pathlib import Path

import nbformat
import pytest

from opskit.catalog import Runbook, catalogue_markdown, find_runbooks, parameters_cell

ROOT = Path(__file__).resolve().parents[1]
RUNBOOKS = sorted((ROOT / "runbooks").glob("*.ipynb"))


def test_there_are_runbooks():
    assert RUNBOOKS, "runbooks/ is empty"


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_runbook_contract(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    book = Runbook(path.stem, path)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "first cell: # Title"
    assert book.purpose, "a one-line purpose after the title"
    assert f"opskit run {path.stem}" in nb.cells[0].source, "the first cell says how to run it headless"
    cell = parameters_cell(nb)
    assert cell is not None, "one cell tagged 'parameters'"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert nb.metadata.kernelspec.name == "opskit", "runbooks name the opskit kernel (scripts/set-kernelspec)"
    assert len(tagged) == 1
    for p in book.parameters:
        assert p.help, f"parameter {p.name!r} has no '# help' comment"
        assert p.type in {"str", "int", "float", "bool", "list", "dict"} or "None" in p.type or p.choices, p.type
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, "runbooks are stored without outputs"
            ast.parse(c.source)
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "publish_summary" in last_code.source, "the last code cell publishes the summary"
    assert (ROOT / "tests" / "runbooks" / f"test_{path.stem}.py").exists(), "each runbook has its runbook test"


def _code_cells(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]


def _calls(sources: list[str], name: str) -> list[ast.Call]:
    found = []
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if called == name:
                    found.append(node)
    return found


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_runbook_module_run_takes_the_notebook_parameters(path):
    """opskit.runbooks.<stem>.run has the notebook's parameters: same names, order, types and defaults."""
    module = importlib.import_module(f"opskit.runbooks.{path.stem}")
    signature = inspect.signature(module.run)
    in_run = [(name, str(p.annotation), p.default) for name, p in signature.parameters.items()]
    declared = [(p.name, p.type, p.default) for p in Runbook(path.stem, path).parameters]
    assert in_run == declared


@pytest.mark.parametrize("path", RUNBOOKS, ids=lambda p: p.stem)
def test_notebook_is_narrative_only(path):
    """One run(...) from its module, one publish_summary(result), and no masking or None guards in cells."""
    cells = _code_cells(path)
    imports = [
        node
        for source in cells
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module == f"opskit.runbooks.{path.stem}"
    ]
    assert any(a.name == "run" for node in imports for a in node.names), f"import run from opskit.runbooks.{path.stem}"
    assert len(_calls(cells, "run")) == 1, "the notebook calls run(...) once"
    (publish,) = _calls(cells, "publish_summary")
    assert len(publish.args) == 1 and not publish.keywords, "publish_summary(result), nothing else"
    for source in cells:
        for forbidden in ("mask(", "mask_frame(", "is None", "is not None", "os.environ"):
            assert forbidden not in source, f"{forbidden!r} in a cell: the result does that"


def test_readme_catalogue_matches_the_runbooks():
    readme = (ROOT / "README.md").read_text()
    assert catalogue_markdown(find_runbooks()) in readme, "run scripts/update-readme"
