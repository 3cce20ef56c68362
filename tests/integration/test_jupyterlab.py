"""JupyterLab as people reach it: ``scripts/lab`` (what ``make lab`` runs) starts a real server on
127.0.0.1 with a token (as root here, in CI and in GPU containers), the contents API lists the
runbooks, the ``opskit`` kernel starts through the REST API, and triage_job's cells run in it over
the kernel's websocket, as JupyterLab sends them, down to the verdict table and the summary."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import websocket

from opskit.checks import SUMMARY_MIMETYPE
from opskit.kernel import install_kernel

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "scripts" / "lab"
RUNBOOK = "triage_job.ipynb"
READY_TIMEOUT_S = 120

# one server for the module: keep its tests on one xdist worker (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("jupyterlab")
CELL_TIMEOUT_S = 300


def _lab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAB), *args], capture_output=True, text=True, env=env, timeout=60)


# --- the command scripts/lab builds (no server) ------------------------------------------------


def test_lab_defaults_bind_loopback_serve_the_runbooks_and_print_the_tunnel():
    proc = _lab("--dry-run", env={**os.environ, "JUPYTER_TOKEN": "t0ken"})
    assert proc.returncode == 0, proc.stderr
    command, *banner = proc.stdout.splitlines()
    assert "--ServerApp.ip=127.0.0.1" in command and f"--ServerApp.root_dir={ROOT / 'runbooks'}" in command
    assert "--ServerApp.port_retries=0" in command  # the printed port is the one served
    assert ("--allow-root" in command) == (os.geteuid() == 0)
    assert "t0ken" not in command  # the token goes through the environment, not the process list
    port = re.search(r"--ServerApp\.port=(\d+)", command).group(1)
    text = "\n".join(banner)
    assert f"http://127.0.0.1:{port}/lab?token=t0ken" in text
    assert re.search(rf"ssh -N -L {port}:127\.0\.0\.1:{port} \S+@\S+", text)


def test_lab_passes_lab_args_through_for_a_remote_node():
    proc = _lab("--dry-run", "--ip", "0.0.0.0", "--port", "8899", "--no-browser", "--IdentityProvider.token=abc")
    assert proc.returncode == 0, proc.stderr
    command, *banner = proc.stdout.splitlines()
    assert command.endswith("--ip 0.0.0.0 --port 8899 --no-browser --IdentityProvider.token=abc")
    assert "--ServerApp.ip=" not in command and "--ServerApp.port=" not in command
    assert command.count("--no-browser") == 1
    text = "\n".join(banner)
    assert "http://127.0.0.1:8899/lab?token=abc" in text and "every interface" in text
    assert "ssh -N -L 8899:127.0.0.1:8899 " in text


def test_lab_refuses_a_port_that_is_not_a_number():
    proc = _lab("--dry-run", "--port", "88x")
    assert proc.returncode != 0 and "--port '88x' is not a number" in proc.stderr


# --- a real server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LabServer:
    url: str
    token: str
    process: subprocess.Popen
    log: Path

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"token {self.token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


def _wait_for_banner(proc: subprocess.Popen, out: Path, log: Path) -> str:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        match = re.search(r"open:\s+(http://127\.0\.0\.1:\d+)/lab\?token=(\w+)", out.read_text())
        if match:
            return match.group(1)
        if proc.poll() is not None:
            pytest.fail(f"scripts/lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}", pytrace=False)
        time.sleep(0.3)
    pytest.fail(f"no URL printed within {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}", pytrace=False)


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    work = tmp_path_factory.mktemp("jupyterlab")
    prefix = work / "prefix"
    install_kernel(scope="prefix", prefix=prefix)  # what `make setup` does with --sys-prefix
    token = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "MPLBACKEND"))}
    env.update(
        JUPYTER_TOKEN=token,
        JUPYTER_PATH=str(prefix / "share" / "jupyter"),
        JUPYTER_CONFIG_DIR=str(work / "config"),
        JUPYTER_DATA_DIR=str(work / "data"),
        JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        IPYTHONDIR=str(work / "ipython"),
    )
    out, log = work / "lab.out", work / "lab.log"
    with open(out, "w") as fo, open(log, "w") as fe:
        proc = subprocess.Popen(
            [sys.executable, str(LAB), "--port", str(_free_port()), "--no-browser"],
            stdout=fo,
            stderr=fe,
            env=env,
            cwd=work,
        )
    try:
        url = _wait_for_banner(proc, out, log)
        yield LabServer(url=url, token=token, process=proc, log=log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # what a container stop sends; scripts/lab hands it on
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _message(msg_type: str, content: dict, session: str, channel: str = "shell") -> dict:
    header = {
        "msg_id": uuid.uuid4().hex,
        "username": "test",
        "session": session,
        "msg_type": msg_type,
        "version": "5.3",
        "date": datetime.now(UTC).isoformat(),
    }
    return {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": channel}


def _request(ws: websocket.WebSocket, msg: dict, timeout_s: float) -> tuple[dict, list[dict]]:
    """Send ``msg``; return its shell reply and the iopub messages it caused, up to the kernel's idle."""
    ws.send(json.dumps(msg))
    msg_id, reply, iopub, idle = msg["header"]["msg_id"], None, [], False
    deadline = time.monotonic() + timeout_s
    while reply is None or not idle:
        if time.monotonic() > deadline:
            raise AssertionError(f"no reply to {msg['header']['msg_type']} within {timeout_s} s")
        ws.settimeout(max(1.0, deadline - time.monotonic()))
        answer = json.loads(ws.recv())
        if answer.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if answer["channel"] == "shell":
            reply = answer
        elif answer["channel"] == "iopub":
            iopub.append(answer)
            idle |= answer["msg_type"] == "status" and answer["content"]["execution_state"] == "idle"
    return reply, iopub


@pytest.mark.integration
def test_lab_started_as_root_serves_the_runbooks_and_runs_one_in_the_opskit_kernel(lab_server):
    # the contents API lists the runbooks folder
    listing = lab_server.api("GET", "/api/contents", params={"content": 1})
    assert listing.status_code == 200, listing.text
    names = sorted(item["name"] for item in listing.json()["content"] if item["type"] == "notebook")
    assert names == sorted(p.name for p in (ROOT / "runbooks").glob("*.ipynb"))

    # the opskit kernel is offered, named after this environment
    specs = lab_server.api("GET", "/api/kernelspecs").json()["kernelspecs"]
    assert specs["opskit"]["spec"]["display_name"] == f"opskit ({sys.prefix})"

    # start it through the REST API, as JupyterLab does when it opens a runbook
    started = lab_server.api("POST", "/api/kernels", json={"name": "opskit", "path": ""})
    assert started.status_code == 201, started.text
    kernel_id = started.json()["id"]
    notebook = lab_server.api("GET", f"/api/contents/{RUNBOOK}", params={"content": 1}).json()["content"]
    ws_url = lab_server.url.replace("http://", "ws://") + f"/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {lab_server.token}"], timeout=30)
    session = uuid.uuid4().hex
    try:
        info, _ = _request(ws, _message("kernel_info_request", {}, session), 60)
        assert info["content"]["status"] == "ok"
        probe_code = "import sys, opskit; print(sys.executable)"
        probe = _message("execute_request", {"code": probe_code, "silent": False}, session)
        _, outputs = _request(ws, probe, 60)
        printed = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        assert printed.strip() == sys.executable  # this environment's Python, which imports opskit

        displayed: list[dict] = []
        for cell in (c for c in notebook["cells"] if c["cell_type"] == "code"):
            code = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            request = _message("execute_request", {"code": code, "silent": False, "stop_on_error": True}, session)
            reply, outputs = _request(ws, request, CELL_TIMEOUT_S)
            errors = [m["content"] for m in outputs if m["msg_type"] == "error"]
            assert reply["content"]["status"] == "ok", (code[:200], errors)
            displayed += [m["content"]["data"] for m in outputs if m["msg_type"] in ("execute_result", "display_data")]
    finally:
        ws.close()
        lab_server.api("DELETE", f"/api/kernels/{kernel_id}")

    # the verdict table: the planted root cause (CUDA OOM on rank 3) on top
    verdict = next(d for d in displayed if "cuda_oom" in d.get("text/html", "") + d.get("text/plain", ""))
    text = verdict.get("text/html", "") + verdict.get("text/plain", "")
    assert "FAIL" in text and "rank 3" in text
    (summary,) = [d[SUMMARY_MIMETYPE] for d in displayed if SUMMARY_MIMETYPE in d]
    assert summary["status"] == "FAIL"
    assert summary["checks"][0]["name"] == "cuda_oom" and summary["checks"][0]["subject"] == "rank 3"
    assert lab_server.api("GET", "/api/kernels").json() == []


@pytest.mark.integration
def test_lab_stops_on_sigterm(lab_server):
    # last in this module: a container stop (SIGTERM to scripts/lab) stops the server with it
    assert lab_server.api("GET", "/api/status").status_code == 200
    lab_server.process.send_signal(signal.SIGTERM)
    assert lab_server.process.wait(timeout=30) in (0, 143)
    with pytest.raises(httpx.TransportError):
        httpx.get(lab_server.url + "/api/status", timeout=5)
