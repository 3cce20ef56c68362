"""A real Prometheus server (Debian's ``prometheus`` package), backfilled with the sample fleet week.

The server listens on 127.0.0.1 on a free port for the test session and is stopped at the end. When
the ``prometheus`` or ``promtool`` binary is missing, tests that need it FAIL (``.ci/run`` installs
the package) unless ``OPSKIT_SKIP_INTEGRATION=1`` is set, which skips them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opskit.samples import resolve

READY_TIMEOUT_S = 60


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    data_dir: Path
    source: Path  # the OpenMetrics file it was backfilled from


def require_binary(name: str) -> str:
    """The path of ``name``; fails (or skips with OPSKIT_SKIP_INTEGRATION=1) when it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    message = (
        f"{name!r} is not installed: the integration tests need a real Prometheus "
        "(.ci/run installs it: apt-get install -y prometheus); set OPSKIT_SKIP_INTEGRATION=1 to skip them"
    )
    if os.environ.get("OPSKIT_SKIP_INTEGRATION") == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backfill(promtool: str, openmetrics: Path, data_dir: Path) -> None:
    """``promtool tsdb create-blocks-from openmetrics --max-block-duration=24h FILE DIR``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h", str(openmetrics)]
    proc = subprocess.run([*cmd, str(data_dir)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"promtool backfill failed ({proc.returncode}): {proc.stderr[-2000:]}", pytrace=False)


def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}: {log.read_text()[-2000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"prometheus not ready after {READY_TIMEOUT_S} s: {log.read_text()[-2000:]}", pytrace=False)


def start_prometheus(data_dir: Path, workdir: Path, extra_config: str = "") -> tuple[subprocess.Popen, str, Path]:
    """Start a server over ``data_dir`` (``extra_config``: YAML appended, e.g. a remote_read section);
    returns (process, base URL, log file)."""
    binary = require_binary("prometheus")
    config = workdir / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n" + extra_config)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "prometheus.log"
    cmd = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=workdir)
    wait_ready(url, proc, log)
    return proc, url, log


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A running Prometheus holding the sample fleet's week 2026-W48 (dcgm-exporter metrics)."""
    require_binary("prometheus")
    promtool = require_binary("promtool")
    source = resolve("sample:fleet_week_openmetrics")
    workdir = tmp_path_factory.mktemp("prometheus")
    data_dir = workdir / "data"
    backfill(promtool, source, data_dir)
    proc, url, _ = start_prometheus(data_dir, workdir)
    try:
        yield PrometheusServer(url=url, data_dir=data_dir, source=source)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def start_another_prometheus() -> Iterator:
    """``start(data_dir, workdir, extra_config="") -> url``: one more server, stopped at the end of the session."""
    started = []

    def start(data_dir: Path, workdir: Path, extra_config: str = "") -> str:
        proc, url, _ = start_prometheus(data_dir, workdir, extra_config)
        started.append(proc)
        return url

    yield start
    for proc in started:
        stop(proc)
