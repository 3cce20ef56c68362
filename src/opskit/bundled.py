"""The tables opskit ships in ``opskit/data``, found through :mod:`importlib.resources`.

Each table is dated and names a source per row; the modules that use one parse it into their own
types (:func:`opskit.sources.gpu_prices.load_prices`, :func:`opskit.sources.environment.load_compat_table`,
:func:`opskit.analyses.faults.xid.xid_table`, :func:`opskit.sources.fault_catalogue.read_fault_catalogue`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

GPU_PRICES = "gpu_prices.csv"
CUDA_COMPAT = "cuda_compat.csv"
XID_CODES = "xid.csv"
FAULT_SIGNATURES = "fault_signatures.yaml"
POSTMORTEM_TEXT = "postmortem_text.yaml"
PICKLE_ALLOWLIST = "pickle_allowlist.csv"
TABLES = (GPU_PRICES, CUDA_COMPAT, XID_CODES, FAULT_SIGNATURES, POSTMORTEM_TEXT, PICKLE_ALLOWLIST)


def bundled_path(name: str) -> Path:
    """Path of the bundled table ``name`` (one of :data:`TABLES`)."""
    if name not in TABLES:
        raise KeyError(f"no bundled table {name!r}; known: {', '.join(TABLES)}")
    return Path(str(resources.files("opskit") / "data" / name))


def bundled_text(name: str) -> str:
    """Text of the bundled table ``name``."""
    return bundled_path(name).read_text(encoding="utf-8")
