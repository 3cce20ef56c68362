"""The fault catalogue's YAML, read as a document: the bundled ``data/fault_signatures.yaml`` or the user's file.

:func:`opskit.analyses.faults.catalogue.load_catalogue` turns the document into fault classes and
checks their patterns; this module only reads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from opskit.bundled import FAULT_SIGNATURES, bundled_path
from opskit.errors import InputError


def read_fault_catalogue(path: str | os.PathLike[str] | None = None) -> tuple[dict[str, Any], Path]:
    """The catalogue document and the file it came from (the bundled catalogue when ``path`` is None)."""
    source = bundled_path(FAULT_SIGNATURES) if path is None else Path(path).expanduser()
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the fault catalogue: {exc}", path=source) from exc
    if not isinstance(doc, dict):
        raise InputError(
            "the fault catalogue is not a mapping",
            path=source,
            hint="it needs a 'classes:' mapping, see the bundled one",
        )
    return doc, source
