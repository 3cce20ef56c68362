"""The kernel a runbook runs in: always the interpreter that runs opskit.

papermill and nbclient look a kernel up by name among the kernelspecs installed on the machine, so
a venv's runbook may run in some other Python (a ``python3`` kernelspec of the system, a broken
one left by an old install). opskit bypasses the lookup: whatever name is asked for, the kernel is
``sys.executable -m ipykernel_launcher``.
"""

from __future__ import annotations

import sys

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

KERNEL_NAME = "opskit-python"


def interpreter_kernel_spec() -> KernelSpec:
    """A kernelspec for this very interpreter."""
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.log_level=ERROR"],
        display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (opskit)",
        language="python",
        metadata={"debugger": False},
        # Figures go into the notebook whatever backend the caller's environment names (Agg in CI).
        env={"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    )


class InterpreterKernelSpecManager(KernelSpecManager):
    """Answers every lookup with :func:`interpreter_kernel_spec`."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return interpreter_kernel_spec()

    def find_kernel_specs(self) -> dict[str, str]:
        return {KERNEL_NAME: ""}


class InterpreterKernelManager(AsyncKernelManager):
    """The kernel manager opskit hands to papermill/nbclient."""

    @default("kernel_spec_manager")
    def _default_ksm(self) -> KernelSpecManager:
        return InterpreterKernelSpecManager()
