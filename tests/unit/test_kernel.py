"""The kernel runbooks run in: the installed ``opskit`` kernelspec for this interpreter, else this
interpreter directly; never a kernelspec that starts another Python. Real installs, real kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from opskit import kernel
from opskit.errors import OpskitError
from opskit.runner import run_runbook

OPSKIT_KERNELSPEC = {"name": "opskit", "display_name": "opskit", "language": "python"}


def _probe_notebook(path: Path) -> Path:
    """A runbook whose metadata names the ``opskit`` kernel and which writes what its kernel is."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(OPSKIT_KERNELSPEC)
    params = nbformat.v4.new_code_cell('out: str = "/tmp/probe.json"  # where the probe writes')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Kernel probe\n\nWrites the interpreter and environment it runs in."),
        params,
        nbformat.v4.new_code_cell(
            "import json, os, pathlib, sys\n"
            "pathlib.Path(out).write_text(json.dumps({'executable': sys.executable, "
            "'marker': os.environ.get('OPSKIT_TEST_KERNEL_MARKER')}))"
        ),
        nbformat.v4.new_code_cell("from opskit.checks import publish_summary\n\npublish_summary([])"),
    ]
    nbformat.write(nb, path)
    return path


def _install_marked(prefix: Path, marker: str) -> Path:
    """``opskit kernel install --prefix`` for real, then an env marker in its kernel.json to tell it apart."""
    folder = kernel.install_kernel(scope="prefix", prefix=prefix)
    spec_file = folder / "kernel.json"
    spec = json.loads(spec_file.read_text())
    spec["env"] = {"OPSKIT_TEST_KERNEL_MARKER": marker}
    spec_file.write_text(json.dumps(spec))
    return folder


def _write_spec(folder: Path, argv: list[str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "other", "language": "python"}))
    return folder


def test_this_interpreter_is_recognised_and_other_pythons_are_not(tmp_path):
    ours = kernel.KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    assert kernel.runs_this_interpreter(ours)
    for argv in (
        ["/nonexistent/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],  # whatever the PATH finds
        [sys.executable, "-m", "ipykernel_launcher"],  # no connection file: not a kernel command
        [],
    ):
        assert not kernel.runs_this_interpreter(kernel.KernelSpec(argv=argv)), argv
    # a copy of this interpreter elsewhere is another environment, even though it is the same binary
    link = tmp_path / "bin" / "python"
    link.parent.mkdir()
    link.symlink_to(sys.executable)
    assert not kernel.runs_this_interpreter(kernel.KernelSpec(argv=[str(link), "-f", "{connection_file}"]))


def test_install_writes_a_spec_for_this_environment(tmp_path):
    folder = kernel.install_kernel(scope="prefix", prefix=tmp_path)
    assert folder == tmp_path / "share" / "jupyter" / "kernels" / "opskit"
    spec = json.loads((folder / "kernel.json").read_text())
    assert spec["display_name"] == f"opskit ({sys.prefix})"
    assert spec["argv"][0] == sys.executable and "{connection_file}" in spec["argv"]
    # installing again replaces it in place
    assert kernel.install_kernel(scope="prefix", prefix=tmp_path, display_name="opskit (again)") == folder
    assert json.loads((folder / "kernel.json").read_text())["display_name"] == "opskit (again)"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"scope": "prefix"}, "prefix"),  # prefix scope without a prefix
        ({"scope": "user", "prefix": "/tmp/x"}, "prefix"),
        ({"scope": "global"}, "scope"),
        ({"name": "Opskit"}, "name"),
        ({"name": "ops kit"}, "name"),
    ],
)
def test_install_refuses_bad_options(options, field):
    with pytest.raises(OpskitError) as err:
        kernel.install_kernel(**options)
    assert err.value.hint


def test_lookup_order_foreign_and_broken_specs(tmp_path, monkeypatch):
    foreign = _write_spec(tmp_path / "a" / "opskit", ["/nonexistent/bin/python", "-f", "{connection_file}"])
    broken = tmp_path / "b" / "opskit"
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text("{not json")
    ours = kernel.install_kernel(scope="prefix", prefix=tmp_path / "c")
    dirs = [str(tmp_path / "a"), str(tmp_path / "b"), str(ours.parent)]
    monkeypatch.setattr(kernel, "kernel_dirs", lambda: dirs)
    found = kernel.find_installed()
    assert [k.resource_dir for k in found] == [foreign, broken, ours]
    assert [k.ours for k in found] == [False, False, True]
    assert found[1].error
    spec = kernel.run_kernel_spec()
    assert spec.resource_dir == str(ours) and spec.argv[0] == sys.executable
    assert "--IPKernelApp.log_level=ERROR" in spec.argv  # headless runs stay quiet
    assert spec.env["MPLBACKEND"].endswith("backend_inline")
    # without our spec the lookup falls back to this interpreter, not to the foreign one
    monkeypatch.setattr(kernel, "kernel_dirs", lambda: dirs[:2])
    fallback = kernel.run_kernel_spec()
    assert fallback.argv[0] == sys.executable and not fallback.resource_dir


@pytest.mark.parametrize("installed", [True, False], ids=["opskit-installed", "opskit-not-installed"])
def test_a_runbook_naming_opskit_runs_through_the_runner(tmp_path, monkeypatch, installed):
    dirs = []
    if installed:
        dirs.append(str(_install_marked(tmp_path / "prefix", "installed").parent))
    monkeypatch.setattr(kernel, "kernel_dirs", lambda: dirs)
    probe = tmp_path / "probe.json"
    result = run_runbook(_probe_notebook(tmp_path / "probe.ipynb"), {"out": str(probe)}, reports_dir=tmp_path / "r")
    assert result.exit_code == 0 and result.summary["error"] is None
    seen = json.loads(probe.read_text())
    assert seen["executable"] == sys.executable
    assert seen["marker"] == ("installed" if installed else None)
    assert nbformat.read(result.notebook_path, as_version=4).metadata.kernelspec.name == "opskit"


def test_cli_ignores_an_opskit_kernelspec_of_another_python(tmp_path):
    # A shared JupyterHub: the user's folder holds an 'opskit' kernel of some other environment.
    _write_spec(tmp_path / "jupyter" / "kernels" / "opskit", ["/nonexistent/bin/python", "-f", "{connection_file}"])
    env = {**os.environ, "JUPYTER_PATH": str(tmp_path / "jupyter"), "JUPYTER_DATA_DIR": str(tmp_path / "data")}
    probe = tmp_path / "probe.json"
    nb = _probe_notebook(tmp_path / "probe.ipynb")
    cmd = [sys.executable, "-m", "opskit", "run", str(nb), "-p", "out", str(probe), "--out", str(tmp_path / "r")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(probe.read_text())["executable"] == sys.executable
    show = subprocess.run(
        [sys.executable, "-m", "opskit", "kernel", "show"], capture_output=True, text=True, env=env, timeout=60
    )
    assert show.returncode == 0, show.stderr
    assert "another Python: /nonexistent/bin/python" in show.stdout
    assert show.stdout.strip().splitlines()[-1].startswith(f"opskit run uses: {sys.executable}")


def test_set_kernelspec_script_changes_only_the_kernelspec_and_is_idempotent(tmp_path):
    root = Path(__file__).resolve().parents[2]
    script = root / "scripts" / "set-kernelspec"
    sources = sorted((root / "runbooks").glob("*.ipynb"))[:2]
    copies = [tmp_path / p.name for p in sources]
    for src, dst in zip(sources, copies, strict=True):
        nb = json.loads(src.read_text(encoding="utf-8"))
        nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb["cells"][0]["source"] = ["# Überblick: ✓ unicode stays as it is\n"]
        dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    before = {p: json.loads(p.read_text(encoding="utf-8")) for p in copies}

    def script_run(*args):
        return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60)

    check = script_run("--check", *map(str, copies))
    assert check.returncode == 1 and all(p.name in check.stdout for p in copies)
    assert all(json.loads(p.read_text(encoding="utf-8")) == before[p] for p in copies)  # --check changes nothing
    assert script_run(*map(str, copies)).returncode == 0
    for p in copies:
        text = p.read_text(encoding="utf-8")
        after = json.loads(text)
        assert after["metadata"]["kernelspec"] == OPSKIT_KERNELSPEC
        assert {**after, "metadata": {}} == {**before[p], "metadata": {}}
        assert after["metadata"]["language_info"] == before[p]["metadata"]["language_info"]
        assert text == json.dumps(after, indent=1, ensure_ascii=False) + "\n" and "Überblick: ✓" in text
    written = {p: p.read_bytes() for p in copies}
    again = script_run(*map(str, copies))
    assert again.returncode == 0 and "every notebook names the opskit kernel" in again.stdout
    assert {p: p.read_bytes() for p in copies} == written
    assert script_run("--check", *map(str, copies)).returncode == 0
