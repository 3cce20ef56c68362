"""The receiver's gate: token, payload shape and size, label injection, one run per firing alert, restarts."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from opskit.errors import InputError
from opskit.monitoring.serve import Alert, create_app, load_config

TOKEN = "t0ken-for-tests-0123456789"
CONFIG = f"""\
token: {TOKEN}
reports_dir: reports
state_file: state/state.json
queue_size: 2
max_body_bytes: 4096
allowed_roots: [logs]
routes:
  - alert: OpskitGpuXid
    runbook: triage_job
    params: {{log_path: "logs/{{Hostname}}/train.log"}}
    paths: [log_path]
  - alert: OpskitGpuHot
    runbook: report_gpu_cost
    params: {{samples: "sample:fleet_week"}}
"""
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _hook(*alerts):
    return {"version": "4", "status": "firing", "alerts": list(alerts)}


def _alert(name="OpskitGpuHot", fp="aa01", status="firing", **labels):
    return {"status": status, "labels": {"alertname": name, **labels}, "fingerprint": fp}


@pytest.fixture
def cfg_path(tmp_path, monkeypatch):
    monkeypatch.delenv("OPSKIT_SERVE_TOKEN", raising=False)
    (tmp_path / "logs" / "node1").mkdir(parents=True)
    (tmp_path / "serve.yaml").write_text(CONFIG)
    return tmp_path / "serve.yaml"


@pytest.fixture
def client(cfg_path):
    app = create_app(load_config(cfg_path), start_worker=False)
    with TestClient(app) as c:
        c.rx = app.state.receiver
        yield c


def test_no_or_wrong_token_is_401(client):
    assert client.post("/alerts", json=_hook(_alert())).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.post("/alerts", json=_hook(_alert()), headers=wrong).status_code == 401
    assert client.rx.runs.state == {}


def test_malformed_payload_is_400_with_reason(client):
    r = client.post("/alerts", content=b"{not json", headers=AUTH)
    assert r.status_code == 400
    r = client.post("/alerts", json={"status": "firing", "alerts": [{"labels": {"a": 1}}]}, headers=AUTH)
    assert r.status_code == 400 and "alerts.0" in r.json()["error"]


def test_oversized_payload_is_413(client):
    big = _hook(_alert(summary="x" * 5000))
    assert client.post("/alerts", json=big, headers=AUTH).status_code == 413
    assert client.rx.runs.state == {}


def test_same_alert_twice_gives_one_run(client):
    for _ in range(2):
        r = client.post("/alerts", json=_hook(_alert()), headers=AUTH)
        assert r.status_code == 200
    assert r.json()["outcomes"] == ["duplicate"]
    assert client.rx.runs.q.qsize() == 1
    assert client.rx.runs.state["aa01"]["params"] == {"samples": "sample:fleet_week"}


def test_label_injection_is_refused_and_nothing_queued(client):
    alert = _alert("OpskitGpuXid", "bb02", Hostname="../../../etc")
    r = client.post("/alerts", json=_hook(alert), headers=AUTH)
    assert r.json()["outcomes"] == ["refused"]
    assert client.rx.runs.q.qsize() == 0
    assert client.rx.runs.state["bb02"]["status"] == "refused"


def test_full_queue_answers_503_so_alertmanager_retries(client):
    alerts = [_alert(fp=f"f{i}") for i in range(3)]
    r = client.post("/alerts", json=_hook(*alerts), headers=AUTH)
    assert r.status_code == 503 and r.json()["outcomes"] == ["queued", "queued", "full"]
    assert "f2" not in client.rx.runs.state  # not recorded: its retry is taken as new


def test_restart_requeues_pending_and_skips_done(cfg_path):
    app = create_app(load_config(cfg_path), start_worker=False)
    with TestClient(app) as c:
        c.post("/alerts", json=_hook(_alert(fp="p1"), _alert(fp="p2")), headers=AUTH)
    state_file = cfg_path.parent / "state" / "state.json"
    state = json.loads(state_file.read_text())
    state["p2"]["status"] = "done"
    state_file.write_text(json.dumps(state))
    rx = create_app(load_config(cfg_path), start_worker=False).state.receiver
    assert rx.runs.q.qsize() == 1 and rx.runs.q.get_nowait() == "p1"
    assert rx.take(Alert.model_validate(_alert(fp="p2"))) == "duplicate"  # finished while still firing: not repeated
    assert rx.take(Alert.model_validate(_alert(fp="p2", status="resolved"))) == "resolved"
    assert rx.take(Alert.model_validate(_alert(fp="p2"))) == "queued"  # fires again after resolving: runs again


def test_healthz_metrics_and_reports_read_only(client, cfg_path):
    (cfg_path.parent / "reports" / "index.html").write_text("<h1>runs</h1>")
    assert client.get("/healthz").json()["status"] == "ok"
    client.post("/alerts", json=_hook(_alert()), headers=AUTH)
    assert 'opskit_serve_alerts_total{outcome="queued"} 1.0' in client.get("/metrics").text
    assert client.get("/reports/").text == "<h1>runs</h1>"
    assert client.put("/reports/index.html", content=b"x").status_code == 405
    assert client.get("/reports/../serve.yaml").status_code == 404


def test_short_token_is_refused_at_start(cfg_path):
    cfg_path.write_text(CONFIG.replace(TOKEN, "short"))
    with pytest.raises(InputError):
        load_config(cfg_path)


def test_refused_alert_is_an_error_event_in_the_incident(cfg_path):
    from opskit.incidents.folder import new_incident

    new_incident(cfg_path.parent / "incidents", "INC-7")
    cfg_path.write_text(CONFIG + "incident_root: incidents\nincident_id: INC-7\n")
    rx = create_app(load_config(cfg_path), start_worker=False).state.receiver
    assert rx.take(Alert.model_validate(_alert("OpskitGpuXid", "cc03", Hostname="../../x"))) == "refused"
    events = (cfg_path.parent / "incidents").rglob("events.jsonl")
    [line] = [json.loads(x) for f in events for x in f.read_text().splitlines()]
    assert line["kind"] == "alert" and "refused" in line["summary"]
