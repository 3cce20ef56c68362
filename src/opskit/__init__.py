"""opskit: runbooks and analyses for the engineers who keep AI systems running."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opskit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__", "launcher"]


def __getattr__(name: str):
    """``opskit.launcher``, imported on first use so that ``import opskit`` stays light (no ipywidgets, no papermill).

    Through importlib: the launcher sits above the modules that read ``opskit.__version__``; by the time it is
    asked for, this package is fully initialised, so the late import cannot form a cycle.
    """
    if name == "launcher":
        import importlib

        return importlib.import_module("opskit.widgets").launcher
    raise AttributeError(f"module 'opskit' has no attribute {name!r}")
