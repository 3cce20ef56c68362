"""``opskit kernel install``: ipykernel's installer for this environment, with clear errors."""

from __future__ import annotations

import json
import subprocess
import sys


def _opskit(*args):
    return subprocess.run([sys.executable, "-m", "opskit", *args], capture_output=True, text=True, timeout=60)


def test_install_into_a_prefix_names_this_environment(tmp_path):
    proc = _opskit("kernel", "install", "--prefix", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    spec_file = tmp_path / "share" / "jupyter" / "kernels" / "opskit" / "kernel.json"
    spec = json.loads(spec_file.read_text())
    assert spec["argv"][0] == sys.executable and spec["display_name"] == f"opskit ({sys.prefix})"
    assert str(spec_file.parent) in proc.stdout


def test_another_name_says_runbooks_will_not_pick_it(tmp_path):
    proc = _opskit("kernel", "install", "--prefix", str(tmp_path), "--name", "opskit-gpu", "--display-name", "GPU")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "share/jupyter/kernels/opskit-gpu/kernel.json").read_text())["display_name"] == "GPU"
    assert "runbooks name the 'opskit' kernel" in proc.stdout


def test_bad_name_and_conflicting_places_exit_2(tmp_path):
    bad = _opskit("kernel", "install", "--prefix", str(tmp_path), "--name", "My Kernel")
    assert bad.returncode == 2 and "error: invalid kernel name 'My Kernel'" in bad.stderr and "hint:" in bad.stderr
    assert not (tmp_path / "share").exists()
    both = _opskit("kernel", "install", "--user", "--prefix", str(tmp_path))
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
