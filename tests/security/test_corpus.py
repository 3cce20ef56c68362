"""The security corpus: every malicious file really runs its payload under its loader, and opskit fails it
without running anything; benign files are not falsely failed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opskit.analyses.model_load.pickle_safety import Risk, pickle_safety_verdict, scan_model_file
from opskit.checks import Status
from opskit.sources.model_files import inspect_model_file, list_model_files

LOADERS = Path(__file__).with_name("loaders.py")


def _verdict(path: Path):
    scan = scan_model_file(inspect_model_file(path))
    return scan, (pickle_safety_verdict(scan) if scan is not None else None)


def test_opskit_fails_every_malicious_file_and_runs_none(corpus):
    root, bad, _ = corpus
    folder = root / "malicious"
    missed = []
    for entry in bad:
        _scan, verdict = _verdict(folder / entry.file)
        if verdict is None or verdict.status is not Status.FAIL:
            missed.append((entry.name, verdict.status if verdict else "no scan"))
    assert not missed, missed
    assert not any((folder / "markers").iterdir()), "inspection ran a payload"


def test_every_malicious_payload_really_runs_under_its_loader(corpus):
    root, bad, _ = corpus
    folder = root / "malicious"
    assert not any((folder / "markers").iterdir())
    specs = [f"{e.loader}:{e.file}" for e in bad]
    subprocess.run([sys.executable, str(LOADERS), str(folder), *specs], check=True, timeout=240,
                   capture_output=True, text=True)  # fmt: skip
    dead = [e.name for e in bad if not (folder / "markers" / e.name).exists()]
    assert not dead, f"payloads that did not run under their loader: {dead}"


def test_benign_files_are_not_failed_and_tensor_files_pass(corpus):
    root, _, good = corpus
    folder = root / "benign"
    model_code = {"full_module_pt", "sklearn_joblib"}
    for entry in good:
        scan, verdict = _verdict(folder / entry.file)
        if entry.name in model_code:
            assert scan.risk is Risk.MODEL_CODE and verdict.status is Status.WARN, entry.name
            assert "trusted source" in verdict.message
        elif verdict is not None:
            assert verdict.status is Status.PASS, (entry.name, verdict.message, scan.errors)
        else:
            assert inspect_model_file(folder / entry.file).format.is_model, entry.name


def test_folder_files_are_chosen_by_content(corpus):
    root, bad, _ = corpus
    chosen = {p.name for p in list_model_files(root / "malicious")}
    assert {e.file for e in bad} <= chosen
