"""From a synthetic GPU metric crossing 85 % to a chat message with the verdict and the report link.

Real components on 127.0.0.1: an exporter thread serving dcgm-exporter text, Prometheus scraping it and
evaluating the exported rules, Alertmanager posting the webhook to ``opskit serve`` (uvicorn in a thread),
which runs report_gpu_cost on its sample data and posts to a local HTTP server standing in for Slack.
Short ``for:``, scrape, evaluation and group intervals keep it well under a minute plus the run itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from opskit.monitoring.dashboards import build_dashboards, panel_queries
from opskit.monitoring.rules import load_settings, write_rules

pytestmark = pytest.mark.integration
TOKEN = "integration-token-0123456789"


def _binary(*names: str) -> str:
    for name in names:
        if shutil.which(name):
            return shutil.which(name)
    message = f"{names[0]!r} is not installed (./scripts/ensure-prometheus, ./scripts/ensure-alertmanager)"
    if os.environ.get("OPSKIT_SKIP_INTEGRATION") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(handler_cls) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_gpu_hot_metric_to_chat_verdict(tmp_path):
    prometheus = _binary("prometheus")
    alertmanager = _binary("prometheus-alertmanager", "alertmanager")
    import uvicorn

    from opskit.monitoring.serve import create_app, load_config

    util = {"value": 40.0}
    chat: list[dict] = []

    class Exporter(BaseHTTPRequestHandler):
        def do_GET(self):
            body = (
                "# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
                f'DCGM_FI_DEV_GPU_UTIL{{gpu="0",Hostname="node1",modelName="NVIDIA H100"}} {util["value"]}\n'
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self):
            chat.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    exporter, chat_srv = _server(Exporter), _server(Chat)
    serve_port, prom_port, am_port = _port(), _port(), _port()
    base = f"http://127.0.0.1:{serve_port}"
    (tmp_path / "serve.yaml").write_text(
        yaml.safe_dump(
            {
                "token": TOKEN,
                "base_url": base,
                "reports_dir": "reports",
                "chat": [{"kind": "slack", "url": f"http://127.0.0.1:{chat_srv.server_port}/hook"}],
                "routes": [
                    {"alert": "OpskitGpuHot", "runbook": "report_gpu_cost", "params": {"samples": "sample:fleet_week"}}
                ],
            }
        )
    )
    rules = write_rules(tmp_path, load_settings(hot_for="3s", rule_interval="1s"))
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(rules)],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {"job_name": "dcgm", "static_configs": [{"targets": [f"127.0.0.1:{exporter.server_port}"]}]}
                ],
            }
        )
    )
    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {"receiver": "opskit", "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
                "receivers": [
                    {
                        "name": "opskit",
                        "webhook_configs": [
                            {
                                "url": f"{base}/alerts",
                                "http_config": {
                                    "authorization": {"type": "Bearer", "credentials_file": str(tmp_path / "token")}
                                },
                            }
                        ],
                    }
                ],
            }
        )
    )
    app = create_app(load_config(tmp_path / "serve.yaml"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=serve_port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("prometheus", "alertmanager")]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [
                alertmanager,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        prom = f"http://127.0.0.1:{prom_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{prom}/api/v1/query?query=DCGM_FI_DEV_GPU_UTIL")["data"]["result"]:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()[-2000:]
            time.sleep(0.5)
        # every dashboard query is valid PromQL for the real server
        for board in build_dashboards().values():
            for q in panel_queries(board):
                assert _get(f"{prom}/api/v1/query?query={urllib.parse.quote(q)}")["status"] == "success", q
        time.sleep(3)
        assert not chat, "no alert while the GPU is at 40 %"
        util["value"] = 92.0
        crossed = time.monotonic()
        while not chat:
            assert time.monotonic() - crossed < 240, (tmp_path / "alertmanager.log").read_text()[-2000:]
            time.sleep(0.5)
        elapsed = time.monotonic() - crossed
        print(f"metric crossing 85 % -> chat message: {elapsed:.1f} s")
        message = chat[0]["text"]
        assert message.startswith("OpskitGpuHot -> report_gpu_cost: ")
        verdict = message.splitlines()[1].removeprefix("verdict: ")
        link = message.splitlines()[-1].removeprefix("report: ")
        assert link.startswith(f"{base}/reports/report_gpu_cost/")
        with urllib.request.urlopen(link, timeout=5) as r:
            assert r.status == 200
        [report] = (tmp_path / "reports" / "report_gpu_cost").iterdir()
        summary = json.loads((report / "summary.json").read_text())
        assert verdict == summary["status"] and summary["parameters"]["samples"] == "sample:fleet_week"
        time.sleep(3)  # Alertmanager re-sends while firing; still one run
        assert len(list((tmp_path / "reports" / "report_gpu_cost").iterdir())) == 1
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        for f in logs:
            f.close()
        server.should_exit = True
        exporter.shutdown()
        chat_srv.shutdown()
