"""A summary.json becomes the documented series, written atomically for the textfile collector."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from opskit.errors import InputError
from opskit.monitoring.metrics import publish_summary_metrics, read_summary

SUMMARY = {
    "runbook": "analyze_drift",
    "status": "FAIL",
    "finished_at": "2026-11-28T10:00:03Z",
    "parameters": {"reference": "sample:x"},
    "checks": [
        {"name": "feature drift", "subject": "income", "status": "FAIL", "observed": 0.41, "unit": "PSI"},
        {"name": "feature drift", "subject": "age", "status": "PASS", "observed": 0.03, "unit": "PSI"},
        {"name": "accuracy change", "subject": "all", "status": "WARN", "observed": -0.061},
        {"name": "schema", "subject": None, "status": "SKIP", "observed": None},
    ],
    "figures": {"features_in_drift": 1, "label": "not a number", "flag": True, "nan": float("nan")},
}


def _samples(path):
    out = {}
    for fam in text_string_to_metric_families(path.read_text()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_summary_series_in_the_textfile(tmp_path):
    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "summary.json").write_text(json.dumps(SUMMARY))
    [where] = publish_summary_metrics(read_summary(tmp_path / "rep"), textfile=tmp_path / "collector")
    assert where.endswith("opskit_analyze_drift.prom")
    got = _samples(tmp_path / "collector" / "opskit_analyze_drift.prom")
    rb = ("runbook", "analyze_drift")
    assert got[("opskit_run_status", (rb,))] == 3
    assert got[("opskit_check_status", (("check", "feature drift"), rb, ("subject", "income")))] == 3
    assert got[("opskit_check_status", (("check", "schema"), rb, ("subject", "")))] == 0
    assert got[("opskit_drift_psi", (("feature", "income"), ("model_version", ""), rb))] == 0.41
    assert got[("opskit_accuracy_change", (("model_version", ""), rb))] == pytest.approx(-0.061)
    assert got[("opskit_figure", (("name", "features_in_drift"), rb))] == 1
    assert not any(k[0] == "opskit_figure" and ("name", "label") in k[1] for k in got)
    assert not any(k[0] == "opskit_figure" and ("name", "flag") in k[1] for k in got)
    assert got[("opskit_run_finished_timestamp_seconds", (rb,))] == 1795860003.0
    assert not list((tmp_path / "collector").glob("*.tmp*")), "no temporary file left behind"


def test_bad_summaries_are_refused(tmp_path):
    with pytest.raises(InputError):
        read_summary(tmp_path)
    (tmp_path / "summary.json").write_text("{bad")
    with pytest.raises(InputError) as e:
        read_summary(tmp_path)
    assert e.value.line == 1
    with pytest.raises(InputError):
        publish_summary_metrics(SUMMARY)


def test_pushgateway_receives_the_same_series(tmp_path):
    """A real HTTP server on 127.0.0.1 stands in for the Pushgateway and records what is PUT."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got = {}

    class H(BaseHTTPRequestHandler):
        def do_PUT(self):
            got["path"] = self.path
            got["body"] = self.rfile.read(int(self.headers["Content-Length"])).decode()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.handle_request, daemon=True).start()
    publish_summary_metrics(SUMMARY, pushgateway=f"http://127.0.0.1:{srv.server_port}")
    srv.server_close()
    assert got["path"] == "/metrics/job/opskit/runbook/analyze_drift"
    assert 'opskit_run_status{runbook="analyze_drift"} 3.0' in got["body"]
