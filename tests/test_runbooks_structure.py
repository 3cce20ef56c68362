"""Every runbook keeps the runbook contract, is tested, and is listed in the README."""

import ast
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
    assert len(tagged) == 1
    for p in book.parameters:
        assert p.help, f"parameter {p.name!r} has no '# help' comment"
        assert p.type in {"str", "int", "float", "bool", "list", "dict"} or "None" in p.type, p.type
    for c in nb.cells:
        if c.cell_type == "code":
            assert not c.outputs and c.execution_count is None, "runbooks are stored without outputs"
            ast.parse(c.source)
    last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
    assert "publish_summary" in last_code.source, "the last code cell publishes the summary"
    assert (ROOT / "tests" / "runbooks" / f"test_{path.stem}.py").exists(), "each runbook has its runbook test"


def test_readme_catalogue_matches_the_runbooks():
    readme = (ROOT / "README.md").read_text()
    assert catalogue_markdown(find_runbooks()) in readme, "run scripts/update-readme"
