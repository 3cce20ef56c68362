"""``postmortem.ipynb`` of an incident: written from the write_postmortem runbook, refreshed keeping edits.

The template's narrative sections become markdown cells (tagged ``narrative``) that reviewers edit; every
other code cell is tagged ``evidence``. ``refresh`` re-executes the evidence cells against the folder's
current evidence and leaves every markdown cell, and every cell's source, exactly as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from opskit.catalog import get_runbook
from opskit.errors import InputError
from opskit.kernel import KERNEL_NAME, InterpreterKernelManager
from opskit.runbooks.write_postmortem_inputs import LANGS, postmortem_text
from opskit.runbooks.write_postmortem_result import NARRATIVE

NOTEBOOK = "postmortem.ipynb"
EVIDENCE_TAG, NARRATIVE_TAG = "evidence", "narrative"


def _template(folder: Path, lang: str) -> nbformat.NotebookNode:
    text = postmortem_text(lang)
    nb = nbformat.from_dict(get_runbook("write_postmortem").notebook)
    cells = []
    nb.cells[0] = nbformat.v4.new_markdown_cell(
        f"# {text['title'].format(title=folder.name)}\n\n{text['sentences']['blameless']}"
    )
    nb.cells[0].metadata["tags"] = [NARRATIVE_TAG]
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        key = cell.source.removeprefix('result.section("').removesuffix('")') if cell.cell_type == "code" else None
        if "parameters" in tags:
            choices = ", ".join(json.dumps(x) for x in LANGS)
            cell.source = (
                "from typing import Literal\n\n"
                f"incident: str = {json.dumps(str(folder.resolve()))}  # the incident folder\n"
                f"lang: Literal[{choices}] = {json.dumps(lang)}  # language of headings and fixed sentences"
            )
        if key in NARRATIVE:
            md = nbformat.v4.new_markdown_cell(f"## {text['headings'][key]}\n\n{text['prompts'][key]}")
            md.metadata["tags"] = [NARRATIVE_TAG]
            cells.append(md)
            continue
        if cell.cell_type == "code":
            cell.metadata["tags"] = [*tags, EVIDENCE_TAG]
        cells.append(cell)
    nb.cells = cells
    return nb


def read_postmortem(folder: Path) -> nbformat.NotebookNode:
    path = folder / NOTEBOOK
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError as exc:
        raise InputError(
            "no postmortem yet", path=path, hint=f"write it with: opskit incident write {folder.name}"
        ) from exc
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, ValueError) as exc:
        raise InputError(
            f"postmortem.ipynb is not a valid notebook: {exc}",
            path=path,
            hint="fix the JSON (or restore it from version control); nothing was overwritten",
        ) from exc


def _execute(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.ipynb", Path(tmp) / "out.ipynb"
        nbformat.write(nb, src)
        try:
            return papermill.execute_notebook(
                str(src),
                str(out),
                kernel_name=KERNEL_NAME,
                language="python",
                progress_bar=False,
                kernel_manager_class=InterpreterKernelManager,
                cwd=str(folder),
                request_save_on_cell_execute=False,
            )
        except PapermillExecutionError:
            return nbformat.read(out, as_version=4)


def _save(nb: nbformat.NotebookNode, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)


def write_postmortem(folder: str | os.PathLike[str], *, lang: str = "en") -> Path:
    """Create and execute ``postmortem.ipynb``; an existing one is refused (refresh it instead)."""
    folder = Path(folder)
    path = folder / NOTEBOOK
    if path.exists():
        raise InputError("the postmortem already exists", path=path, hint=f"opskit incident refresh {folder.name}")
    _save(_execute(_template(folder, lang), folder), path)
    return path


def refresh_postmortem(folder: str | os.PathLike[str]) -> Path:
    """Re-run the evidence cells; every markdown cell (and every source) is kept byte for byte."""
    folder = Path(folder)
    before = read_postmortem(folder)
    after = _execute(nbformat.from_dict(before), folder)
    kept = []
    for old, new in zip(before.cells, after.cells, strict=True):
        kept.append(old if old.cell_type != "code" else new)
    after.cells = kept
    _save(after, folder / NOTEBOOK)
    return folder / NOTEBOOK
