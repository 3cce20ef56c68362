"""``opskit diagnose``: exit codes, text and JSON output, --keep evidence folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from opskit.cli import main

LOGS = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def test_fault_found_exits_1_and_names_root_cause_first(capsys):
    code = main(["diagnose", str(LOGS / "multirank_oom_rank3")])
    out = capsys.readouterr().out
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("root cause: cuda_oom") and "rank3.log:7" in first
    assert "why first:" in out and "findings (" in out


def test_healthy_exits_0(capsys):
    assert main(["diagnose", str(LOGS / "healthy_hf_trainer.log"), str(LOGS / "healthy_tensorflow.log")]) == 0
    assert capsys.readouterr().out.startswith("no known fault found")


def test_json_list_root_cause_first(capsys):
    code = main(["diagnose", "--json", str(LOGS / "torchrun_sigkill_host_oom")])
    findings = json.loads(capsys.readouterr().out)
    assert code == 1
    assert isinstance(findings, list)
    assert findings[0]["fault"] == "host_oom" and findings[0]["file"].endswith("dmesg.log") and findings[0]["line"] == 1
    assert all({"fault", "file", "line", "text", "next_step"} <= set(f) for f in findings)


def test_json_healthy_is_empty_list(capsys):
    assert main(["diagnose", "--json", str(LOGS / "healthy_torchrun_ddp.log")]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_missing_path_exits_2_with_error_and_hint(capsys, tmp_path):
    assert main(["diagnose", str(tmp_path / "gone.log")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "gone.log" in err and "hint:" in err


def test_only_binary_input_exits_2(capsys, tmp_path):
    (tmp_path / "core.dump").write_bytes(bytes(range(256)) * 100)
    assert main(["diagnose", str(tmp_path / "core.dump")]) == 2
    assert "binary" in capsys.readouterr().err


def test_binary_beside_logs_is_skipped_with_a_warning(capsys, tmp_path):
    (tmp_path / "core.dump").write_bytes(bytes(range(256)) * 100)
    code = main(["diagnose", str(tmp_path / "core.dump"), str(LOGS / "nccl_error_ib.log")])
    captured = capsys.readouterr()
    assert code == 1 and "warning: skipped" in captured.err


def test_keep_writes_incident_folder(capsys, tmp_path):
    keep = tmp_path / "incident-42"
    code = main(["diagnose", str(LOGS / "multirank_oom_rank3"), "--keep", str(keep)])
    assert code == 1
    manifest = json.loads((keep / "manifest.json").read_text())
    assert len(manifest["files"]) == 5
    assert manifest["root_cause"]["fault"] == "cuda_oom"
    assert (keep / "SHA256SUMS").exists()
    assert (keep / "logs" / "rank3.log").read_bytes() == (LOGS / "multirank_oom_rank3" / "rank3.log").read_bytes()
    assert main(["diagnose", str(LOGS / "nccl_error_ib.log"), "--keep", str(keep)]) == 2  # never overwritten


def test_stdin_with_keep(capsys, tmp_path, monkeypatch):
    data = (LOGS / "killed_preempted_slurm.out").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code = main(["diagnose", "-", "--json", "--keep", str(tmp_path / "k")])
    findings = json.loads(capsys.readouterr().out)
    assert code == 1 and findings[0]["fault"] == "killed_preempted" and findings[0]["line"] == 2
    assert (tmp_path / "k" / "logs" / "stdin.log").read_bytes() == data


@pytest.mark.parametrize("engine", ["re", "hyperscan"])
def test_engines_selectable(capsys, engine):
    if engine == "hyperscan":
        pytest.importorskip("hyperscan")
    assert main(["diagnose", "--engine", engine, str(LOGS / "gpu_hardware_xid79.log")]) == 1
    assert f"({engine})" in capsys.readouterr().out
