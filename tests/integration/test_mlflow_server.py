"""A real ``mlflow server`` on 127.0.0.1 (SQLite backend, local artifact root), started and stopped here.

Three versions of one model, logged as run artifacts; promote and roll back through ``opskit model``;
which version held ``champion`` at three times; a rollback to a damaged version refused with the reason.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from opskit.cli import main

pytestmark = pytest.mark.integration
mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is installed by `make test`")
READY_TIMEOUT_S = 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port, log = _free_port(), root / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root}/mlflow.db",
        "--default-artifact-root",
        (root / "art").as_uri(),
    ]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}: {log.read_text()[-2000:]}", pytrace=False)
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not ready after {READY_TIMEOUT_S} s: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url, root
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


def _safetensors(path: Path, values) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, 4 * len(values)]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack(f"<{len(values)}f", *values))


def test_three_versions_promote_rollback_history_and_damaged_target(server, tmp_path, monkeypatch, capsys):
    url, _root = server
    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    client.create_registered_model("ranker")
    experiment = client.create_experiment("opskit-it")
    artifact_dirs = {}
    for version in (1, 2, 3):
        run = client.create_run(experiment)
        local = tmp_path / f"v{version}"
        local.mkdir()
        _safetensors(local / "model.safetensors", [float(version), 0.25])
        client.log_artifacts(run.info.run_id, str(local), "model")
        mv = client.create_model_version("ranker", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
        assert str(mv.version) == str(version)
        artifact_dirs[str(version)] = Path(run.info.artifact_uri.removeprefix("file://")) / "model"
    monkeypatch.setenv("OPSKIT_MLFLOW_URI", url)
    monkeypatch.setenv("OPSKIT_MODEL_HISTORY", str(tmp_path / "history.jsonl"))
    monkeypatch.setenv("OPSKIT_USER", "ops")
    for v in ("1", "2", "3"):
        assert main(["model", "verify", "ranker", v, "--record"]) == 0
    times = []
    for v in ("1", "2", "3"):
        assert main(["model", "promote", "ranker", v, "--reason", f"release {v}"]) == 0
        times.append(json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])["at"])
        time.sleep(0.01)
    assert main(["model", "rollback", "ranker", "--reason", "v3 hurt recall"]) == 0
    assert str(client.get_model_version_by_alias("ranker", "champion").version) == "2"
    capsys.readouterr()
    for at, want in zip(times, ("1", "2", "3"), strict=True):
        assert main(["model", "at", "ranker", "--time", at]) == 0
        assert f"version {want} " in capsys.readouterr().out
    # v1's artifact damaged on the server's artifact store: rolling back to it is refused
    data = bytearray((artifact_dirs["1"] / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (artifact_dirs["1"] / "model.safetensors").write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["model", "rollback", "ranker", "--to", "1", "--reason", "try v1"]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "model.safetensors" in err and "changed" in err
    assert str(client.get_model_version_by_alias("ranker", "champion").version) == "2"
