"""Shared test set-up: sample data is generated once per session into a temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def pytest_configure(config):
    # Before any test imports opskit.samples: generated samples go to a per-session folder.
    if "OPSKIT_SAMPLES_DIR" not in os.environ:
        import tempfile

        os.environ["OPSKIT_SAMPLES_DIR"] = tempfile.mkdtemp(prefix="opskit-samples-")
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def runbook_fixture() -> callable:
    """Path of a fixture notebook in tests/fixtures/runbooks by behaviour name."""
    return lambda name: FIXTURES / "runbooks" / f"{name}.ipynb"


@pytest.fixture
def answering_server():
    """``start(body, status=200) -> url``: a local HTTP server answering every POST (a Prometheus query) with
    ``body``, recorded from a real server; stopped after the test."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    servers = []

    def start(body: bytes, status: int = 200) -> str:
        class Answer(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
