"""Pickle safety: dangerous imports are found from opcodes alone, and nothing in the file ever runs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from opskit.analyses.model_load.pickle_safety import (
    Risk,
    classify_global,
    pickle_safety_verdict,
    scan_model_file,
    scan_pickles,
)
from opskit.checks import Status
from opskit.samples.models import classifier_tensors, os_system_payload, state_dict_pickle, torch_zip_bytes
from opskit.sources.model_files import inspect_model_file


@pytest.mark.parametrize(
    ("module", "name", "risk"),
    [
        ("os", "system", Risk.DANGEROUS),
        ("posix", "system", Risk.DANGEROUS),
        ("subprocess", "Popen", Risk.DANGEROUS),
        ("builtins", "eval", Risk.DANGEROUS),
        ("__builtin__", "exec", Risk.DANGEROUS),
        ("builtins", "getattr", Risk.DANGEROUS),
        ("os.path", "join", Risk.DANGEROUS),
        ("<unresolved>", "<unresolved>", Risk.DANGEROUS),
        ("torch._utils", "_rebuild_tensor_v2", Risk.SAFE),
        ("torch", "FloatStorage", Risk.SAFE),
        ("collections", "OrderedDict", Risk.SAFE),
        ("numpy.core.multiarray", "_reconstruct", Risk.SAFE),
        ("builtins", "set", Risk.SAFE),
        ("torch.nn.modules.linear", "Linear", Risk.UNKNOWN),
        ("__main__", "Net", Risk.UNKNOWN),
    ],
)
def test_classify_global(module, name, risk):
    assert classify_global(module, name) is risk


class Exploit:
    """What an attacker writes: unpickling calls os.system(command)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def payload_pickles(command: str) -> dict[str, bytes]:
    """The same attack in several encodings; building them runs nothing."""
    return {
        "protocol 2 GLOBAL": pickle.dumps(Exploit(command), protocol=2),
        "protocol 4 STACK_GLOBAL": pickle.dumps(Exploit(command), protocol=4),
        "protocol 0 INST": b"(S'" + command.encode() + b"'\nios\nsystem\n.",
        "memo-obfuscated STACK_GLOBAL": (
            b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c" + bytes([len(command)]) + command.encode()
            + b"\x85R."
        ),
        "inside a state dict": state_dict_pickle(
            classifier_tensors(np.random.default_rng(1)), {"_hooks": os_system_payload(command)}
        ),
    }  # fmt: skip


@pytest.mark.parametrize("encoding", list(payload_pickles("true")))
def test_every_encoding_of_os_system_is_dangerous(encoding):
    result = scan_pickles("x.pkl", [("data.pkl", payload_pickles("true")[encoding])])
    assert result.risk is Risk.DANGEROUS
    bad = result.by_risk(Risk.DANGEROUS)
    assert set(bad["global"]) & {"os.system", "posix.system", "nt.system"}
    assert bad["called"].all()
    assert bad["position"].ge(0).all()


def test_checkpoint_pickle_is_safe():
    tensors = classifier_tensors(np.random.default_rng(2))
    result = scan_pickles("c.pt", [("archive/data.pkl", state_dict_pickle(tensors))])
    assert result.risk is Risk.SAFE
    assert len(result.imports) > 0 and (result.imports["risk"] == "safe").all()
    assert pickle_safety_verdict(result).status is Status.PASS


def test_full_model_pickle_is_unknown_not_dangerous():
    data = b"\x80\x02ctorch.nn.modules.linear\nLinear\nq\x00)\x81}b."
    result = scan_pickles("model.pt", [("data.pkl", data)])
    assert result.risk is Risk.UNKNOWN
    verdict = pickle_safety_verdict(result)
    assert verdict.status is Status.WARN and "torch.nn.modules.linear.Linear" in verdict.evidence


def test_dangerous_verdict_names_the_call_and_where():
    verdict = pickle_safety_verdict(
        scan_pickles("evil.pt", [("archive/data.pkl", payload_pickles("true")["inside a state dict"])])
    )
    assert verdict.status is Status.FAIL and verdict.subject == "evil.pt"
    assert "os.system" in verdict.message and "archive/data.pkl@" in verdict.evidence
    assert "do not load" in verdict.next_step


def test_scan_model_file_only_for_pickle_formats(tmp_path):
    (tmp_path / "a.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}              ")
    assert scan_model_file(inspect_model_file(tmp_path / "a.safetensors")) is None


# --------------------------------------------------------------------------- proof that nothing ran
def test_payload_is_live_when_unpickled_but_never_runs_during_inspection(tmp_path):
    """The control proves the payload works (a real unpickle in a child process creates the marker);
    inspection, scanning and static key listing of the same file leave no marker."""
    from opskit.runbooks.diagnose_model_load import run
    from opskit.sources.model_files import static_listing

    marker = tmp_path / "payload_ran"
    tensors = classifier_tensors(np.random.default_rng(3))
    data = state_dict_pickle(tensors, {"_hooks": os_system_payload(f"touch {marker}")})
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "evil.pt").write_bytes(torch_zip_bytes(tensors, pickle=data))
    (folder / "evil.pkl").write_bytes(pickle.dumps(Exploit(f"touch {marker}"), protocol=4))

    info = inspect_model_file(folder / "evil.pt")
    assert scan_model_file(info).risk is Risk.DANGEROUS
    assert scan_model_file(inspect_model_file(folder / "evil.pkl")).risk is Risk.DANGEROUS
    static_listing(info)
    result = run(model_path=str(folder), environment="local", manifest="")
    assert {v.subject for v in result.verdicts.find("pickle safety") if v.status is Status.FAIL} == {
        "evil.pt",
        "evil.pkl",
    }
    assert not marker.exists(), "inspecting the file executed its payload"

    # Control, in a child process: unpickling really runs the payload, so the assertion above can fail.
    child = "import pickle, sys; pickle.loads(open(sys.argv[1], 'rb').read())"
    subprocess.run([sys.executable, "-c", child, str(folder / "evil.pkl")], check=True, timeout=60)
    assert marker.exists()


def test_torch_weights_only_refuses_the_payload_too(tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed: weights_only behaviour not checked")
    marker = tmp_path / "payload_ran"
    tensors = classifier_tensors(np.random.default_rng(4))
    data = state_dict_pickle(tensors, {"_hooks": os_system_payload(f"touch {marker}")})
    path = tmp_path / "evil.pt"
    path.write_bytes(torch_zip_bytes(tensors, pickle=data))
    with pytest.raises(Exception, match=r"(?i)weights_only|unsupported|global"):
        torch.load(path, weights_only=True, map_location="cpu")
    assert not Path(marker).exists()
