"""The Prometheus reader against a small in-process HTTP server speaking the query_range API."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from opskit.errors import OpskitError
from opskit.sources.prometheus import (
    MAX_POINTS_PER_SERIES,
    PrometheusError,
    build_query,
    parse_duration,
    promql_duration,
    query_range,
    read_prometheus_gpus,
    split_range,
)

LABELS = {"gpu": "0", "UUID": "GPU-a", "Hostname": "n1", "modelName": "NVIDIA L4", "job": "dcgm-exporter"}


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers each query with one series per GPU: value = base + k for the k-th step."""

    requests: list[dict] = []  # noqa: RUF012
    mode = "ok"

    def log_message(self, *args):
        pass

    def _send(self, code, payload):
        body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        params = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        type(self).requests.append(params)
        start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
        n = round((end - start) / step) + 1
        if n > MAX_POINTS_PER_SERIES + 1:
            return self._send(400, {"status": "error", "errorType": "bad_data", "error": "exceeded maximum resolution"})
        if self.mode == "bad":
            return self._send(400, {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'})
        if self.mode.startswith("file:"):  # a real answer body, served as it is (HTTP 400 for an error answer)
            body = Path(self.mode[5:]).read_bytes()
            return self._send(400 if b'"error"' in body else 200, body)
        if self.mode == "scalar":
            return self._send(200, {"status": "success", "data": {"resultType": "scalar", "result": [start, "1"]}})
        if self.mode == "vector":  # a proxy answering as an instant query: one point per series
            result = [{"metric": {**LABELS, "gpu": g, "UUID": f"GPU-{g}"}, "value": [end, "42"]} for g in ("0", "1")]
            return self._send(200, {"status": "success", "data": {"resultType": "vector", "result": result}})
        if self.mode == "html":
            return self._send(200, b"<html>login</html>")
        if self.mode == "empty" or ("DCGM_FI_PROF" in params["query"]):
            return self._send(200, {"status": "success", "data": {"resultType": "matrix", "result": []}})
        base = {"GPU_UTIL": 50.0, "FB_USED": 1000.0, "FB_FREE": 22034.0, "POWER": 40.0}
        metric = next((v for k, v in base.items() if k in params["query"]), 0.0)
        counting = params["query"].startswith("count_over_time")
        if counting:
            metric = 240.0
        result = []
        if self.mode == "pod_change":  # GPU 0 changes pods in every window: 60 samples in pod a, 180 in b
            for pod, util, count in (("a", 20.0, 60.0), ("b", 60.0, 180.0)):
                value = count if counting else util
                values = [[start + k * step, str(value)] for k in range(n)]
                result.append({"metric": {**LABELS, "namespace": "ns", "pod": pod}, "values": values})
            return self._send(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})
        for gpu in ("0", "1"):
            values = [[start + k * step, str(metric if counting else metric + k + int(gpu))] for k in range(n)]
            result.append({"metric": {**LABELS, "gpu": gpu, "UUID": f"GPU-{gpu}"}, "values": values})
        return self._send(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})


@pytest.fixture
def server():
    FakePrometheus.requests = []
    FakePrometheus.mode = "ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_hourly_aggregates_one_row_per_gpu_per_window(server):
    df = read_prometheus_gpus(server, "2026-11-16", "2026-11-17", step="1h")
    assert len(df) == 2 * 24
    g0 = df[df["gpu"] == 0].reset_index(drop=True)
    assert g0["timestamp"].iloc[0] == pd.Timestamp("2026-11-16 00:00", tz="UTC")  # window start
    assert g0["timestamp"].iloc[-1] == pd.Timestamp("2026-11-16 23:00", tz="UTC")
    assert g0["util_pct"].tolist()[:3] == [50.0, 51.0, 52.0]
    assert g0["mem_total_mib"].iloc[0] == 1000.0 + 22034.0
    assert (df["window_s"] == 3600).all() and (df["samples"].iloc[0] == 240.0)
    assert g0["interval_s"].iloc[0] == 3600.0  # the fullest window defines the scrape interval
    assert "job" not in df.columns  # the scrape job is not a workload
    info = df.attrs["prometheus"]
    assert info.points == len(info.queries) * 2 * 24 - 2 * 2 * 24  # the two PROF metrics are empty here
    assert info.series == 2
    # metric queries run concurrently: find the utilization one rather than rely on arrival order
    first = next(r for r in FakePrometheus.requests if r["query"] == "avg_over_time(DCGM_FI_DEV_GPU_UTIL[1h])")
    assert float(first["start"]) == pd.Timestamp("2026-11-16 00:59:59.999", tz="UTC").timestamp()


def test_a_gpu_changing_pods_in_a_window_stays_one_row(server):
    FakePrometheus.mode = "pod_change"
    df = read_prometheus_gpus(server, "2026-11-16", "2026-11-16T03:00", step="1h", scrape_interval="15s")
    assert len(df) == 3 and not df.duplicated(["host", "gpu", "timestamp"]).any()
    row = df.iloc[0]
    assert row["util_pct"] == pytest.approx((20 * 60 + 60 * 180) / 240)  # weighted by samples
    assert row["samples"] == 240 and row["interval_s"] == 3600.0
    assert row["pod"] == "b"  # the pod that held the GPU longest


def test_long_ranges_are_split_under_the_points_limit(server):
    result = query_range(server, "DCGM_FI_DEV_GPU_UTIL", "2026-11-16", "2026-11-23", "15s")
    n = 7 * 86400 // 15 + 1
    assert result.requests == -(-n // MAX_POINTS_PER_SERIES)
    assert result.points == 2 * n
    _labels, ts, _values = result.series[0]
    assert len(ts) == n and (pd.Series(ts).diff().dropna() == 15).all()  # chunks join without gaps or overlaps


def test_selector_goes_into_the_query(server):
    read_prometheus_gpus(server, "2026-11-16", "2026-11-16T02:00", step="5m", selector='cluster="a"')
    queries = [r["query"] for r in FakePrometheus.requests]
    assert 'avg_over_time(DCGM_FI_DEV_GPU_UTIL{cluster="a"}[5m])' in queries
    assert all('{cluster="a"}' in q for q in queries)


def test_bad_query_carries_the_server_error(server):
    FakePrometheus.mode = "bad"
    with pytest.raises(PrometheusError) as err:
        query_range(server, "rate(x[5m]", "2026-11-16", "2026-11-17", "1h")
    assert err.value.kind == "bad_query" and err.value.status_code == 400
    assert err.value.server_error == 'parse error: unexpected "}"'
    assert err.value.query == "rate(x[5m]"


def test_empty_result(server):
    FakePrometheus.mode = "empty"
    with pytest.raises(PrometheusError) as err:
        read_prometheus_gpus(server, "2026-11-16", "2026-11-17")
    assert err.value.kind == "empty" and err.value.hint


def test_not_prometheus(server):
    FakePrometheus.mode = "html"
    with pytest.raises(PrometheusError) as err:
        query_range(server, "up", "2026-11-16", "2026-11-17", "1h")
    assert err.value.kind == "server"


def test_unreachable_server():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PrometheusError) as err:
        query_range(f"http://127.0.0.1:{port}", "up", "2026-11-16", "2026-11-17", "1h", timeout=5)
    assert err.value.kind == "unreachable" and "/-/ready" in err.value.hint


def test_range_shorter_than_a_step():
    with pytest.raises(OpskitError):
        read_prometheus_gpus("http://127.0.0.1:9", "2026-11-16T00:00", "2026-11-16T00:30", step="1h")


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("5m", 300), ("1h30m", 5400), ("15s", 15), (60, 60)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_durations_and_queries():
    assert promql_duration(3600) == "1h" and promql_duration(300) == "5m" and promql_duration(0.5) == "500ms"
    assert build_query("M", 300, aggregation="max") == "max_over_time(M[5m])"
    assert build_query("M", 300, aggregation="count", selector='a="b"') == 'count_over_time(M{a="b"}[5m])'
    with pytest.raises(OpskitError, match="unknown aggregation"):
        build_query("M", 300, aggregation="median")
    with pytest.raises(OpskitError):
        parse_duration("soon")


def test_split_range_covers_every_step_once():
    chunks = split_range(0, 25 * 10, 10, max_points=10)
    assert chunks == [(0, 90), (100, 190), (200, 250)]


def test_vector_answer_is_read_one_point_per_series(server):
    FakePrometheus.mode = "vector"
    result = query_range(server, "DCGM_FI_DEV_GPU_UTIL", "2026-11-23T00:00:00Z", "2026-11-23T02:00:00Z", "1h")
    assert len(result.series) == 2 and result.points == 2
    assert [float(values[0]) for _, _, values in result.series] == [42.0, 42.0]


def test_scalar_answer_names_its_type(server):
    FakePrometheus.mode = "scalar"
    with pytest.raises(PrometheusError) as info:
        query_range(server, "1", "2026-11-23T00:00:00Z", "2026-11-23T02:00:00Z", "1h")
    assert info.value.kind == "bad_query" and "'scalar'" in info.value.message


REAL = Path(__file__).parents[2] / "fixtures" / "real" / "prometheus"


def test_real_matrix_answer_two_series_three_points(server):
    FakePrometheus.mode = f"file:{REAL / 'matrix_up_docs.json'}"
    result = query_range(server, "up", "2015-07-01T20:10:30Z", "2015-07-01T20:11:00Z", "15s")
    assert result.points == 6
    by_job = {labels["job"]: values.tolist() for labels, _, values in result.series}
    assert by_job == {"prometheus": [1.0, 1.0, 1.0], "node": [0.0, 0.0, 1.0]}


def test_real_vector_answer_is_one_point(server):
    FakePrometheus.mode = f"file:{REAL / 'vector_instant_query.json'}"
    result = query_range(server, "x", "2023-03-20T12:00:00Z", "2023-03-20T12:10:00Z", "5m")
    ((labels, stamps, values),) = result.series
    assert labels["pod"] == "ziox-compactor-64bf64586f-vq4x8" and stamps.tolist() == [1679314115.0]
    assert values.tolist() == [22.0]


def test_real_error_answer_carries_the_server_text(server):
    FakePrometheus.mode = f"file:{REAL / 'error_matrix_for_instant_query.json'}"
    with pytest.raises(PrometheusError) as info:
        query_range(server, "up[1m]", "2015-06-25T10:00:00Z", "2015-06-25T10:10:00Z", "1m")
    assert info.value.kind == "bad_query" and 'invalid expression type "matrix"' in info.value.server_error


def test_vector_answers_through_the_gpu_reader_give_no_traceback(server):
    FakePrometheus.mode = "vector"
    frame = read_prometheus_gpus(server, "2026-11-23T00:00:00Z", "2026-11-23T02:00:00Z", step="1h")
    assert sorted(frame["gpu"]) == [0, 1] and set(frame["util_pct"]) == {42.0}  # one point per series
