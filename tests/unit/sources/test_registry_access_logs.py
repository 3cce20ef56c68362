"""Registry access logs: combined (nginx/gunicorn), Envoy and JSON lines; actions, models, malformed lines."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from opskit.errors import InputError
from opskit.sources.registry_access_logs import classify, read_registry_access_log

COMBINED = (
    '10.0.0.7 - alice@example.com [03/Nov/2026:14:02:11 +0100] "GET /api/2.0/mlflow/model-versions/'
    'get-download-uri?name=fraud-detector&version=3 HTTP/1.1" 200 412 "-" "mlflow-python-client/2.17.0"'
)
ENVOY = (
    '[2026-11-03T13:02:11.120Z] "GET /api/2.0/mlflow/registered-models/get?name=churn-model HTTP/1.1" 403 - 0 64 3 2 '
    '"10.0.0.9" "curl/8.5.0" "9b1c7e9e-6d0f-4b5c-9a5e-1f0c8f7f1f1a" "mlflow.internal" "10.1.0.4:5000"'
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/2.0/mlflow/model-versions/get-download-uri?name=m1&version=2", ("download", "m1")),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl", ("download", None)),
        ("GET", "/api/2.0/mlflow/registered-models/alias?name=m1&alias=champion", ("read", "m1")),
        ("POST", "/api/2.0/mlflow/registered-models/alias", ("write", None)),
        ("DELETE", "/api/2.0/mlflow/model-versions/delete?name=m%20x&version=1", ("delete", "m x")),
        ("GET", "/v1/models/fraud-detector/versions/3", ("read", "fraud-detector")),
        ("POST", "/ajax-api/2.0/mlflow/registered-models/search", ("read", None)),
        ("GET", "/api/2.0/mlflow/model-versions/search?filter=name%3D%27churn%27", ("read", "churn")),
    ],
)
def test_classify(method, path, expected):
    assert classify(method, path) == expected


def test_combined_rows_are_utc_with_principal_action_and_model(tmp_path):
    log = tmp_path / "access.log"
    log.write_text(COMBINED + "\n" + COMBINED.replace("alice@example.com", "-") + "\n")
    read = read_registry_access_log(log)
    assert read.fmt == "combined" and read.malformed == ()
    first = read.frame.loc[1]
    assert first["timestamp"] == pd.Timestamp("2026-11-03T13:02:11Z")
    assert (first["principal"], first["action"], first["model"], first["status"], first["bytes"]) == (
        "alice@example.com",
        "download",
        "fraud-detector",
        200,
        412,
    )
    assert pd.isna(read.frame.loc[2, "principal"])


def test_envoy_default_format_has_no_principal(tmp_path):
    log = tmp_path / "envoy.log"
    log.write_text(ENVOY + "\n")
    read = read_registry_access_log(log)
    assert read.fmt == "envoy"
    row = read.frame.iloc[0]
    assert (row["status"], row["bytes"], row["model"]) == (403, 64, "churn-model")
    assert pd.isna(row["principal"])


def test_json_lines_with_common_keys(tmp_path):
    log = tmp_path / "access.jsonl"
    records = [
        {
            "time": "2026-11-03T09:00:00+01:00",
            "user": "ci-bot",
            "method": "post",
            "uri": "/api/2.0/mlflow/model-versions/create",
            "status": 200,
            "bytes_sent": 90,
        },
        {
            "timestamp": "2026-11-03T08:01:00Z",
            "principal": "bob",
            "path": "/api/2.0/mlflow/registered-models/get?name=a",
            "status": 404,
        },
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    frame = read_registry_access_log(log).frame
    assert list(frame["action"]) == ["write", "read"]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2026-11-03T08:00:00Z")
    assert list(frame["bytes"]) == [90, 0]


def test_malformed_lines_are_counted_by_number_and_the_rest_read(tmp_path):
    log = tmp_path / "access.log"
    bad_time = COMBINED.replace("03/Nov/2026:14:02:11", "03/Nov/2026:99:02:11")
    log.write_text("\n".join([COMBINED, "garbage line", "", bad_time, COMBINED]) + "\n")
    read = read_registry_access_log(log)
    assert [n for n, _ in read.malformed] == [2, 4]
    assert list(read.frame.index) == [1, 5]


def test_mixed_formats_are_refused_naming_log_format(tmp_path):
    log = tmp_path / "mixed.log"
    log.write_text(COMBINED + "\n" + ENVOY + "\n")
    with pytest.raises(InputError, match="several access-log formats") as info:
        read_registry_access_log(log)
    assert "log_format" in str(info.value)
    read = read_registry_access_log(log, "envoy")  # the parameter settles it; the other line is malformed
    assert [n for n, _ in read.malformed] == [1]


def test_uvicorn_log_is_refused_with_what_to_audit_instead(tmp_path):
    log = tmp_path / "server.log"
    log.write_text('INFO:     127.0.0.1:51234 - "GET /api/2.0/mlflow/registered-models/get?name=a HTTP/1.1" 200 OK\n')
    with pytest.raises(InputError, match="no time and no user") as info:
        read_registry_access_log(log)
    assert "nginx" in str(info.value)


def test_no_readable_line_and_missing_file_are_input_errors(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("hello\nworld\n")
    with pytest.raises(InputError, match=r"x\.log"):
        read_registry_access_log(log)
    with pytest.raises(InputError, match="no such file"):
        read_registry_access_log(tmp_path / "missing.log")
    with pytest.raises(InputError, match="unknown log_format"):
        read_registry_access_log(log, "apache")


REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real" / "access_logs"


def test_real_envoy_and_nginx_lines():
    """Istio/Envoy and ingress-nginx lines from public sources; values checked by hand against the text."""
    teapot = read_registry_access_log(REAL / "istio_teapot_418.log")
    assert teapot.fmt == "envoy" and teapot.malformed == ()
    row = teapot.frame.iloc[0]  # "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4
    assert (row["status"], row["bytes"], row["path"]) == (418, 135, "/status/418")
    assert row["timestamp"] == pd.Timestamp("2020-11-25T21:26:18.409Z")
    mixed = read_registry_access_log(REAL / "ingress_nginx_kubectl_mixed.log")
    assert mixed.fmt == "combined" and [n for n, _ in mixed.malformed] == [1, 2, 3, 4]  # the klog lines
    assert len(mixed.frame) == 4 and mixed.frame["principal"].isna().all()


@pytest.mark.integration
def test_a_real_gunicorn_access_log_names_the_basic_auth_user(tmp_path):
    """gunicorn (the server behind ``mlflow server``) with its default access format, fed by real requests."""
    httpx = pytest.importorskip("httpx")
    app = tmp_path / "registry_app.py"
    app.write_text(
        "def app(environ, start_response):\n"
        "    code = '403 Forbidden' if 'delete' in environ['PATH_INFO'] else '200 OK'\n"
        "    start_response(code, [('Content-Type', 'application/json'), ('Content-Length', '2')])\n"
        "    return [b'{}']\n"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--chdir", str(tmp_path), "-b", f"127.0.0.1:{port}", "-w", "1",
         "--access-logfile", str(log), "registry_app:app"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = ("alice@example.com", "secret")
        httpx.get(f"{base}/model-versions/get-download-uri?name=fraud-detector&version=3", auth=auth, timeout=5)
        httpx.post(f"{base}/model-versions/delete?name=fraud-detector&version=1", auth=auth, timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=10)
    read = read_registry_access_log(log)
    assert read.fmt == "combined" and read.malformed == ()
    rows = read.frame[read.frame["principal"].notna()]
    assert list(rows["principal"]) == ["alice@example.com", "alice@example.com"]
    assert list(zip(rows["action"], rows["model"], rows["status"], strict=True)) == [
        ("download", "fraud-detector", 200), ("delete", "fraud-detector", 403)]  # fmt: skip
    assert (rows["bytes"] == 2).all()
