"""Find runbooks and read what they declare: title, purpose, parameters.

Runbooks are looked up, in order, in ``$OPSKIT_RUNBOOKS`` (a path list), ``./runbooks`` and the
``runbooks/`` folder beside the package's source tree.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat

from opskit.errors import RunbookNotFoundError
from opskit.parameters import Parameter, parse_parameters_cell

PARAMETERS_TAG = "parameters"


def runbook_dirs() -> list[Path]:
    """The folders searched for runbooks, existing ones only, first match wins."""
    candidates: list[Path] = []
    env = os.environ.get("OPSKIT_RUNBOOKS")
    if env:
        candidates += [Path(p) for p in env.split(os.pathsep) if p]
    candidates.append(Path.cwd() / "runbooks")
    candidates.append(Path(__file__).resolve().parents[2] / "runbooks")
    seen: list[Path] = []
    for c in candidates:
        r = c.resolve()
        if r.is_dir() and r not in seen:
            seen.append(r)
    return seen


@dataclass(frozen=True)
class Runbook:
    """A runbook notebook on disk."""

    name: str
    path: Path

    @cached_property
    def notebook(self) -> nbformat.NotebookNode:
        return nbformat.read(self.path, as_version=4)

    @cached_property
    def title(self) -> str:
        return _markdown_lines(self.notebook)[0].lstrip("# ").strip() if _markdown_lines(self.notebook) else self.name

    @cached_property
    def purpose(self) -> str:
        """The first sentence after the title: ``opskit list`` shows it."""
        lines = _markdown_lines(self.notebook)[1:]
        text = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
        return re.sub(r"[*_`]", "", text).strip()

    @cached_property
    def parameters(self) -> list[Parameter]:
        cell = parameters_cell(self.notebook)
        if cell is None:
            return []
        return parse_parameters_cell(cell.source, where=f"{self.path.name} parameters cell")


def _markdown_lines(nb: nbformat.NotebookNode) -> list[str]:
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    return [ln for ln in first.source.splitlines() if ln.strip()] if first else []


def parameters_cell(nb: nbformat.NotebookNode):
    """The cell tagged ``parameters``, or None."""
    return next((c for c in nb.cells if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])), None)


def find_runbooks() -> dict[str, Runbook]:
    """All runbooks by name (file stem); a name found twice resolves to the first folder."""
    found: dict[str, Runbook] = {}
    for folder in runbook_dirs():
        for path in sorted(folder.glob("*.ipynb")):
            found.setdefault(path.stem, Runbook(path.stem, path))
    return dict(sorted(found.items()))


def get_runbook(name_or_path: str | os.PathLike[str]) -> Runbook:
    """A runbook by name, or by the path of a notebook file."""
    text = os.fspath(name_or_path)
    if text.endswith(".ipynb"):
        path = Path(text)
        if not path.is_file():
            raise RunbookNotFoundError(f"{text}: no such notebook", hint="check the path")
        return Runbook(path.stem, path.resolve())
    known = find_runbooks()
    if text in known:
        return known[text]
    import difflib

    close = difflib.get_close_matches(text, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else "see: opskit list"
    raise RunbookNotFoundError(f"no runbook named {text!r} (known: {', '.join(known) or 'none'})", hint=hint)
