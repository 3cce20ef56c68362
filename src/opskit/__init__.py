"""opskit: runbooks and analyses for the engineers who keep AI systems running."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opskit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
