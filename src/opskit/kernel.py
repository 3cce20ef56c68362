"""The kernel a runbook runs in: always the interpreter that runs opskit.

papermill and nbclient look a kernel up by name among the kernelspecs installed on the machine, so
a venv's runbook may run in some other Python (a ``python3`` kernelspec of the system, a broken
one left by an old install, an ``opskit`` kernelspec of another environment in a shared
JupyterHub). opskit does the lookup itself: whatever name is asked for, the kernel is the
``opskit`` kernelspec when one is installed *for this interpreter* (``opskit kernel install``),
else a spec built on the spot, ``sys.executable -m ipykernel_launcher``. A kernelspec that would
start another Python is never used.

Runbooks name the ``opskit`` kernel in their metadata, so JupyterLab opens them in it once it is
installed (``make setup`` installs it into the environment with ``--sys-prefix``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from opskit.errors import OpskitError

KERNEL_NAME = "opskit"

# What a headless run adds to whichever spec it uses: quiet kernel logs, and figures into the
# notebook whatever backend the caller's environment names (Agg in CI).
_HEADLESS_ARGS = ("--IPKernelApp.log_level=ERROR", "--ext=opskit.runbooks.tables")
_HEADLESS_ENV = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def environment_display_name(prefix: str | os.PathLike[str] | None = None) -> str:
    """``opskit (/path/to/.venv)``: the name JupyterLab shows, saying which environment it runs."""
    return f"opskit ({prefix or sys.prefix})"


def interpreter_kernel_spec() -> KernelSpec:
    """A kernelspec for this very interpreter."""
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", *_HEADLESS_ARGS],
        display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (opskit)",
        language="python",
        metadata={"debugger": False},
        env=dict(_HEADLESS_ENV),
    )


def runs_this_interpreter(spec: KernelSpec) -> bool:
    """True when ``spec`` starts this very Python (same path, or the same file in the same folder:
    ``.venv/bin/python`` and ``.venv/bin/python3``); a bare ``python`` looked up on the PATH is not."""
    argv = list(spec.argv or [])
    if not argv or "{connection_file}" not in argv:
        return False
    first = argv[0]
    if not os.path.isabs(first):
        return False
    ours = os.path.abspath(sys.executable)
    if os.path.abspath(first) == ours:
        return True
    try:
        return os.path.dirname(os.path.abspath(first)) == os.path.dirname(ours) and os.path.samefile(first, ours)
    except OSError:
        return False


@dataclass(frozen=True)
class InstalledKernel:
    """One kernelspec of that name found on the Jupyter path, in the order Jupyter searches them."""

    name: str
    resource_dir: Path
    display_name: str
    argv: tuple[str, ...]
    ours: bool  # starts this interpreter
    error: str | None = None  # kernel.json could not be read


def kernel_dirs() -> list[str]:
    """The folders Jupyter looks for kernelspecs in, in its order (``jupyter kernelspec list``)."""
    return list(KernelSpecManager().kernel_dirs)


def find_installed(name: str = KERNEL_NAME) -> list[InstalledKernel]:
    """Every kernelspec called ``name`` in the Jupyter kernel folders, first the one JupyterLab picks."""
    found = []
    for folder in kernel_dirs():
        resource_dir = Path(folder) / name
        if not (resource_dir / "kernel.json").is_file():
            continue
        try:
            spec = KernelSpec.from_resource_dir(str(resource_dir))
        except (OSError, ValueError, TypeError) as exc:  # broken JSON, missing keys
            found.append(InstalledKernel(name, resource_dir, "", (), ours=False, error=str(exc)))
            continue
        ours = runs_this_interpreter(spec)
        found.append(InstalledKernel(name, resource_dir, spec.display_name, tuple(spec.argv), ours=ours))
    return found


def installed_kernel_spec(name: str = KERNEL_NAME) -> KernelSpec | None:
    """The first installed ``name`` kernelspec that starts this interpreter, or None."""
    for kernel in find_installed(name):
        if kernel.ours:
            return KernelSpec.from_resource_dir(str(kernel.resource_dir))
    return None


def run_kernel_spec() -> KernelSpec:
    """The spec a headless run uses: the installed ``opskit`` kernel for this interpreter when there
    is one, with quiet logs and inline figures added; else :func:`interpreter_kernel_spec`."""
    spec = installed_kernel_spec()
    if spec is None:
        return interpreter_kernel_spec()
    argv = list(spec.argv) + [a for a in _HEADLESS_ARGS if a not in spec.argv]
    return KernelSpec(
        argv=argv,
        display_name=spec.display_name,
        language=spec.language or "python",
        metadata={**(spec.metadata or {}), "debugger": False},
        env={**(spec.env or {}), **_HEADLESS_ENV},
        resource_dir=spec.resource_dir,
    )


def install_kernel(
    *,
    scope: str = "sys-prefix",
    name: str = KERNEL_NAME,
    display_name: str | None = None,
    prefix: str | os.PathLike[str] | None = None,
) -> Path:
    """Install a kernelspec for this interpreter with ipykernel's installer; returns its folder.

    ``scope``: ``sys-prefix`` (this environment, what ``make setup`` does), ``user`` (the user's
    Jupyter folder: how a shared JupyterHub sees it) or ``prefix`` (under ``prefix``/share/jupyter).
    Installing again replaces the spec of the same name in that place.
    """
    from ipykernel.kernelspec import install

    if scope not in ("sys-prefix", "user", "prefix"):
        raise OpskitError(f"unknown kernel install scope {scope!r}", hint="use sys-prefix, user or prefix")
    if (scope == "prefix") != (prefix is not None):
        raise OpskitError("a prefix is given exactly when the scope is 'prefix'", hint="use --prefix DIR alone")
    if not name or any(not (ch.isalnum() or ch in "._-") for ch in name) or name != name.lower():
        raise OpskitError(
            f"invalid kernel name {name!r}",
            hint="use lower-case letters, digits, '.', '_' or '-' (for example: opskit)",
        )
    target_prefix = {"sys-prefix": sys.prefix, "user": None, "prefix": str(prefix) if prefix else None}[scope]
    try:
        path = install(
            user=scope == "user",
            kernel_name=name,
            display_name=display_name or environment_display_name(),
            prefix=target_prefix,
        )
    except (OSError, ValueError) as exc:
        raise OpskitError(
            f"could not install the {name!r} kernelspec: {exc}",
            hint="install it for your user instead: opskit kernel install --user",
        ) from exc
    return Path(path)


class InterpreterKernelSpecManager(KernelSpecManager):
    """Answers every lookup with :func:`run_kernel_spec`."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return run_kernel_spec()

    def find_kernel_specs(self) -> dict[str, str]:
        return {KERNEL_NAME: ""}


class InterpreterKernelManager(AsyncKernelManager):
    """The kernel manager opskit hands to papermill/nbclient."""

    @default("kernel_spec_manager")
    def _default_ksm(self) -> KernelSpecManager:
        return InterpreterKernelSpecManager()
