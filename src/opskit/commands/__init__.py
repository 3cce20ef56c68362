"""CLI subcommands contributed by areas of opskit.

Each module here defines ``register(subparsers)``, adding a parser whose ``func(args) -> int``
returns the exit code. :mod:`opskit.cli` discovers them; the core commands live in the CLI itself.
"""

from __future__ import annotations

import importlib
import pkgutil


def register_all(subparsers) -> None:
    """Call ``register(subparsers)`` of every module in this package, in name order."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{__name__}.{module.name}")
        register = getattr(mod, "register", None)
        if register is not None:
            register(subparsers)
