"""Input paths: a file, a folder of files, or several of either, as readers accept them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from opskit.errors import InputError


def expand_paths(
    paths: str | Path | Iterable[str | Path],
    *,
    pattern: str = "*",
    recursive: bool = False,
    what: str = "files",
    hint: str | None = None,
) -> list[Path]:
    """Files named by ``paths``: folders become their files matching ``pattern`` (sorted, hidden
    files left out); a folder with none is an InputError naming it. Files are returned as given."""
    if isinstance(paths, str | Path):
        paths = [paths]
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            listing = p.rglob(pattern) if recursive else p.glob(pattern)
            files = sorted(f for f in listing if f.is_file() and not f.name.startswith("."))
            if not files:
                raise InputError(f"no {what} in this folder", path=p, hint=hint)
            found.extend(files)
        else:
            found.append(p)
    return found
