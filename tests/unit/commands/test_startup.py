"""Every command starts without reading notebooks: building the CLI must not import nbformat or papermill
(2.5 s of imports that `opskit mask`, `opskit dataset` or an alert hook would pay on every call)."""

import subprocess
import sys


def test_building_the_cli_imports_no_notebook_machinery():
    code = (
        "import sys\n"
        "from opskit.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('nbformat', 'papermill', 'nbconvert', 'ipywidgets') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
